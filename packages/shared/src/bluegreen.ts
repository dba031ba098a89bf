import { errorMessage } from './errors';
import { smoke, waitHealthy, type SmokeRequest } from './health';
import type { HostSpec } from './inputs';
import { settleLimit } from './parallel';
import { preflight, type PreflightLimits } from './preflight';
import { failedHosts, history, newReport, onEveryHost, readLive, stableColor, step, summarize, switchAll, type PhaseResult, type Work } from './procedure';
import { formatWeights, weightsFor } from './router';
import { launchRelease, prepareRelease, stopRelease, type Release, type Runtime } from './runtime';
import { closeSessions, openSessions, type SessionSettings } from './session';
import { otherColor, withHistory, type AppState, type Color, type HistoryEntry } from './state';

/**
 * The blue-green procedure over many hosts. Each phase opens and locks every host first; traffic
 * moves on no host until every host has passed its checks, and a host that fails after others
 * moved sends those back. Every host's outcome lands in its report.
 */

export interface DeploySettings extends SessionSettings {
  image: string;
  version: string;
  canaryPercent: number;
  runtime: Runtime;
  healthPaths: string[];
  healthTimeoutSeconds: number;
  smokeRequests: SmokeRequest[];
  preflight: PreflightLimits;
  commandTimeoutSeconds: number;
}

export interface PromoteSettings extends SessionSettings {
  /** When given, the canary must be this version. */
  version: string;
  runtime: Runtime;
  healthPaths: string[];
  healthTimeoutSeconds: number;
  drainSeconds: number;
  keepPrevious: boolean;
  commandTimeoutSeconds: number;
}

// ------------------------------------------------------------------------------------------------

export async function deploy(hosts: readonly HostSpec[], settings: DeploySettings): Promise<PhaseResult> {
  const started = settings.clock.now();
  const sessions = await openSessions(hosts, settings, { runId: settings.run.runId, actor: settings.run.actor, version: settings.version, phase: 'deploy', time: new Date(started).toISOString() });
  const works: Work[] = sessions.map((session) => ({ session, report: newReport(session, 'deploy'), target: 'blue', stable: null, before: null, moved: false, failed: false }));
  try {
    // 1. Every host: preflight, start the idle color, health, readiness, smoke. No traffic moves yet.
    if (!(await onEveryHost(works, settings, (work) => prepareHost(work, settings)))) {
      await settleLimit(works, settings.maxParallel, (work) => recordDeploy(work, settings, 'failed', `traffic unchanged: ${failedHosts(works)}`));
      return summarize('deploy', works, false, started, settings, 0, `no traffic was moved, because:\n${failedHosts(works)}`);
    }

    // 2. All hosts passed: send the canary share (or everything, on a first deploy) to the new color.
    const moved = await switchAll(works, settings, 'switch traffic', (work) => weightsFor(work.target, work.stable ? settings.canaryPercent : 100));
    if (!moved) {
      await settleLimit(works, settings.maxParallel, (work) => recordDeploy(work, settings, 'reverted', failedHosts(works)));
      return summarize('deploy', works, false, started, settings, 0, `switching traffic failed, every host is back on its previous weights:\n${failedHosts(works)}`);
    }
    await settleLimit(works, settings.maxParallel, (work) => recordDeploy(work, settings, 'success'));
    for (const work of works) work.report.outcome = 'success';
    const percent = works.every((work) => work.stable) ? settings.canaryPercent : 100;
    return summarize('deploy', works, true, started, settings, percent);
  } finally {
    await closeSessions(sessions);
  }
}

async function prepareHost(work: Work, settings: DeploySettings): Promise<void> {
  const { session } = work;
  await step(work, settings, 'preflight', () => preflight(session.remote, session.spec.stateDir, session.spec.nginxConfDir, session.spec.nginxCommand, settings.preflight), (facts) => `${facts.freeDiskMb} MB disk, ${facts.freeMemoryMb} MB memory free, nginx -t ok`);
  await readLive(work, settings);
  work.stable = stableColor(session.state, work.before);
  work.target = work.stable ? otherColor(work.stable) : 'blue';
  work.report.fromColor = work.stable;
  work.report.toColor = work.target;
  work.report.version = settings.version;
  work.report.previousVersion = work.stable ? (session.state.colors[work.stable]?.version ?? null) : null;

  // A re-run after a failed or replaced canary: take the idle color out of traffic before restarting it.
  if (work.stable && work.before && work.before[work.target] > 0) {
    await step(work, settings, 'take the idle color out of traffic', () => session.router.setWeights(weightsFor(work.stable as Color, 100)), (result) => formatWeights(result.weights));
    work.before = weightsFor(work.stable, 100);
  }
  const release: Release = { app: settings.app, color: work.target, port: session.port(work.target), image: settings.image, version: settings.version };
  const timeoutMs = settings.commandTimeoutSeconds * 1000;
  const previous = session.state.colors[work.target];
  // Pull (and check the engine) before anything is stopped: a missing image must leave the idle color as it was.
  const prepared = await step(work, settings, `prepare ${settings.image}`, () => prepareRelease(session.remote, settings.runtime, release, timeoutMs), (ready) => ready.image);
  await step(work, settings, `stop whatever runs as ${work.target}`, () => stopRelease(session.remote, settings.runtime, { ...release, image: previous?.image ?? release.image, version: previous?.version ?? release.version }, timeoutMs));
  await step(work, settings, `start ${settings.version} as ${work.target} on port ${release.port}`, () => launchRelease(session.remote, settings.runtime, prepared, timeoutMs));
  await session.saveState({
    ...session.state,
    colors: { ...session.state.colors, [work.target]: { image: prepared.image, version: settings.version, port: release.port, status: 'running', since: new Date(settings.clock.now()).toISOString() } },
  });
  await step(work, settings, `wait for ${settings.healthPaths.join(' and ')}`, () => waitHealthy(session.remote, release.port, settings.healthPaths, settings.healthTimeoutSeconds), (ms) => `healthy after ${ms} ms`);
  for (const request of settings.smokeRequests) {
    const result = await step(work, settings, `smoke ${request.method} ${request.path}`, async () => {
      const outcome = await smoke(session.remote, release.port, request);
      work.report.smoke.push(outcome);
      if (!outcome.ok) throw new Error(`smoke ${request.method} ${request.path} on ${work.target}: ${outcome.problem}`);
      return outcome;
    }, (outcome) => `${outcome.status} in ${outcome.latencyMs} ms`);
    void result;
  }
}

async function recordDeploy(work: Work, settings: DeploySettings, outcome: HistoryEntry['outcome'], detail?: string): Promise<void> {
  const { session } = work;
  let state = session.state;
  if (outcome === 'success') {
    state = work.stable
      ? { ...state, active: work.stable, canary: { color: work.target, version: settings.version, image: settings.image, percent: settings.canaryPercent, since: new Date(settings.clock.now()).toISOString(), runId: settings.run.runId } }
      : { ...state, active: work.target, canary: null };
  } else if (state.canary?.color === work.target) {
    // The idle color no longer runs what the canary record says.
    state = { ...state, canary: null };
  }
  state = withHistory(state, history(settings, { action: 'deploy', color: work.target, version: settings.version, image: settings.image, outcome, ...(detail ? { detail: detail.slice(0, 500) } : {}) }));
  try {
    await session.saveState(state);
  } catch (error) {
    work.report.error = `${work.report.error ?? ''} ; saving state failed: ${errorMessage(error)}`;
    throw error;
  }
}

// ------------------------------------------------------------------------------------------------

export async function promote(hosts: readonly HostSpec[], settings: PromoteSettings): Promise<PhaseResult> {
  const started = settings.clock.now();
  const sessions = await openSessions(hosts, settings, { runId: settings.run.runId, actor: settings.run.actor, version: settings.version || '(canary)', phase: 'promote', time: new Date(started).toISOString() });
  const works: Work[] = sessions.map((session) => ({ session, report: newReport(session, 'promote'), target: 'blue', stable: null, before: null, moved: false, failed: false }));
  try {
    // 1. Every host: a canary to promote (or already promoted), and the canary color healthy.
    if (!(await onEveryHost(works, settings, (work) => checkPromotable(work, settings)))) {
      return summarize('promote', works, false, started, settings, 0, `nothing was promoted, because:\n${failedHosts(works)}`);
    }
    const pending = works.filter((work) => work.report.outcome !== 'noop');

    // 2. All traffic to the new color on every host, or back where it was.
    const moved = await switchAll(pending, settings, 'switch all traffic', (work) => weightsFor(work.target, 100));
    if (!moved) {
      return summarize('promote', works, false, started, settings, 0, `promotion failed, every host is back on its previous weights:\n${failedHosts(pending)}`);
    }

    // 3. Let in-flight requests on the old color finish, then stop it (unless kept for instant rollback).
    if (pending.length > 0 && settings.drainSeconds > 0) {
      settings.log.info(`draining the previous color for ${settings.drainSeconds} s`);
      await settings.clock.sleep(settings.drainSeconds * 1000);
    }
    await settleLimit(pending, settings.maxParallel, (work) => finishPromotion(work, settings));
    for (const work of pending) work.report.outcome = 'success';
    return summarize('promote', works, true, started, settings, 100);
  } finally {
    await closeSessions(sessions);
  }
}

async function checkPromotable(work: Work, settings: PromoteSettings): Promise<void> {
  const { session } = work;
  const { state } = session;
  await readLive(work, settings);
  const canary = state.canary;
  if (!canary) {
    const active = state.active ? state.colors[state.active] : undefined;
    if (state.active && active && (settings.version === '' || active.version === settings.version) && work.before?.[state.active] === 100) {
      work.report.outcome = 'noop';
      work.report.toColor = state.active;
      work.report.version = active.version;
      const previous = state.colors[otherColor(state.active)];
      work.report.fromColor = previous ? otherColor(state.active) : null;
      work.report.previousVersion = previous?.version ?? null;
      work.report.weightsAfter = work.before;
      settings.log.info(`${session.label}: ${active.version} already serves all traffic on ${state.active}; nothing to promote`);
      return;
    }
    throw new Error(`${session.label}: there is no canary to promote${settings.version ? ` for version ${settings.version}` : ''} (run the deploy phase first)`);
  }
  if (settings.version !== '' && canary.version !== settings.version) {
    throw new Error(`${session.label}: the canary runs ${canary.version}, not ${settings.version}`);
  }
  work.target = canary.color;
  work.stable = otherColor(canary.color);
  work.report.toColor = canary.color;
  work.report.fromColor = work.stable;
  work.report.version = canary.version;
  work.report.previousVersion = state.colors[work.stable]?.version ?? null;
  await step(work, settings, `check ${canary.color} is healthy`, () => waitHealthy(session.remote, session.port(canary.color), settings.healthPaths, Math.min(settings.healthTimeoutSeconds, 30)), (ms) => `healthy after ${ms} ms`);
}

async function finishPromotion(work: Work, settings: PromoteSettings): Promise<void> {
  const { session } = work;
  const old = work.stable as Color;
  const oldRelease = session.state.colors[old];
  let colors = session.state.colors;
  if (oldRelease && !settings.keepPrevious) {
    try {
      await step(work, settings, `stop ${old} (${oldRelease.version})`, () =>
        stopRelease(session.remote, settings.runtime, { app: settings.app, color: old, port: session.port(old), image: oldRelease.image, version: oldRelease.version }, settings.commandTimeoutSeconds * 1000),
      );
      colors = { ...colors, [old]: { ...oldRelease, status: 'stopped', since: new Date(settings.clock.now()).toISOString() } };
    } catch (error) {
      // Traffic already left the old color; a failed stop is worth a warning, not a rollback.
      work.report.error = `the previous color could not be stopped: ${errorMessage(error)}`;
    }
  }
  const canary = session.state.canary;
  const next: AppState = withHistory(
    { ...session.state, active: work.target, canary: null, colors },
    history(settings, { action: 'promote', color: work.target, version: canary?.version ?? work.report.version ?? '', image: canary?.image ?? '', outcome: 'success' }),
  );
  await session.saveState(next);
}
