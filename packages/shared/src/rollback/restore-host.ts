import { errorMessage } from '../action';
import { launchRelease, prepareRelease, stopRelease, waitHealthy } from '../runtime';
import { history, step, switchOne, type SwitchPlan } from '../fleet';
import { weightsFor } from '../traffic';
import { oneLine, updateRelease, withHistory, type AppState } from '../hosts';
import type { Release } from '../domain';
import { candidateList, type RollbackPlan } from './plan';
import { healthUrl, type RollbackWork } from './plan-host';
import type { RollbackSettings } from './rollback';

/**
 * What each host does once every host has its plan: start the target color when it is stopped and
 * check its health, switch all traffic to it (with what the state then records), and stop the
 * failed color.
 */

export async function prepareRollback(work: RollbackWork, settings: RollbackSettings): Promise<void> {
  const { session } = work;
  const plan = work.plan as RollbackPlan;
  const health = work.health ?? {};
  const runtimes = work.runtimes ?? {};
  if (plan.warning) settings.log.warn(plan.warning);
  if (!plan.noop)
    settings.log.info(
      `${session.label}: rolling back ` +
        `${plan.rejected ? `${plan.rejected.version} (${plan.rejected.status})` : 'the current release'} ` +
        `to ${plan.version}${plan.why ? `, ${plan.why}` : ''}`,
    );
  work.target = plan.target;
  work.stable = plan.failed;
  work.report.toColor = plan.target;
  work.report.fromColor = plan.failed;
  work.report.version = plan.version;
  work.report.previousVersion =
    plan.rejected?.version ?? (plan.failed ? (session.state.colors[plan.failed]?.version ?? null) : null);
  if (plan.noop) {
    work.report.outcome = 'noop';
    work.report.weightsAfter = work.before;
    settings.log.info(
      `${session.label}: ${plan.version} already serves all traffic on ${plan.target}` +
        (plan.why
          ? ` (${plan.why}); to go further back, name a version with target-version: ${candidateList(session.state)}`
          : ''),
    );
    return;
  }
  const release: Release = {
    app: settings.app,
    color: plan.target,
    port: session.port(plan.target),
    image: plan.image,
    version: plan.version,
  };
  if (plan.start) {
    const { start: startRuntime, stopTarget: stopRuntime } = runtimes;
    if (!startRuntime || !stopRuntime)
      throw new Error(
        `${session.label}: the rollback's plan starts ${plan.target} but resolved no runtime for it (a bug)`,
      );
    const timeoutMs = settings.commandTimeoutSeconds * 1000;
    // Pull first: a missing image changes nothing.
    const prepared = await step(
      work,
      settings,
      `prepare ${plan.image}`,
      () => prepareRelease(session.remote, startRuntime, release, timeoutMs),
      (ready) => ready.image,
    );
    // The color to start takes traffic now (a canary being replaced): take it out first.
    if (work.before && work.before[plan.target] > 0 && plan.failed) {
      const keep = plan.failed;
      await switchOne(work, settings, 'take the idle color out of traffic', {
        weights: weightsFor(keep, 100),
        phase: 'take-out',
        recover: 'to',
        commit: (state) => ({ ...state, canary: null, active: keep }),
      });
      work.before = weightsFor(keep, 100);
      work.moved = false;
      work.stateBefore = undefined;
    }
    const recorded = session.state.colors[plan.target];
    await step(work, settings, `stop whatever runs as ${plan.target}`, () =>
      stopRelease(
        session.remote,
        stopRuntime,
        { ...release, image: recorded?.image ?? plan.image, version: recorded?.version ?? plan.version },
        timeoutMs,
      ),
    );
    if (recorded)
      await session.saveState({
        ...session.state,
        colors: {
          ...session.state.colors,
          [plan.target]: { ...recorded, status: 'stopped', since: new Date(settings.clock.now()).toISOString() },
        },
      });
    await step(work, settings, `start ${plan.version} as ${plan.target} on port ${release.port}`, () =>
      launchRelease(session.remote, startRuntime, prepared, timeoutMs),
    );
    await session.saveState({
      ...session.state,
      colors: {
        ...session.state.colors,
        [plan.target]: {
          image: prepared.image,
          version: plan.version,
          port: release.port,
          status: 'running',
          since: new Date(settings.clock.now()).toISOString(),
        },
      },
    });
  }
  const answering = !plan.start && settings.healthPaths.every((path) => health[healthUrl(release.port, path)] === 200);
  if (answering) {
    await step(
      work,
      settings,
      `check ${plan.target} (${plan.version}) is healthy`,
      async () => 0,
      () => 'answered 200 on every health path when the live weights were read',
    );
    return;
  }
  await step(
    work,
    settings,
    `check ${plan.target} (${plan.version}) is healthy`,
    () =>
      waitHealthy(
        session.remote,
        release.port,
        settings.healthPaths,
        plan.start ? settings.healthTimeoutSeconds : Math.min(settings.healthTimeoutSeconds, 10),
        settings.clock,
      ),
    (ms) => `healthy after ${ms} ms`,
  );
}

export function rollbackSwitch(work: RollbackWork, settings: RollbackSettings): SwitchPlan {
  const plan = work.plan as RollbackPlan;
  return {
    weights: weightsFor(plan.target, 100),
    phase: 'rollback',
    recover: 'to',
    commit: (state) => {
      const now = new Date(settings.clock.now()).toISOString();
      let next: AppState = { ...state, active: plan.target, canary: null };
      const wasCanary = state.canary !== null && plan.rejected?.id === state.canary.release;
      if (plan.rejected)
        next = updateRelease(next, plan.rejected.id, {
          status: wasCanary || plan.rejected.status === 'canary' ? 'rejected' : 'rolled-back',
          endedAt: now,
          note: oneLine(settings.reason).slice(0, 300),
        });
      for (const release of next.releases) {
        if (release.id !== plan.release?.id && (release.status === 'live' || release.status === 'canary'))
          next = updateRelease(next, release.id, {
            status: release.status === 'canary' ? 'rejected' : 'rolled-back',
            endedAt: now,
          });
      }
      if (plan.release)
        next = updateRelease(next, plan.release.id, {
          status: 'live',
          servedAt: plan.release.servedAt ?? now,
          restoredAt: now,
          endedAt: null,
        });
      return withHistory(
        next,
        history(settings, {
          action: 'rollback',
          color: plan.target,
          version: plan.version,
          image: plan.image,
          outcome: 'success',
          detail: settings.reason.slice(0, 500),
        }),
      );
    },
  };
}

export async function stopFailed(work: RollbackWork, settings: RollbackSettings): Promise<void> {
  const { session } = work;
  const plan = work.plan as RollbackPlan;
  await session.audit('rollback recorded', { to: plan.version, color: plan.target, reason: settings.reason });
  if (!plan.failed || settings.keepFailed) return;
  const failed = plan.failed;
  const failedRelease = session.state.colors[failed];
  const runtime = work.runtimes?.stopFailed;
  if (!failedRelease || failedRelease.status === 'stopped' || !runtime) return;
  try {
    await step(work, settings, `stop ${failed} (${failedRelease.version})`, () =>
      stopRelease(
        session.remote,
        runtime,
        {
          app: settings.app,
          color: failed,
          port: session.port(failed),
          image: failedRelease.image,
          version: failedRelease.version,
        },
        settings.commandTimeoutSeconds * 1000,
      ),
    );
    await session.saveState({
      ...session.state,
      colors: {
        ...session.state.colors,
        [failed]: { ...failedRelease, status: 'stopped', since: new Date(settings.clock.now()).toISOString() },
      },
    });
  } catch (error) {
    // Traffic already left the failed color; a failed stop is reported, not fatal.
    work.report.error = `the failed color could not be stopped: ${errorMessage(error)}`;
  }
}
