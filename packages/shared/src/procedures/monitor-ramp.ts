import { settleLimit } from '../action';
import { newReport, switchAll, type HostSession, type Work } from '../fleet';
import { formatWeights, weightsFor } from '../traffic';
import type { RolloutEvent } from './events';
import type { MonitorSettings, Watched } from './monitor-types';

/** A ramp's step: the canary's share on every host, before the step is watched. */

export interface RampStep {
  percent: number;
  index: number;
  /** How many steps the ramp has. */
  count: number;
}

/**
 * Moves every host to the step's share, all or nothing, and says so; a step every host already
 * serves (the first step, at the deploy's canary-percent) is watched as it is: not switched
 * again, nor announced as an advance.
 */
export async function advanceRamp(
  sessions: readonly HostSession[],
  settings: MonitorSettings,
  watched: Pick<Watched, 'canaryColor' | 'stableColor' | 'canaryVersion'>,
  step: RampStep,
  emit: (event: RolloutEvent) => Promise<void>,
): Promise<void> {
  const { canaryColor, stableColor, canaryVersion } = watched;
  const { percent, index, count } = step;
  const works: Work[] = sessions.map((session) => ({
    session,
    report: newReport(session, 'ramp'),
    target: canaryColor,
    stable: stableColor,
    before: null,
    moved: false,
    failed: false,
  }));
  const read = await settleLimit(works, settings.maxParallel, async (work) => {
    work.before = (await work.session.router.getWeights())?.weights ?? null;
  });
  const unread = read.find((result) => !result.ok);
  if (unread && !unread.ok) throw unread.error;
  const target = weightsFor(canaryColor, percent);
  const already = works.every(
    (work) =>
      work.before?.blue === target.blue &&
      work.before.green === target.green &&
      work.session.state.canary?.percent === percent,
  );
  if (already) {
    settings.log.info(
      `ramp step ${index + 1}/${count}: ${formatWeights(target)} on ${works.length} host(s), live already`,
    );
    return;
  }
  const moved = await switchAll(works, settings, `ramp to ${percent}%`, (work) => ({
    weights: target,
    phase: 'ramp',
    recover: 'from',
    ...(work.session.state.canary?.release ? { release: work.session.state.canary.release } : {}),
    commit: (state) => (state.canary ? { ...state, canary: { ...state.canary, percent } } : state),
  }));
  if (!moved)
    throw new Error(
      `the ramp to ${percent}% failed on some host; every host is back on its previous weights: ${works
        .map((work) => work.report.error)
        .filter(Boolean)
        .join('; ')}`,
    );
  settings.log.info(`ramp step ${index + 1}/${count}: ${formatWeights(target)} on ${works.length} host(s)`);
  const hosts = `${works.length} host${works.length === 1 ? '' : 's'}`;
  await emit({
    kind: 'weight-advanced',
    message: `${canaryVersion ?? canaryColor} weight advanced to ${percent}% (step ${index + 1} of ${count}) on ${hosts}`,
  });
}
