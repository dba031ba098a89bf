import { ConfigurationError, errorMessage } from './errors';
import { waitHealthy } from './health';
import type { HostSpec } from './inputs';
import { settleLimit } from './parallel';
import { failedHosts, history, newReport, onEveryHost, readLive, step, summarize, switchAll, type PhaseResult, type Work } from './procedure';
import { formatWeights, weightsFor } from './router';
import { launchRelease, prepareRelease, stopRelease, type Release, type Runtime } from './runtime';
import { closeSessions, openSessions, type HostSession, type SessionSettings } from './session';
import { COLORS, otherColor, withHistory, type AppState, type Color } from './state';

/**
 * Rollback on hosts with nginx: traffic back to the previous version (or a named one). A color
 * that still runs it takes the traffic at once; a stopped one is started from its recorded image,
 * checked, then switched to. All or nothing across hosts, like every traffic move.
 */

export type RollbackTarget = { kind: 'previous' } | { kind: 'version'; version: string };

export interface RollbackSettings extends SessionSettings {
  target: RollbackTarget;
  reason: string;
  runtime: Runtime;
  healthPaths: string[];
  healthTimeoutSeconds: number;
  /** Keep the failed color running for inspection instead of stopping it. */
  keepFailed: boolean;
  commandTimeoutSeconds: number;
}

export interface RollbackResult extends PhaseResult {
  /** Nothing to roll back on any host: already serving the target. */
  noop: boolean;
  /** From `since` (the decision, or the start of the rollback) until every host serves the target. */
  restoredMs: number | null;
  failedVersion: string | null;
}

/** What one host has to do (pure): which color to send traffic to, and whether it must be started. */
export interface RollbackPlan {
  target: Color;
  failed: Color | null;
  version: string;
  image: string;
  start: boolean;
  noop: boolean;
}

export function planRollback(state: AppState, live: { blue: number; green: number } | null, target: RollbackTarget, host: string): RollbackPlan {
  const active = state.active;
  if (!active) throw new ConfigurationError(`${host}: nothing was ever deployed for ${state.app}: there is nothing to roll back to`);
  const serving = (color: Color): boolean => (live ? live[color] === 100 : state.canary === null && active === color);
  if (target.kind === 'previous') {
    if (state.canary) {
      // A canary in progress: the stable color still runs and serves most traffic.
      const stable = otherColor(state.canary.color);
      const release = state.colors[stable];
      if (!release) throw new ConfigurationError(`${host}: the state has no release for ${stable}`);
      return { target: stable, failed: state.canary.color, version: release.version, image: release.image, start: false, noop: false };
    }
    const previous = otherColor(active);
    const release = state.colors[previous];
    if (!release) throw new ConfigurationError(`${host}: there is no previous version to roll back to (only ${state.colors[active]?.version ?? 'one version'} was deployed)`);
    return { target: previous, failed: active, version: release.version, image: release.image, start: release.status !== 'running', noop: false };
  }
  // A named version: a color that has it, or a release from the history started on the idle color.
  const holder = COLORS.find((color) => state.colors[color]?.version === target.version);
  if (holder) {
    const release = state.colors[holder]!;
    const done = holder === active && state.canary === null && serving(holder);
    return { target: holder, failed: done ? null : otherColor(holder), version: release.version, image: release.image, start: release.status !== 'running', noop: done };
  }
  const deployed = [...state.history].reverse().find((entry) => entry.version === target.version && entry.action === 'deploy' && entry.image !== '');
  if (!deployed) throw new ConfigurationError(`${host}: version ${target.version} is not in this host's history (known: ${[...new Set(state.history.map((entry) => entry.version))].join(', ') || 'none'})`);
  const idle = state.canary ? state.canary.color : otherColor(active);
  return { target: idle, failed: active, version: deployed.version, image: deployed.image, start: true, noop: false };
}

interface RollbackWork extends Work {
  plan?: RollbackPlan;
}

export async function rollback(hosts: readonly HostSpec[], settings: RollbackSettings, since?: number): Promise<RollbackResult> {
  const started = since ?? settings.clock.now();
  const sessions = await openSessions(hosts, settings, { runId: settings.run.runId, actor: settings.run.actor, version: settings.target.kind === 'version' ? settings.target.version : '(previous)', phase: 'rollback', time: new Date(started).toISOString() });
  try {
    return await rollbackSessions(sessions, settings, started);
  } finally {
    await closeSessions(sessions);
  }
}

/** Rolls back on hosts that are already connected and locked (the canary monitor keeps them open, so a rollback is only a switch away). */
export async function rollbackSessions(sessions: readonly HostSession[], settings: RollbackSettings, since: number): Promise<RollbackResult> {
  const works: RollbackWork[] = sessions.map((session) => ({ session, report: newReport(session, 'rollback'), target: 'blue', stable: null, before: null, moved: false, failed: false }));

  // 1. Every host: plan, and start the target color when it is not running. No traffic moves yet.
  const prepared = await onEveryHost(works, settings, (work) => prepareRollback(work, settings));
  const failedVersion = works.find((work) => work.plan?.failed)?.plan?.failed;
  const failedRelease = failedVersion ? (works[0]?.session.state.canary?.color === failedVersion ? works[0]?.session.state.canary?.version : works[0]?.session.state.colors[failedVersion]?.version) ?? null : null;
  const finish = (ok: boolean, error?: string, restoredMs: number | null = null): RollbackResult => ({
    ...summarize('rollback', works, ok, since, settings, ok ? 100 : 0, error),
    noop: works.every((work) => work.plan?.noop),
    restoredMs,
    failedVersion: failedRelease,
  });
  if (!prepared) return finish(false, `nothing was rolled back, because:\n${failedHosts(works)}`);

  // 2. All traffic to the target on every host, or back where it was.
  const pending = works.filter((work) => !work.plan?.noop);
  if (pending.length === 0) {
    settings.log.info(`every host already serves ${works[0]?.plan?.version}: nothing to roll back`);
    return finish(true, undefined, 0);
  }
  const moved = await switchAll(pending, settings, 'switch traffic back', (work) => weightsFor(work.target, 100));
  if (!moved) return finish(false, `the rollback could not switch every host; each is back on the weights it had:\n${failedHosts(pending)}`);
  const restoredMs = settings.clock.now() - since;
  settings.log.info(`traffic restored to ${works[0]?.plan?.version} on ${pending.length} host(s) ${restoredMs} ms after the decision`);

  // 3. Record, then stop the failed color unless it is kept for inspection.
  await settleLimit(pending, settings.maxParallel, (work) => finishRollback(work, settings));
  for (const work of pending) work.report.outcome = 'success';
  return finish(true, undefined, restoredMs);
}

async function prepareRollback(work: RollbackWork, settings: RollbackSettings): Promise<void> {
  const { session } = work;
  await readLive(work, settings);
  const plan = planRollback(session.state, work.before, settings.target, session.label);
  work.plan = plan;
  work.target = plan.target;
  work.stable = plan.failed;
  work.report.toColor = plan.target;
  work.report.fromColor = plan.failed;
  work.report.version = plan.version;
  work.report.previousVersion = plan.failed ? (session.state.canary?.color === plan.failed ? session.state.canary.version : (session.state.colors[plan.failed]?.version ?? null)) : null;
  if (plan.noop) {
    work.report.outcome = 'noop';
    work.report.weightsAfter = work.before;
    settings.log.info(`${session.label}: ${plan.version} already serves all traffic on ${plan.target}`);
    return;
  }
  const release: Release = { app: settings.app, color: plan.target, port: session.port(plan.target), image: plan.image, version: plan.version };
  if (plan.start) {
    // A named version that is not in a color takes the idle color: take that color out of traffic first.
    if (work.before && work.before[plan.target] > 0 && plan.failed) {
      await step(work, settings, 'take the idle color out of traffic', () => session.router.setWeights(weightsFor(plan.failed as Color, 100)), (result) => formatWeights(result.weights));
      work.before = weightsFor(plan.failed, 100);
    }
    const recorded = session.state.colors[plan.target];
    // Pull (and check the engine) before anything is stopped.
    const prepared = await step(work, settings, `prepare ${plan.image}`, () => prepareRelease(session.remote, settings.runtime, release, settings.commandTimeoutSeconds * 1000), (ready) => ready.image);
    await step(work, settings, `stop whatever runs as ${plan.target}`, () => stopRelease(session.remote, settings.runtime, { ...release, image: recorded?.image ?? plan.image, version: recorded?.version ?? plan.version }, settings.commandTimeoutSeconds * 1000));
    await step(work, settings, `start ${plan.version} as ${plan.target} on port ${release.port}`, () => launchRelease(session.remote, settings.runtime, prepared, settings.commandTimeoutSeconds * 1000));
    await session.saveState({ ...session.state, colors: { ...session.state.colors, [plan.target]: { image: prepared.image, version: plan.version, port: release.port, status: 'running', since: new Date(settings.clock.now()).toISOString() } } });
  }
  await step(work, settings, `check ${plan.target} (${plan.version}) is healthy`, () => waitHealthy(session.remote, release.port, settings.healthPaths, plan.start ? settings.healthTimeoutSeconds : Math.min(settings.healthTimeoutSeconds, 10)), (ms) => `healthy after ${ms} ms`);
}

async function finishRollback(work: RollbackWork, settings: RollbackSettings): Promise<void> {
  const { session } = work;
  const plan = work.plan as RollbackPlan;
  let colors = session.state.colors;
  if (plan.failed && !settings.keepFailed) {
    const failed = plan.failed;
    const failedRelease = colors[failed];
    const canary = session.state.canary;
    const image = canary?.color === failed ? canary.image : failedRelease?.image;
    const version = canary?.color === failed ? canary.version : failedRelease?.version;
    if (image !== undefined && version !== undefined) {
      try {
        await step(work, settings, `stop ${failed} (${version})`, () => stopRelease(session.remote, settings.runtime, { app: settings.app, color: failed, port: session.port(failed), image, version }, settings.commandTimeoutSeconds * 1000));
        if (failedRelease) colors = { ...colors, [failed]: { ...failedRelease, status: 'stopped', since: new Date(settings.clock.now()).toISOString() } };
      } catch (error) {
        // Traffic already left the failed color; a failed stop is reported, not fatal.
        work.report.error = `the failed color could not be stopped: ${errorMessage(error)}`;
      }
    }
  }
  const next = withHistory(
    { ...session.state, active: plan.target, canary: null, colors },
    history(settings, { action: 'rollback', color: plan.target, version: plan.version, image: plan.image, outcome: 'success', detail: settings.reason.slice(0, 500) }),
  );
  await session.saveState(next);
  await session.audit('rollback recorded', { to: plan.version, color: plan.target, reason: settings.reason });
}
