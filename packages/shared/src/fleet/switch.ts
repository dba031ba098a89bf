import { errorMessage, settleLimit, UnrecordedSwitchError } from '../action';
import { formatWeights, weightsFor, type SwitchResult, type Weights } from '../traffic';
import type { AppState, TrafficIntent } from '../hosts';
import { step, type Work } from './procedure';
import { jobOf, type SessionSettings } from './session';

/**
 * The traffic switch of a phase: every host moved, or none, with a write-ahead record on each (the
 * intent saved before the router is touched, the outcome after).
 */

/** A traffic change on one host, and the state that records it once it is live. */
export interface SwitchPlan {
  weights: Weights;
  phase: TrafficIntent['phase'];
  /** Where a run that finds this change unfinished puts traffic: back (`from`) or through (`to`). */
  recover: 'from' | 'to';
  release?: string;
  /** The host's state once the new weights are live (pending is cleared here). */
  commit: (state: AppState) => AppState;
}

/**
 * Moves every host to the weights its plan gives, all or nothing, with a write-ahead record: the
 * intent is saved before nginx is touched and the outcome after, so an interruption at any point
 * leaves a state from which the next run knows what nginx may serve. A host whose intent cannot
 * be saved is not touched; a host whose outcome cannot be saved counts as failed. When one host
 * fails, every host that moved goes back to the weights (and the state) it had. Returns whether all moved.
 */
export async function switchAll(
  works: Work[],
  settings: SessionSettings,
  name: string,
  plan: (work: Work) => SwitchPlan,
): Promise<boolean> {
  const results = await settleLimit(works, settings.maxParallel, (work) =>
    step(
      work,
      settings,
      name,
      () => switchHost(work, settings, plan(work)),
      (result) => `${formatWeights(result.weights)} live in ${result.liveMs} ms`,
    ),
  );
  if (results.every((result) => result.ok)) return true;
  results.forEach((result, index) => {
    if (!result.ok) {
      const work = works[index] as Work;
      work.failed = true;
      work.report.error ??= errorMessage(result.error);
    }
  });
  await moveBack(works, settings);
  return false;
}

/** One host's traffic change, with the same write-ahead record as `switchAll` (no other host to undo). */
export async function switchOne(
  work: Work,
  settings: SessionSettings,
  name: string,
  plan: SwitchPlan,
): Promise<SwitchResult> {
  return step(
    work,
    settings,
    name,
    () => switchHost(work, settings, plan),
    (result) => `${formatWeights(result.weights)} live in ${result.liveMs} ms`,
  );
}

async function switchHost(work: Work, settings: SessionSettings, plan: SwitchPlan): Promise<SwitchResult> {
  const { session } = work;
  if (session.lockLost) throw new Error(`${session.label}: this run no longer holds the lock; traffic left as it is`);
  const before = session.state;
  work.stateBefore ??= before;
  const committed = plan.commit(before);
  const changed = committed.releases.filter(
    (release) => before.releases.find((old) => old.id === release.id)?.status !== release.status,
  );
  const intent: TrafficIntent = {
    runId: settings.run.runId,
    phase: plan.phase,
    at: new Date(settings.clock.now()).toISOString(),
    from: work.before,
    to: plan.weights,
    recover: plan.recover,
    ...(plan.release ? { release: plan.release } : {}),
    // Whose change it is: a post step settles only the change its own job recorded.
    ...jobOf(settings.run),
    commit: {
      active: committed.active,
      canary: committed.canary,
      releases: changed.map((release) => ({ id: release.id, status: release.status })),
    },
  };
  let result: SwitchResult;
  try {
    // The intent is written in the same command before nginx is touched, and the outcome once the
    // weights are live: one round trip.
    result = await session.switchWithIntent({ ...before, pending: intent }, plan.weights, {
      ...committed,
      pending: null,
    });
  } catch (error) {
    if (error instanceof UnrecordedSwitchError) {
      // Live but unrecorded: this host moved, and is put back with the others.
      work.moved = true;
      throw new Error(
        `${session.label}: the switch was made but could not be recorded (${errorMessage(error)}); putting traffic back`,
      );
    }
    // nginx kept (or got back) the previous file; the intent is void.
    await session.saveState({ ...before, pending: null }).catch(() => undefined);
    throw error;
  }
  work.moved = true;
  work.report.weightsAfter = result.weights;
  work.report.switchMs = result.liveMs;
  work.report.liveAt = settings.clock.now();
  if (result.recorded) return result;
  try {
    await session.saveState({ ...committed, pending: null });
  } catch (error) {
    throw new Error(
      `${session.label}: the switch was made but could not be recorded (${errorMessage(error)}); putting traffic back`,
    );
  }
  return result;
}

/** Puts every host this phase moved back on the weights and the state it had before. */
export async function moveBack(works: Work[], settings: SessionSettings): Promise<void> {
  await settleLimit(
    works.filter((work) => work.moved),
    settings.maxParallel,
    async (work) => {
      const back = work.before ?? (work.stable ? weightsFor(work.stable, 100) : null);
      if (!back) return;
      try {
        // Not interruptible and not skipped when cancelled: this is what a cancel asks for.
        const started = settings.clock.now();
        const result = await work.session.router.setWeights(back);
        work.report.steps.push({
          step: 'move traffic back',
          ok: true,
          ms: settings.clock.now() - started,
          detail: formatWeights(result.weights),
        });
        settings.log.info(`${work.session.label}: traffic moved back: ${formatWeights(result.weights)}`);
        work.report.weightsAfter = back;
        work.moved = false;
        work.report.outcome = 'reverted';
        if (work.stateBefore) await work.session.saveState({ ...work.stateBefore, pending: null });
      } catch (error) {
        work.report.error = `${work.report.error ?? ''} ; moving traffic back failed: ${errorMessage(error)}`;
        work.report.outcome = 'failed';
      }
    },
  );
}
