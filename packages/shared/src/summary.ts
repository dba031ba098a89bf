import type { HostReport, PhaseResult } from './procedure';
import type { AnalysisResult, SeriesPoint } from './analysis/engine';
import { formatValue } from './analysis/engine';
import { restoredLine } from './incident';
import type { MonitorResult } from './monitor';
import { formatWeights } from './router';

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

/** A Mermaid xychart-beta line chart, one line per color (pure). Mermaid draws no legend, so the title names the lines. */
export function xyChart(title: string, unit: string, series: SeriesPoint[], value: (point: SeriesPoint) => number | null, lines: Array<{ color: 'blue' | 'green'; label: string }>): string {
  const times = [...new Set(series.map((point) => point.t))].sort((a, b) => a - b);
  if (times.length === 0) return '';
  const lineValues = lines.map(({ color }) => times.map((t) => {
    const point = series.find((p) => p.t === t && p.color === color);
    const v = point ? value(point) : null;
    return v === null || !Number.isFinite(v) ? 0 : Math.round(v * 100) / 100;
  }));
  const max = Math.max(1, ...lineValues.flat());
  return [
    '```mermaid',
    'xychart-beta',
    `  title "${title} — ${lines.map((line, index) => `line ${index + 1}: ${line.label}`).join(', ')}"`,
    `  x-axis "seconds" [${times.map((t) => Math.round(t)).join(', ')}]`,
    `  y-axis "${unit}" 0 --> ${Math.ceil(max * 1.1)}`,
    ...lineValues.map((values) => `  line [${values.join(', ')}]`),
    '```',
  ].join('\n');
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
