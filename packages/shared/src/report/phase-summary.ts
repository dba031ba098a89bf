import { codeBlock, hostCell, table } from '../action';
import type { PhaseResult } from '../fleet';
import { formatWeights } from '../traffic';
import { headline, oneLineText, OUTCOME, seconds, type Headline } from './headline';

/** The step summary of a deploy, promote or rollback (pure): its headline, then each host's figures. */

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
            done:
              `${version} started on ${result.activeColor ?? '?'} next to ${result.previousVersion ?? 'the stable version'}, ` +
              `passed its checks, and takes ${result.canaryPercent}% of requests`,
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
        done:
          `all traffic moved to ${version} on ${result.activeColor ?? '?'}` +
          (result.previousVersion ? `; ${result.previousVersion} stopped or kept as configured` : ''),
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
        done:
          `all traffic on ${version} (${result.activeColor ?? '?'}) on ${count}` +
          (hostsRestoredMs(result) === null ? '' : `, ${seconds(hostsRestoredMs(result))} after the decision`),
        next: [
          `Find why ${result.previousVersion ?? 'the release'} failed before deploying it again; the incident and the figures below are the place to start.`,
        ],
      };
    }
  }
}

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
