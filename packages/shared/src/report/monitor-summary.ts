import { codeBlock, forMarkdown, hostCell, table } from '../action';
import { formatValue, histogramQuantile, type AnalysisResult, type Sample } from '../analysis';
import type { MonitorResult } from '../procedures';
import type { RollbackResult } from '../rollback';
import type { Color } from '../domain';
import { rampTimeline, xyChart } from './charts';
import { headline, oneLineText, OUTCOME, seconds, type Headline } from './headline';
import { restoredLine } from './incident';

/**
 * The step summary of a canary analysis or ramp (pure): its headline, a table per rule, and charts
 * of the error rate and P95 over time for each color; and the progress line each sample logs.
 */

const VERDICT: Record<AnalysisResult['verdict'], string> = {
  success: '✅ success',
  failure: '❌ failure',
  inconclusive: '⚠️ inconclusive',
  error: '⛔ error',
};

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
    return {
      requests,
      errorRate: requests > 0 ? (colorSample?.errors ?? 0) / requests : null,
      p95Ms: colorSample && colorSample.latency.length > 0 ? histogramQuantile(colorSample.latency, 0.95) : null,
    };
  };
  const side = (role: 'canary' | 'stable', color: Color) =>
    `${role} ${color}: ${progressFigures(interval(color))} (so far ${progressFigures(result.soFar[role])})`;
  const rules = result.rules
    .filter((rule) => rule.status === 'fail' || rule.status === 'watching')
    .map((rule) => `${rule.name}: ${rule.status}`);
  const verdicts = rules.length > 0 ? rules.join(', ') : 'all rules pass so far';
  return `t=${result.elapsedSeconds.toFixed(0)}s ${side('canary', canary)}; ${side('stable', stable)}; ${verdicts}`;
}

const MONITOR_VERDICT: Record<MonitorResult['verdict'], string> = { ...VERDICT, aborted: '⏹ aborted' };

/** The headline of a canary analysis or ramp (pure): the verdict and what was done about it. */
export function monitorHeadline(result: MonitorResult, incidentUrl: string | null = null): Headline {
  const canary = result.canaryVersion ?? result.canaryColor;
  const stable = result.stableVersion ?? result.stableColor;
  const ramp = result.steps.length > 1 || result.steps[0]?.percent !== null;
  const what = ramp ? `ramp of ${canary}` : `canary ${canary}`;
  // A ramp's verdict speaks for the whole ramp: the step it stopped at, or every step passed.
  const last = result.steps.at(-1);
  const shares = result.steps.map((step) => `${step.percent ?? '—'}%`).join(' → ');
  const why =
    !ramp || result.verdict === 'aborted' || !last
      ? oneLineText(result.reason)
      : result.verdict === 'success'
        ? `every step passed its analysis (${shares})`
        : `at step ${result.steps.length}, ${last.percent ?? '—'}% (${shares}): ${oneLineText(result.reason)}`;
  const verdict = `${MONITOR_VERDICT[result.verdict]}: ${why}`;
  const rollback = result.rollback;
  if (rollback && !rollback.ok) {
    return {
      ok: false,
      title: `${what} failed, and the automatic rollback FAILED`,
      verdict,
      done: `traffic stays where it was: ${oneLineText(rollback.error ?? 'see the log')}`,
      incidentUrl,
      next: [
        `Roll back now: the rollback action, or \`agent-loop rollback\` from a terminal; name a version with target-version if ${stable} cannot come back.`,
      ],
    };
  }
  if (rollback) {
    return {
      ok: false,
      title: `${what} ${result.verdict === 'aborted' ? 'aborted' : 'failed'}; rolled back to ${rollback.version ?? stable}`,
      verdict,
      done:
        `all traffic back on ${rollback.version ?? stable} (${result.stableColor}) ` +
        `${seconds(result.rollbackMs)} after the decision; ${canary} stopped unless keep-failed`,
      incidentUrl,
      next: [`Find why ${canary} failed (the figures and charts below) before deploying it again.`],
    };
  }
  switch (result.verdict) {
    case 'success':
      return ramp
        ? // All traffic is on the canary's color, but it is still the canary: promote makes it the live release and stops the stable one.
          {
            ok: true,
            title: `${canary} ramped to all traffic`,
            verdict,
            done: `every step passed its analysis; ${canary} serves all traffic as the canary, ${stable} still runs beside it`,
            incidentUrl,
            next: [
              `Promote it (blue-green phase: promote): ${canary} becomes the live release and ${stable} is stopped unless keep-previous.`,
            ],
          }
        : {
            ok: true,
            title: `canary ${canary} passed`,
            verdict,
            done: `nothing changed: ${canary} still takes its canary share next to ${stable}`,
            incidentUrl,
            next: ['Promote it (blue-green phase: promote).'],
          };
    case 'aborted':
      return {
        ok: false,
        title: `${what} aborted`,
        verdict,
        done: 'the analysis stopped before a decision (a rollback asked for the hosts, or the run was cancelled)',
        incidentUrl,
        next: ['See the rollback run that asked, or re-run the monitor.'],
      };
    default:
      return {
        ok: false,
        title: `${what}: ${result.verdict}, left in place`,
        verdict,
        done: `no rollback (rollback-on does not include ${result.verdict}): ${canary} still takes its share`,
        incidentUrl,
        next: ['Decide by hand: promote it, or roll it back with the rollback action.'],
      };
  }
}

export function monitorSummary(app: string, result: MonitorResult, incidentUrl: string | null = null): string {
  const { analysis } = result;
  const timeline = rampTimeline(result);
  const ramp = result.steps.length > 1 || result.steps[0]?.percent !== null;
  const series = ramp ? timeline.series : analysis.series;
  const span = ramp ? timeline.seconds : analysis.elapsedSeconds;
  const requests = ramp
    ? result.steps.reduce(
        (sum, step) => ({
          canary: sum.canary + step.analysis.canaryRequests,
          stable: sum.stable + step.analysis.stableRequests,
        }),
        { canary: 0, stable: 0 },
      )
    : { canary: analysis.canaryRequests, stable: analysis.stableRequests };
  const lines = [
    headline(app, monitorHeadline(result, incidentUrl)),
    `Canary **${result.canaryColor}** (${result.canaryVersion ?? '?'}) ` +
      `against stable **${result.stableColor}** (${result.stableVersion ?? '?'}): ` +
      `${requests.canary} canary and ${requests.stable} stable requests over ${span.toFixed(0)} s` +
      (ramp ? ` in ${result.steps.length} step${result.steps.length === 1 ? '' : 's'}` : '') +
      (analysis.earlyDecision ? '; decided early by the sequential test' : '') +
      (analysis.detectSeconds !== null ? `; detected in ${analysis.detectSeconds.toFixed(1)} s` : '') +
      '.',
    '',
  ];
  if (result.rollback) lines.push(rollbackHosts(result), '');
  if (ramp)
    lines.push(
      table(
        ['step', 'canary share', 'verdict', 'reason'],
        result.steps.map((step, index) => [
          String(index + 1),
          `${step.percent ?? '—'}%`,
          VERDICT[step.analysis.verdict],
          step.analysis.reason,
        ]),
      ),
      '',
    );
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
  if (analysis.warnings.length > 0)
    lines.push(...analysis.warnings.map((warning) => `- ⚠️ ${forMarkdown(warning)}`), '');
  const labels = [
    { color: result.stableColor, label: `stable ${result.stableVersion ?? ''}`.trim() },
    { color: result.canaryColor, label: `canary ${result.canaryVersion ?? ''}`.trim() },
  ];
  if (ramp) {
    const shareChart = xyChart('Share of traffic (%)', '%', timeline.share, (point) => point.errorRate, labels);
    if (shareChart) lines.push(shareChart, '');
  }
  const errorChart = xyChart(
    'Error rate (%)',
    '%',
    series,
    (point) => (point.errorRate === null ? null : point.errorRate * 100),
    labels,
  );
  const latencyChart = xyChart('P95 latency (ms)', 'ms', series, (point) => point.p95Ms, labels);
  if (errorChart) lines.push(errorChart, '', latencyChart, '');
  return lines.join('\n');
}

/** The automatic rollback's per-host table. */
function rollbackHosts(result: MonitorResult): string {
  const rollback = result.rollback as RollbackResult;
  const parts = ['#### Automatic rollback, per host', '', restoredLine(rollback.ok ? result.rollbackMs : null), ''];
  if (rollback.error) parts.push(codeBlock(rollback.error), '');
  parts.push(
    table(
      ['host', 'outcome', 'to', 'switch (ms)'],
      rollback.hosts.map((host) => [
        hostCell(host.host),
        OUTCOME[host.outcome],
        `${host.version ?? '—'} (${host.toColor ?? '—'})`,
        host.switchMs === null ? '—' : String(host.switchMs),
      ]),
    ),
  );
  return parts.join('\n');
}
