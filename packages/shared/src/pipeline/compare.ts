import { table } from '../action';
import { lookupMetric } from './metric-reports';
import type { MetricRule } from './metric-rules';

/**
 * A/B validation of a model: a candidate's metrics report against the current model's, one rule
 * per metric (metric-rules.ts), the reports read by metric-reports.ts. Pure.
 */

/**
 * `pass`; `fail` (a limit is exceeded, or a value is not a number); `missing` (a report lacks the
 * metric: a failure); `skipped` (lacks it, and fail-on-missing is false).
 */
export type MetricVerdict = 'pass' | 'fail' | 'missing' | 'skipped';

export interface MetricComparison {
  metric: string;
  baseline: number | null;
  candidate: number | null;
  /** candidate − baseline. */
  delta: number | null;
  /** delta in percent of |baseline|; null when the baseline is 0 or missing. */
  deltaPercent: number | null;
  /** The rule in words. */
  rule: string;
  verdict: MetricVerdict;
  /** Why it failed, was skipped, or passed with a caveat; '' for a plain pass. */
  detail: string;
}

export interface ComparisonResult {
  passed: boolean;
  metrics: MetricComparison[];
  /** The metrics whose verdict is fail or missing. */
  failing: MetricComparison[];
}

// ------------------------------------------------------------------------------------ comparison

/** Float noise (0.93 − 0.91 = 0.020000000000000018) must not decide a verdict at a limit. */
const round = (value: number): number => Number(value.toPrecision(12));

export function formatNumber(
  value: number | null,
  options: { sign?: boolean; suffix?: string; decimals?: number } = {},
): string {
  if (value === null) return '—';
  const digits = Number.isInteger(value)
    ? String(value)
    : options.decimals !== undefined
      ? String(Number(value.toFixed(options.decimals)))
      : String(Number(value.toPrecision(6)));
  return `${options.sign && value > 0 ? '+' : ''}${digits}${options.suffix ?? ''}`;
}

export function describeRule(rule: MetricRule): string {
  const worse = rule.direction === 'lower-is-better' ? 'rise' : 'drop';
  const parts: string[] = [];
  if (rule.maxRegression !== null) parts.push(`${worse} ≤ ${formatNumber(rule.maxRegression)}`);
  if (rule.maxRegressionPercent !== null) parts.push(`${worse} ≤ ${formatNumber(rule.maxRegressionPercent)}%`);
  if (rule.min !== null) parts.push(`≥ ${formatNumber(rule.min)}`);
  if (rule.max !== null) parts.push(`≤ ${formatNumber(rule.max)}`);
  const direction = rule.direction === null ? '' : `${rule.direction.replaceAll('-', ' ')}: `;
  return `${direction}${parts.join(', ')}`;
}

function compareOne(
  rule: MetricRule,
  candidateReport: unknown,
  baselineReport: unknown,
  failOnMissing: boolean,
): MetricComparison {
  const candidate = lookupMetric(candidateReport, rule.metric);
  const baseline = lookupMetric(baselineReport, rule.metric);
  const result: MetricComparison = {
    metric: rule.metric,
    baseline: baseline.kind === 'number' ? baseline.value : null,
    candidate: candidate.kind === 'number' ? candidate.value : null,
    delta: null,
    deltaPercent: null,
    rule: describeRule(rule),
    verdict: 'pass',
    detail: '',
  };
  const verdict = (value: MetricVerdict, reasons: string[]): MetricComparison => ({
    ...result,
    verdict: value,
    detail: reasons.join('; '),
  });

  // A value that is there but not a number means the evaluation broke: always a failure.
  const broken = [
    ...(candidate.kind === 'invalid' ? [`candidate is ${candidate.what}, not a number`] : []),
    ...(baseline.kind === 'invalid' ? [`baseline is ${baseline.what}, not a number`] : []),
  ];
  if (broken.length > 0) return verdict('fail', broken);
  if (candidate.kind !== 'number') {
    const where = baseline.kind === 'missing' ? 'in neither report' : 'not in the candidate report';
    return verdict(failOnMissing ? 'missing' : 'skipped', [where]);
  }

  const reasons: string[] = [];
  if (rule.min !== null && candidate.value < rule.min)
    reasons.push(`${formatNumber(candidate.value)} is below min ${formatNumber(rule.min)}`);
  if (rule.max !== null && candidate.value > rule.max)
    reasons.push(`${formatNumber(candidate.value)} is above max ${formatNumber(rule.max)}`);
  if (baseline.kind !== 'number') {
    if (failOnMissing) return verdict('missing', ['not in the baseline report', ...reasons]);
    if (reasons.length > 0) return verdict('fail', reasons);
    const bounded = rule.min !== null || rule.max !== null;
    return verdict(bounded ? 'pass' : 'skipped', [
      bounded ? 'no baseline: only min and max checked' : 'not in the baseline report',
    ]);
  }

  const delta = round(candidate.value - baseline.value);
  result.delta = delta;
  result.deltaPercent = baseline.value === 0 ? null : round((delta / Math.abs(baseline.value)) * 100);
  const worse = rule.direction === 'lower-is-better' ? 'rise' : 'drop';
  const regression = rule.direction === 'lower-is-better' ? delta : -delta;
  if (rule.maxRegression !== null && regression > rule.maxRegression) {
    reasons.push(`${worse} of ${formatNumber(regression)} exceeds max-regression ${formatNumber(rule.maxRegression)}`);
  }
  if (rule.maxRegressionPercent !== null && regression > 0) {
    if (baseline.value !== 0) {
      const percent = round((regression / Math.abs(baseline.value)) * 100);
      if (percent > rule.maxRegressionPercent)
        reasons.push(
          `${worse} of ${formatNumber(percent)}% exceeds max-regression-percent ${formatNumber(rule.maxRegressionPercent)}%`,
        );
    } else if (rule.maxRegression === null) {
      // No percentage of 0 exists; without an absolute limit, any regression from 0 is too much.
      reasons.push(
        `baseline is 0, so any ${worse} exceeds max-regression-percent (add max-regression for an absolute limit)`,
      );
    }
  }
  return verdict(reasons.length > 0 ? 'fail' : 'pass', reasons);
}

/** Compares the candidate report with the baseline, one rule per metric, in the rules' order. */
export function compareMetrics(
  candidate: unknown,
  baseline: unknown,
  rules: readonly MetricRule[],
  options: { failOnMissing: boolean },
): ComparisonResult {
  const metrics = rules.map((rule) => compareOne(rule, candidate, baseline, options.failOnMissing));
  const failing = metrics.filter((metric) => metric.verdict === 'fail' || metric.verdict === 'missing');
  return { passed: failing.length === 0, metrics, failing };
}

const VERDICT_CELL: Record<MetricVerdict, string> = {
  pass: '✅ pass',
  fail: '❌ fail',
  missing: '❌ missing',
  skipped: '⏭️ skipped',
};

/** Step summary: one table row per metric (pure). */
export function comparisonSummary(result: ComparisonResult): string {
  const title = result.passed
    ? '### ✅ Candidate model passes the A/B comparison'
    : `### ❌ Candidate model fails on ${result.failing.map((metric) => metric.metric).join(', ')}`;
  const rows = result.metrics.map((metric) => [
    metric.metric,
    formatNumber(metric.baseline),
    formatNumber(metric.candidate),
    formatNumber(metric.delta, { sign: true }),
    formatNumber(metric.deltaPercent, { sign: true, suffix: '%', decimals: 2 }),
    metric.rule,
    `${VERDICT_CELL[metric.verdict]}${metric.detail ? `: ${metric.detail}` : ''}`,
  ]);
  return [title, '', table(['metric', 'baseline', 'candidate', 'Δ', 'Δ%', 'rule', 'verdict'], rows), ''].join('\n');
}

/** The message a failed step ends with: the failing metrics, each with why. */
export function failureMessage(result: ComparisonResult): string {
  return `Candidate model fails on ${result.failing.length} metric(s): ${result.failing.map((metric) => `${metric.metric} (${metric.detail})`).join('; ')}`;
}
