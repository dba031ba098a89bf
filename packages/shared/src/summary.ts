import type { HostReport, PhaseResult } from './procedure';
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
