import type { HostReport, PhaseResult } from '../procedures/procedure';
import type { AnalysisResult, SeriesPoint } from '../analysis/engine';
import { formatValue } from '../analysis/engine';
import { histogramQuantile } from '../analysis/histogram';
import type { Sample } from '../analysis/types';
import type { Color } from '../hosts/state';
import { restoredLine } from '../github/incident';
import type { MonitorResult } from '../procedures/monitor';
import { formatWeights } from '../traffic/router';

/** Step summary Markdown (pure). The runner caps the file at 1 MiB; we stay far below. */

// A lone \r ends a Markdown line too (CommonMark), so CRLF and CR are flattened like LF.
const escapeCell = (text: string): string => text.replaceAll('|', '\\|').replace(/\r\n|\r|\n/g, ' ');

export function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.map(escapeCell).join(' | ')} |`)].join('\n');
}

const OUTCOME: Record<HostReport['outcome'], string> = { success: '✅ success', failed: '❌ failed', reverted: '↩️ reverted', unchanged: '⏸ unchanged', noop: '✔️ already done' };

export function phaseSummary(app: string, result: PhaseResult): string {
  const title = `### ${result.ok ? '✅' : '❌'} ${app}: ${result.phase} ${result.version ?? ''}`.trimEnd();
  const lines = [title, ''];
  if (result.error) lines.push(`> ${result.error.split('\n').join('\n> ')}`, '');
  lines.push(
    table(
      ['host', 'outcome', 'from → to', 'versions', 'weights before', 'weights after', 'switch (ms)'],
      result.hosts.map((host) => [
        host.host,
        OUTCOME[host.outcome],
        `${host.fromColor ?? '—'} → ${host.toColor ?? '—'}`,
        `${host.previousVersion ?? '—'} → ${host.version ?? '—'}`,
        host.weightsBefore ? formatWeights(host.weightsBefore) : '—',
        host.weightsAfter ? formatWeights(host.weightsAfter) : '—',
        host.switchMs === null ? '—' : String(host.switchMs),
      ]),
    ),
    '',
  );
  const smoke = result.hosts.flatMap((host) => host.smoke.map((check) => [host.host, `${check.method} ${check.path}`, String(check.status), `${check.latencyMs} / ${check.maxLatencyMs}`, check.ok ? '✅' : `❌ ${check.problem ?? ''}`]));
  if (smoke.length > 0) lines.push('#### Smoke checks', '', table(['host', 'request', 'status', 'latency / budget (ms)', 'result'], smoke), '');
  const steps = result.hosts.flatMap((host) => host.steps.map((step) => [host.host, step.step, step.ok ? 'ok' : 'failed', String(step.ms), step.detail ?? '']));
  lines.push('<details><summary>Steps</summary>', '', table(['host', 'step', 'result', 'ms', 'detail'], steps), '', '</details>', '');
  lines.push(`Duration: ${(result.durationMs / 1000).toFixed(1)} s${result.switchMs === null ? '' : `; slowest switch ${result.switchMs} ms`}.`, '');
  return lines.join('\n');
}

// ------------------------------------------------------------------------------------------------
// Canary analysis: a table per rule and charts of error rate and P95 over time for each color.


const VERDICT: Record<AnalysisResult['verdict'], string> = { success: '✅ success', failure: '❌ failure', inconclusive: '⚠️ inconclusive', error: '⛔ error' };

/**
 * A Mermaid xychart-beta line chart, one line per color (pure). Mermaid draws no legend, so the
 * title names the lines. No data is never drawn as 0: xychart has no gaps, so an instant where a
 * line has no value is left off the x axis, and a note under the chart names what is missing.
 */
export function xyChart(title: string, unit: string, series: SeriesPoint[], value: (point: SeriesPoint) => number | null, lines: Array<{ color: 'blue' | 'green'; label: string }>): string {
  const times = [...new Set(series.map((point) => point.t))].sort((a, b) => a - b);
  if (times.length === 0) return '';
  const valueAt = (t: number, color: 'blue' | 'green'): number | null => {
    const point = series.find((p) => p.t === t && p.color === color);
    const v = point ? value(point) : null;
    return v === null || !Number.isFinite(v) ? null : Math.round(v * 100) / 100;
  };
  const drawn = times.filter((t) => lines.every(({ color }) => valueAt(t, color) !== null));
  const missing = lines
    .map(({ color }) => ({ color, at: times.filter((t) => valueAt(t, color) === null) }))
    .filter((gap) => gap.at.length > 0)
    .map((gap) => `${gap.color} at ${gap.at.length > 8 ? `${gap.at.slice(0, 8).map((t) => Math.round(t)).join(', ')}… (${gap.at.length} samples)` : gap.at.map((t) => Math.round(t)).join(', ')} s`);
  const note = missing.length > 0 ? `\n\n${title}: no data (left out of the chart, not drawn as 0) for ${missing.join('; ')}.` : '';
  if (drawn.length === 0) return `${title}: no sample had data for every line.${note}`;
  const lineValues = lines.map(({ color }) => drawn.map((t) => valueAt(t, color) as number));
  const max = Math.max(1, ...lineValues.flat());
  return [
    '```mermaid',
    'xychart-beta',
    `  title "${title} — ${lines.map((line, index) => `line ${index + 1}: ${line.label}`).join(', ')}"`,
    `  x-axis "seconds" [${drawn.map((t) => Math.round(t)).join(', ')}]`,
    `  y-axis "${unit}" 0 --> ${Math.ceil(max * 1.1)}`,
    ...lineValues.map((values) => `  line [${values.join(', ')}]`),
    '```',
  ].join('\n') + note;
}

/** "4 req, 0% errors, P95 120 ms": one color's figures for a progress line (pure). */
function progressFigures(figures: { requests: number; errorRate: number | null; p95Ms: number | null }): string {
  return `${figures.requests} req, ${formatValue('error_rate', figures.errorRate)} errors, P95 ${formatValue('p95_ms', figures.p95Ms)}`;
}

/**
 * One progress line per sample (pure): per color, the interval's and the running figures, then the
 * rules that are watching or failed. "t=15s canary green: 4 req, 0% errors, P95 120 ms (so far
 * 12 req, 0% errors, P95 130 ms); stable blue: …; all rules pass so far".
 */
export function progressLine(sample: Sample, result: AnalysisResult, canary: Color, stable: Color): string {
  const interval = (color: Color) => {
    const colorSample = sample.colors[color];
    const requests = colorSample?.requests ?? 0;
    return { requests, errorRate: requests > 0 ? (colorSample?.errors ?? 0) / requests : null, p95Ms: colorSample && colorSample.latency.length > 0 ? histogramQuantile(colorSample.latency, 0.95) : null };
  };
  const side = (role: 'canary' | 'stable', color: Color) => `${role} ${color}: ${progressFigures(interval(color))} (so far ${progressFigures(result.soFar[role])})`;
  const rules = result.rules.filter((rule) => rule.status === 'fail' || rule.status === 'watching').map((rule) => `${rule.name}: ${rule.status}`);
  return `t=${result.elapsedSeconds.toFixed(0)}s ${side('canary', canary)}; ${side('stable', stable)}; ${rules.length > 0 ? rules.join(', ') : 'all rules pass so far'}`;
}

export function monitorSummary(app: string, result: MonitorResult): string {
  const { analysis } = result;
  const lines = [
    `### ${VERDICT[analysis.verdict]}: ${app} canary ${result.canaryVersion ?? result.canaryColor}`,
    '',
    `> ${analysis.reason}`,
    '',
    `Canary **${result.canaryColor}** (${result.canaryVersion ?? '?'}) against stable **${result.stableColor}** (${result.stableVersion ?? '?'}); ${analysis.canaryRequests} canary and ${analysis.stableRequests} stable requests over ${analysis.elapsedSeconds.toFixed(0)} s${analysis.earlyDecision ? '; decided early by the sequential test' : ''}${analysis.detectSeconds !== null ? `; detected in ${analysis.detectSeconds.toFixed(1)} s` : ''}.`,
    '',
  ];
  if (result.steps.length > 1 || result.steps[0]?.percent !== null) {
    lines.push(table(['step', 'verdict', 'reason'], result.steps.map((step) => [`${step.percent ?? '—'}%`, VERDICT[step.analysis.verdict], step.analysis.reason])), '');
  }
  lines.push(
    table(
      ['rule', 'kind', 'observed (canary)', 'stable', 'threshold', 'window', 'for', 'status'],
      analysis.rules.map((rule) => [
        rule.name,
        rule.kind,
        formatValue(rule.metric, rule.observed),
        formatValue(rule.metric, rule.stableObserved),
        formatValue(rule.metric, rule.threshold),
        rule.windowSeconds === 0 ? 'latest' : `${rule.windowSeconds} s`,
        rule.forSeconds === 0 ? '—' : `${rule.forSeconds} s`,
        `${rule.status}${rule.detail ? ` (${rule.detail})` : ''}`,
      ]),
    ),
    '',
  );
  const labels = [
    { color: result.stableColor, label: `${result.stableColor} = stable ${result.stableVersion ?? ''}`.trim() },
    { color: result.canaryColor, label: `${result.canaryColor} = canary ${result.canaryVersion ?? ''}`.trim() },
  ];
  const errorChart = xyChart('Error rate (%)', '%', analysis.series, (point) => (point.errorRate === null ? null : point.errorRate * 100), labels);
  const latencyChart = xyChart('P95 latency (ms)', 'ms', analysis.series, (point) => point.p95Ms, labels);
  if (errorChart) lines.push(errorChart, '', latencyChart, '');
  if (analysis.warnings.length > 0) lines.push(...analysis.warnings.map((warning) => `- ⚠️ ${warning}`), '');
  if (result.rollback) {
    lines.push(`#### Automatic rollback: ${result.rollback.ok ? `traffic back on ${result.rollback.version}` : 'FAILED'}`, '', restoredLine(result.rollback.ok ? result.rollbackMs : null), '');
    if (result.rollback.error) lines.push(`> ${result.rollback.error.split('\n').join('\n> ')}`, '');
  }
  return lines.join('\n');
}
