import { codeBlock, forMarkdown, hostCell, markdownLink, table } from '../action';
import type { HostReport, PhaseResult } from '../fleet';
import { formatValue, histogramQuantile, type AnalysisResult, type Sample, type SeriesPoint } from '../analysis';
import type { MonitorResult } from '../procedures';
import type { RollbackResult } from '../rollback';
import { formatWeights } from '../traffic';
import { restoredLine } from './incident';
import type { Color } from '../domain';

/** Step summary Markdown (pure). The runner caps the file at 1 MiB; we stay far below. */

const OUTCOME: Record<HostReport['outcome'], string> = {
  success: '✅ success',
  failed: '❌ failed',
  reverted: '↩️ reverted',
  unchanged: '⏸ unchanged',
  noop: '✔️ already done',
};

/**
 * What an on-call engineer reads first (pure): what happened, the verdict, what was done, the
 * incident, and what to do next. Details follow it.
 */
export interface Headline {
  ok: boolean;
  /** What happened, in a few words: "canary v2 failed; rolled back to v1". */
  title: string;
  verdict?: string;
  done?: string;
  incidentUrl?: string | null;
  /** Markdown of this code's own (commands in backticks), naming validated versions only. */
  next: string[];
}

/** The title, verdict and done carry reasons and errors from hosts: they are text, made inert here. */
export function headline(app: string, head: Headline): string {
  const lines = [`### ${head.ok ? '✅' : '❌'} ${app}: ${forMarkdown(head.title)}`, ''];
  if (head.verdict) lines.push(`- **Verdict:** ${forMarkdown(head.verdict)}`);
  if (head.done) lines.push(`- **Done:** ${forMarkdown(head.done)}`);
  if (head.incidentUrl) lines.push(`- **Incident:** ${markdownLink(head.incidentUrl, head.incidentUrl)}`);
  if (head.next.length === 1) lines.push(`- **Next:** ${head.next[0]}`);
  if (head.next.length > 1) lines.push('- **Next:**', ...head.next.map((step) => `  - ${step}`));
  lines.push('');
  return lines.join('\n');
}

/** Who and why, for a summary of a change someone asked for. */
export interface PhaseContext {
  reason?: string;
  trigger?: string;
  actor?: string;
  incidentUrl?: string | null;
  /** Versions one can roll back to by name, newest first. */
  candidates?: readonly string[];
}

const hostsText = (count: number): string => `${count} host${count === 1 ? '' : 's'}`;
const seconds = (ms: number | null): string => (ms === null ? '?' : `${(ms / 1000).toFixed(1)} s`);

/** The headline of a deploy, promote or rollback (pure). */
export function phaseHeadline(result: PhaseResult, context: PhaseContext = {}): Headline {
  const version = result.version ?? '?';
  const count = hostsText(result.hosts.length);
  const failed = result.hosts.filter((host) => host.outcome === 'failed').length;
  const noop = result.hosts.length > 0 && result.hosts.every((host) => host.outcome === 'noop');
  const why = [
    context.trigger ? `trigger: ${context.trigger}` : '',
    context.actor ? `by ${context.actor}` : '',
    context.reason ? `reason: ${oneLineText(context.reason)}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  const base = { incidentUrl: context.incidentUrl ?? null };
  const failure = result.error
    ? `${oneLineText(result.error.split('\n')[0] ?? '')}${failed > 0 ? ` (${failed} of ${count} failed)` : ''}`
    : undefined;
  const toOthers =
    context.candidates && context.candidates.length > 0
      ? ` Versions one can roll back to by name (target-version): ${context.candidates.join(', ')}.`
      : '';
  switch (result.phase) {
    case 'deploy':
      if (!result.ok)
        return {
          ...base,
          ok: false,
          title: `deploy of ${version} failed`,
          verdict: failure,
          done: 'no traffic moved to the new version: every host serves what it served before',
          next: [
            'Read the reasons below, fix the cause, and re-run the workflow: a plain re-run picks up where this one stopped.',
          ],
        };
      return result.canaryPercent > 0 && result.canaryPercent < 100
        ? {
            ...base,
            ok: true,
            title: `${version} is a ${result.canaryPercent}% canary on ${count}`,
            done: `${version} started on ${result.activeColor ?? '?'} next to ${result.previousVersion ?? 'the stable version'}, passed its checks, and takes ${result.canaryPercent}% of requests`,
            next: [
              'Let canary-monitor judge it; then promote (blue-green phase: promote), or roll back (the rollback action) to end it.',
            ],
          }
        : {
            ...base,
            ok: true,
            title: `${version} serves all traffic on ${count}`,
            done: `${version} started on ${result.activeColor ?? '?'}, passed its checks and took all traffic`,
            next: ['Nothing: a rollback (the rollback action) puts the previous version back if it misbehaves.'],
          };
    case 'promote':
      if (!result.ok)
        return {
          ...base,
          ok: false,
          title: `promote of ${version} failed`,
          verdict: failure,
          done: 'every host is back on the weights it had: the canary still takes its share',
          next: ['Read the reasons below and re-run promote, or roll back (the rollback action) to end the canary.'],
        };
      return {
        ...base,
        ok: true,
        title: `${version} promoted: all traffic on ${count}`,
        done: `all traffic moved to ${version} on ${result.activeColor ?? '?'}${result.previousVersion ? `; ${result.previousVersion} stopped or kept as configured` : ''}`,
        next: [
          `Nothing. If ${version} misbehaves, the rollback action puts ${result.previousVersion ?? 'the previous version'} back.`,
        ],
      };
    default: {
      if (noop)
        return {
          ...base,
          ok: true,
          title: `nothing to roll back: ${version} already serves`,
          verdict: why || undefined,
          done: 'nothing changed',
          next: [`To go further back, name a version with target-version.${toOthers}`],
        };
      if (!result.ok)
        return {
          ...base,
          ok: false,
          title: `rollback to ${version} failed`,
          verdict: [failure, why].filter(Boolean).join('; ') || undefined,
          done: 'traffic stays where it was on every host',
          next: [
            `Read the reasons below; fix the host named and re-run the rollback, or roll back to another version by name.${toOthers}`,
          ],
        };
      return {
        ...base,
        ok: true,
        title: `rolled back to ${version}${result.previousVersion ? ` (from ${result.previousVersion})` : ''}`,
        verdict: why || undefined,
        done: `all traffic on ${version} (${result.activeColor ?? '?'}) on ${count}${hostsRestoredMs(result) === null ? '' : `, ${seconds(hostsRestoredMs(result))} after the decision`}`,
        next: [
          `Find why ${result.previousVersion ?? 'the release'} failed before deploying it again; the incident and the figures below are the place to start.`,
        ],
      };
    }
  }
}

const oneLineText = (text: string): string => text.replace(/[\r\n]+/g, ' ').trim();

/** A rollback's decision → traffic back, when the result carries it. */
function hostsRestoredMs(result: PhaseResult): number | null {
  const restored = (result as PhaseResult & { restoredMs?: number | null }).restoredMs;
  return restored === undefined ? null : restored;
}

export function phaseSummary(app: string, result: PhaseResult, context: PhaseContext = {}): string {
  const lines = [headline(app, phaseHeadline(result, context))];
  if (result.error) lines.push('#### What went wrong', '', codeBlock(result.error), '');
  lines.push(
    table(
      ['host', 'outcome', 'from → to', 'versions', 'weights before', 'weights after', 'switch (ms)'],
      result.hosts.map((host) => [
        hostCell(host.host),
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
  const smoke = result.hosts.flatMap((host) =>
    host.smoke.map((check) => [
      hostCell(host.host),
      `${check.method} ${check.path}`,
      String(check.status),
      `${check.latencyMs} / ${check.maxLatencyMs}`,
      check.ok ? '✅' : `❌ ${check.problem ?? ''}`,
    ]),
  );
  if (smoke.length > 0)
    lines.push(
      '#### Smoke checks',
      '',
      table(['host', 'request', 'status', 'latency / budget (ms)', 'result'], smoke),
      '',
    );
  const steps = result.hosts.flatMap((host) =>
    host.steps.map((step) => [
      hostCell(host.host),
      step.step,
      step.ok ? 'ok' : 'failed',
      String(step.ms),
      step.detail ?? '',
    ]),
  );
  lines.push(
    '<details><summary>Steps</summary>',
    '',
    table(['host', 'step', 'result', 'ms', 'detail'], steps),
    '',
    '</details>',
    '',
  );
  lines.push(
    `Duration: ${(result.durationMs / 1000).toFixed(1)} s${result.switchMs === null ? '' : `; slowest switch ${result.switchMs} ms`}.`,
    '',
  );
  return lines.join('\n');
}

// ------------------------------------------------------------------------------------------------
// Canary analysis: a table per rule and charts of error rate and P95 over time for each color.

const VERDICT: Record<AnalysisResult['verdict'], string> = {
  success: '✅ success',
  failure: '❌ failure',
  inconclusive: '⚠️ inconclusive',
  error: '⛔ error',
};

/** The colors' own colors for chart lines (GitHub's blue and green), in the order the lines are drawn. */
const LINE_COLOR: Record<'blue' | 'green', string> = { blue: '#0969da', green: '#1a7f37' };

/**
 * A Mermaid xychart-beta line chart, one line per color (pure), each line drawn in its color's own
 * color (the `plotColorPalette` theme variable). Mermaid draws no legend, so a line under the chart
 * names the lines. No data is never drawn as 0: xychart has no gaps, so an instant where a line has
 * no value is left off the x axis, and the note under the chart names what is missing.
 */
export function xyChart(
  title: string,
  unit: string,
  series: SeriesPoint[],
  value: (point: SeriesPoint) => number | null,
  lines: Array<{ color: 'blue' | 'green'; label: string }>,
): string {
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
    .map(
      (gap) =>
        `${gap.color} at ${
          gap.at.length > 8
            ? `${gap.at
                .slice(0, 8)
                .map((t) => Math.round(t))
                .join(', ')}… (${gap.at.length} samples)`
            : gap.at.map((t) => Math.round(t)).join(', ')
        } s`,
    );
  const legend = `${title}: ${lines.map((line) => `${line.color} line = ${line.label}`).join(', ')}.`;
  const note = missing.length > 0 ? ` No data (left out, not drawn as 0) for ${missing.join('; ')}.` : '';
  if (drawn.length === 0) return `${title}: no sample had data for every line.${note}`;
  const lineValues = lines.map(({ color }) => drawn.map((t) => valueAt(t, color) as number));
  const max = Math.max(1, ...lineValues.flat());
  const palette = lines.map((line) => LINE_COLOR[line.color]).join(', ');
  return [
    '```mermaid',
    `%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "${palette}"}}}}%%`,
    'xychart-beta',
    `  title "${title.replaceAll('"', "'")}"`,
    `  x-axis "seconds" [${drawn.map((t) => Math.round(t)).join(', ')}]`,
    `  y-axis "${unit}" 0 --> ${Math.ceil(max * 1.1)}`,
    ...lineValues.map((values) => `  line [${values.join(', ')}]`),
    '```',
    '',
    `${legend}${note}`,
  ].join('\n');
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
  return `t=${result.elapsedSeconds.toFixed(0)}s ${side('canary', canary)}; ${side('stable', stable)}; ${rules.length > 0 ? rules.join(', ') : 'all rules pass so far'}`;
}

/**
 * One timeline over every step of a ramp (pure): each step's samples shifted by the time the steps
 * before it took, and the canary's share of traffic at each of them.
 */
export function rampTimeline(result: MonitorResult): { series: SeriesPoint[]; share: SeriesPoint[]; seconds: number } {
  const series: SeriesPoint[] = [];
  const share: SeriesPoint[] = [];
  let offset = 0;
  for (const step of result.steps) {
    for (const point of step.analysis.series) series.push({ ...point, t: point.t + offset });
    const percent = step.percent ?? 0;
    const times = [...new Set(step.analysis.series.map((point) => point.t))];
    for (const t of times.length > 0 ? times : [step.analysis.elapsedSeconds]) {
      share.push({ t: t + offset, color: result.canaryColor, requests: 0, errorRate: percent, p95Ms: null });
      share.push({ t: t + offset, color: result.stableColor, requests: 0, errorRate: 100 - percent, p95Ms: null });
    }
    offset += step.analysis.elapsedSeconds;
  }
  return { series, share, seconds: offset };
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
      done: `all traffic back on ${rollback.version ?? stable} (${result.stableColor}) ${seconds(result.rollbackMs)} after the decision; ${canary} stopped unless keep-failed`,
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
    `Canary **${result.canaryColor}** (${result.canaryVersion ?? '?'}) against stable **${result.stableColor}** (${result.stableVersion ?? '?'}): ${requests.canary} canary and ${requests.stable} stable requests over ${span.toFixed(0)} s${ramp ? ` in ${result.steps.length} step${result.steps.length === 1 ? '' : 's'}` : ''}${analysis.earlyDecision ? '; decided early by the sequential test' : ''}${analysis.detectSeconds !== null ? `; detected in ${analysis.detectSeconds.toFixed(1)} s` : ''}.`,
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
