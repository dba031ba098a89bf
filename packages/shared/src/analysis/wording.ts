import type { Evaluation } from './evaluation';
import { PERCENTILE_METRICS, type Metric } from './policy-types';

/**
 * The words of the analysis: values, reasons and rule details. `subject` names the judged side,
 * "canary", or the promoted color after a promotion.
 */

/** 0.213 → "21.3%", 0.01 → "1%", 2000 → "2000 ms". */
export function formatValue(metric: Metric | string, value: number | null): string {
  if (value === null || !Number.isFinite(value)) return 'n/a';
  if (metric === 'error_rate' || metric === 'memory_ratio') return `${Number((value * 100).toPrecision(3))}%`;
  if (metric in PERCENTILE_METRICS) return `${Math.round(value)} ms`;
  if (metric === 'health_failures_in_row') return String(Math.round(value));
  return String(Number(value.toPrecision(3)));
}

/** What kind of data a metric needs: "no request data", "no latency data". */
export function metricNoun(metric: Metric): string {
  if (metric === 'error_rate') return 'request';
  if (metric in PERCENTILE_METRICS) return 'latency';
  if (metric === 'health_failures_in_row') return 'health-check';
  if (metric === 'memory_ratio') return 'memory';
  if (metric === 'drift_score') return 'model drift';
  return metric;
}

/** A count to one decimal (counts inside a histogram bucket may be fractional). */
export function countText(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** Seconds to one decimal. */
export function secondsText(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** The bound in force: "1%", or "120 ms (stable 100 ms + 20 ms)" when compared with stable. */
export function boundText(evaluation: Evaluation): string {
  const { rule, threshold, stable } = evaluation;
  const text = formatValue(rule.metric, threshold);
  if (rule.compare !== 'stable') return text;
  return `${text} (stable ${formatValue(rule.metric, stable.value)} ${rule.limit === 'max' ? '+' : '−'} ${formatValue(rule.metric, rule.margin)})`;
}

/** "canary 21.3% errors over 46 requests > 1% (sequential test, 14 s)", "canary memory 97% > 95% for 60 s". */
export function sentence(
  evaluation: Evaluation,
  subject: string,
  extra: { after?: string; notes?: string[] } = {},
): string {
  const notes = [...slowNote(evaluation), ...(extra.notes ?? [])];
  const comparison = evaluation.rule.limit === 'max' ? '>' : '<';
  const noted = notes.length > 0 ? ` (${notes.join('; ')})` : '';
  return `${observedText(evaluation, subject)} ${comparison} ${boundText(evaluation)}${extra.after ?? ''}${noted}`;
}

/** For a percentile limit: the share of requests slower than it, which is what the tests count. */
export function slowNote(evaluation: Evaluation): string[] {
  const { test, rule, threshold } = evaluation;
  if (!test || !(rule.metric in PERCENTILE_METRICS)) return [];
  return [
    `${formatValue('error_rate', test.failures / test.trials)} of requests took over ${Math.round(threshold ?? 0)} ms`,
  ];
}

/** "canary 21.3% errors over 46 requests", "canary P95 120 ms over the last 30 s (30 requests)". */
export function observedText(evaluation: Evaluation, subject: string): string {
  const { rule, canary } = evaluation;
  const recent =
    rule.kind === 'trigger' && evaluation.windowSeconds > 0
      ? `the last ${evaluation.windowSeconds} s (${canary.requests} requests)`
      : `${canary.requests} requests`;
  const value = formatValue(rule.metric, canary.value);
  if (rule.metric === 'error_rate') return `${subject} ${value} errors over ${recent}`;
  if (rule.metric === 'health_failures_in_row') return `${subject} ${value} health-check failures in a row`;
  if (rule.metric === 'memory_ratio') return `${subject} memory ${value}`;
  if (rule.metric === 'drift_score') return `${subject} model drift score ${value}`;
  if (rule.metric in PERCENTILE_METRICS)
    return `${subject} ${rule.metric.slice(0, -'_ms'.length).toUpperCase()} ${value} over ${recent}`;
  return `${subject} ${rule.metric.slice('gauge:'.length)} ${value}`;
}
