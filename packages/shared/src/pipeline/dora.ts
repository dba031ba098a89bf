import {
  listDeployments,
  type DeploymentHistoryEntry,
  type DeploymentStatusEntry,
  type GitHubContext,
  type ListDeploymentsOptions,
} from '../github';

/**
 * The four DORA figures from an environment's GitHub deployment history, against the deployment
 * procedure's targets. `computeDora` is pure (time comes in as `now`); `deploymentHistory` fetches
 * (through the GitHub client's `listDeployments`); dora-summary.ts shows them.
 *
 * Definitions:
 * - A deployment's **outcome** is its latest status: `success`, or `failure`/`error` (failed);
 *   any other (`in_progress`, `queued`, `pending`, none yet) means no outcome yet, and such a
 *   deployment is left out of every figure. `inactive` is skipped when finding the latest status:
 *   GitHub writes it on a successful deployment once a newer one succeeds, which says nothing
 *   about how that deployment went.
 * - A deployment whose payload has `rollback: true` is a **recovery**, not a change: it counts only
 *   as the end of a failure (MTTR), never in frequency, lead time or change failure rate.
 * - The **window** is the `days` before `now`; a deployment belongs to it by its creation time
 *   (both ends included).
 * - **Deployment frequency** = successful deployments in the window per 7 days
 *   (successful / (days / 7)). With no deployment of any outcome in the window there is no data,
 *   not a frequency of 0 (the environment may simply not be recorded).
 * - **Lead time for changes** = median over successful deployments of (first `success` status −
 *   commit time). The commit time is the payload's `commitTime` when present, else the commit's
 *   committer date. Deployments whose commit time is unknown or later than the success are left out.
 * - **Change failure rate** = failed / (failed + successful) deployments in the window.
 * - **Mean time to recovery** = mean over failed deployments of (recovery − failure time). The
 *   recovery is the earliest first-`success` of another deployment (a fix or a rollback) created
 *   after the failed one, later than the failure time. The failure time is when the failed
 *   deployment was created if it never succeeded (the canary serves users from then on, and the
 *   rollback action writes the `failure` status only after traffic is back, so that status would
 *   make every recovery look instant); if it had succeeded, the failure is first known at its
 *   `failure` status. Failures without a recovery yet are counted as open, not averaged.
 * - Every figure says how many samples it stands on; with none its value is null ("not enough
 *   data"), never 0, and whether it meets its target is unknown (null).
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface DoraTarget {
  comparison: 'above' | 'below';
  value: number;
}

/** The deployment procedure's targets. */
export const DORA_TARGETS = {
  deploymentFrequency: { comparison: 'above', value: 10 },
  leadTime: { comparison: 'below', value: 2 },
  mttr: { comparison: 'below', value: 15 },
  changeFailureRate: { comparison: 'below', value: 0.05 },
} as const satisfies Record<string, DoraTarget>;

export type DeploymentOutcome = 'success' | 'failure' | 'pending';

export interface DoraFigure {
  name: string;
  /** null: not enough data. */
  value: number | null;
  unit: 'per week' | 'hours' | 'minutes' | 'ratio';
  target: DoraTarget;
  /** null when there is no value to compare. */
  met: boolean | null;
  samples: number;
  /** What the samples are, and why there is no value when there is none. */
  detail: string;
}

export interface DoraReport {
  window: { from: string; to: string; days: number };
  deployments: {
    total: number;
    successful: number;
    failed: number;
    pending: number;
    rollbacks: number;
    openFailures: number;
  };
  deploymentFrequency: DoraFigure;
  leadTime: DoraFigure;
  mttr: DoraFigure;
  changeFailureRate: DoraFigure;
}

const byTime = (a: DeploymentStatusEntry, b: DeploymentStatusEntry): number => a.at - b.at || (a.id ?? 0) - (b.id ?? 0);

/** The outcome from the latest status (`inactive` skipped) and when it was reached (pure). */
export function deploymentOutcome(entry: DeploymentHistoryEntry): { outcome: DeploymentOutcome; at: number | null } {
  const latest = entry.statuses
    .filter((status) => status.state !== 'inactive')
    .sort(byTime)
    .at(-1);
  if (latest?.state === 'success') return { outcome: 'success', at: latest.at };
  if (latest?.state === 'failure' || latest?.state === 'error') return { outcome: 'failure', at: latest.at };
  return { outcome: 'pending', at: null };
}

/** When the deployment first reached `success`, or null. */
export function firstSuccessAt(entry: DeploymentHistoryEntry): number | null {
  const times = entry.statuses.filter((status) => status.state === 'success').map((status) => status.at);
  return times.length > 0 ? Math.min(...times) : null;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const mean = (values: number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;

export const round = (value: number, digits: number): number => Number(value.toFixed(digits));

function figure(
  name: string,
  unit: DoraFigure['unit'],
  target: DoraTarget,
  value: number | null,
  samples: number,
  detail: string,
  digits: number,
): DoraFigure {
  const rounded = value === null ? null : round(value, digits);
  const met = value === null ? null : target.comparison === 'above' ? value > target.value : value < target.value;
  return { name, value: rounded, unit, target, met, samples, detail };
}

export const plural = (count: number, one: string, many = `${one}s`): string => `${count} ${count === 1 ? one : many}`;

/** The four figures for the `days` before `now` (pure). */
export function computeDora(
  deployments: readonly DeploymentHistoryEntry[],
  options: { now: number; days: number },
): DoraReport {
  const from = options.now - options.days * DAY;
  const inWindow = deployments.filter((entry) => entry.createdAt >= from && entry.createdAt <= options.now);
  const changes = inWindow
    .filter((entry) => !entry.rollback)
    .map((entry) => ({ entry, ...deploymentOutcome(entry), firstSuccess: firstSuccessAt(entry) }));
  const successful = changes.filter((change) => change.outcome === 'success');
  const failed = changes.filter((change) => change.outcome === 'failure');
  const pending = changes.filter((change) => change.outcome === 'pending');

  const frequency = inWindow.length === 0 ? null : successful.length / (options.days / 7);
  const frequencyDetail =
    inWindow.length === 0
      ? 'not enough data: no deployment in the window'
      : plural(successful.length, 'successful deployment');

  const leadTimes = successful.flatMap((change) =>
    change.entry.commitTime !== null && change.firstSuccess !== null && change.firstSuccess >= change.entry.commitTime
      ? [(change.firstSuccess - change.entry.commitTime) / HOUR]
      : [],
  );
  const leadDetail =
    leadTimes.length > 0
      ? `${plural(leadTimes.length, 'successful deployment')} with a known commit time`
      : successful.length === 0
        ? 'not enough data: no successful deployment'
        : 'not enough data: no successful deployment with a known commit time';

  // Recoveries: the first success of every deployment, changes and rollbacks alike.
  const successes = deployments.flatMap((entry) => {
    const at = firstSuccessAt(entry);
    return at === null ? [] : [{ entry, at }];
  });
  const recoveries: number[] = [];
  let openFailures = 0;
  for (const failure of failed) {
    const failedAt = failure.firstSuccess !== null && failure.at !== null ? failure.at : failure.entry.createdAt;
    const recoveredAt = successes
      .filter(
        ({ entry, at }) =>
          entry.id !== failure.entry.id &&
          (entry.createdAt > failure.entry.createdAt ||
            (entry.createdAt === failure.entry.createdAt && entry.id > failure.entry.id)) &&
          at > failedAt,
      )
      .reduce<number | null>((earliest, { at }) => (earliest === null || at < earliest ? at : earliest), null);
    if (recoveredAt === null) openFailures++;
    else recoveries.push((recoveredAt - failedAt) / 60_000);
  }
  const mttrDetail =
    recoveries.length > 0
      ? `${plural(recoveries.length, 'recovered failure')}${openFailures > 0 ? `; ${openFailures} not recovered yet` : ''}`
      : failed.length === 0
        ? 'not enough data: no failed deployment in the window'
        : `not enough data: ${plural(failed.length, 'failed deployment')}, none recovered yet`;

  const decided = successful.length + failed.length;
  const failureRate = decided === 0 ? null : failed.length / decided;
  const rateDetail =
    decided === 0
      ? 'not enough data: no deployment with an outcome'
      : `${plural(decided, 'deployment')} with an outcome, ${failed.length} failed`;

  return {
    window: { from: new Date(from).toISOString(), to: new Date(options.now).toISOString(), days: options.days },
    deployments: {
      total: inWindow.length,
      successful: successful.length,
      failed: failed.length,
      pending: pending.length,
      rollbacks: inWindow.length - changes.length,
      openFailures,
    },
    deploymentFrequency: figure(
      'deployment frequency',
      'per week',
      DORA_TARGETS.deploymentFrequency,
      frequency,
      successful.length,
      frequencyDetail,
      2,
    ),
    leadTime: figure(
      'lead time for changes',
      'hours',
      DORA_TARGETS.leadTime,
      leadTimes.length > 0 ? median(leadTimes) : null,
      leadTimes.length,
      leadDetail,
      2,
    ),
    mttr: figure(
      'mean time to recovery',
      'minutes',
      DORA_TARGETS.mttr,
      recoveries.length > 0 ? mean(recoveries) : null,
      recoveries.length,
      mttrDetail,
      2,
    ),
    changeFailureRate: figure(
      'change failure rate',
      'ratio',
      DORA_TARGETS.changeFailureRate,
      failureRate,
      decided,
      rateDetail,
      4,
    ),
  };
}

/** The environment's deployments since `since`, with the commit time looked up where lead time needs it: a successful change whose payload has none. */
export function deploymentHistory(
  context: GitHubContext,
  environment: string,
  since: number,
  options: Omit<ListDeploymentsOptions, 'commitTimeFor'> = {},
): Promise<DeploymentHistoryEntry[]> {
  return listDeployments(context, environment, since, {
    ...options,
    commitTimeFor: (entry) => !entry.rollback && deploymentOutcome(entry).outcome === 'success',
  });
}
