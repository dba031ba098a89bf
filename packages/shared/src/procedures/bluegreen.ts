import { ConfigurationError, errorMessage, settleLimit } from '../action';
import {
  checkName,
  launchRelease,
  preflight,
  prepareRelease,
  serverBlockWarnings,
  smoke,
  stopRelease,
  waitHealthy,
  type PreflightLimits,
  type Runtime,
  type SmokeCheck,
  type SmokeDefaults,
} from '../runtime';
import { readLogMarks, type LogMark } from '../analysis/sources';
import {
  closeSessions,
  failedHosts,
  history,
  isCancelled,
  moveBack,
  newReport,
  onEveryHost,
  openSessions,
  readLive,
  stableColor,
  step,
  summarize,
  switchAll,
  switchOne,
  type PhaseResult,
  type SessionSettings,
  type SwitchPlan,
  type Work,
} from '../fleet';
import { DEFAULT_ROUTER, weightsFor } from '../traffic';
import {
  addRelease,
  liveRelease,
  newReleaseId,
  oneLine,
  updateRelease,
  withHistory,
  type AppState,
  type HistoryEntry,
  type HostSpec,
} from '../hosts';
import { otherColor, type Color, type Release, type RuntimeRecord } from '../domain';

/**
 * The blue-green procedure over many hosts. Each phase opens and locks every host first; traffic
 * moves on no host until every host has passed its checks, and a host that fails after others
 * moved sends those back. Every host's outcome lands in its report, and every release in each
 * host's history with what became of it.
 */

export interface DeploySettings extends SessionSettings {
  image: string;
  version: string;
  canaryPercent: number;
  runtime: Runtime;
  /** What the release records of its runtime (its name and options), so that a rollback stops and starts it without the runtime inputs. */
  runtimeRecord?: RuntimeRecord;
  healthPaths: string[];
  healthTimeoutSeconds: number;
  /** Sent to the new color before it gets traffic. */
  smokeRequests: SmokeCheck[];
  /** What a smoke check that does not say gets (default: one run within 2 s, PRE_TRAFFIC_SMOKE). */
  smokeDefaults?: SmokeDefaults;
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

interface DeployWork extends Work {
  releaseId?: string;
}

const iso = (settings: SessionSettings): string => new Date(settings.clock.now()).toISOString();

// ------------------------------------------------------------------------------------------------

export async function deploy(hosts: readonly HostSpec[], settings: DeploySettings): Promise<PhaseResult> {
  const started = settings.clock.now();
  const sessions = await openSessions(hosts, settings, {
    runId: settings.run.runId,
    actor: settings.run.actor,
    version: settings.version,
    phase: 'deploy',
    time: new Date(started).toISOString(),
  });
  const works: DeployWork[] = sessions.map((session) => ({
    session,
    report: newReport(session, 'deploy'),
    target: 'blue',
    stable: null,
    before: null,
    moved: false,
    failed: false,
  }));
  try {
    // 1. Every host: preflight, pull, start the idle color, health, readiness, smoke. No traffic moves yet.
    if (!(await onEveryHost(works, settings, (work) => prepareHost(work, settings)))) {
      const outcome = isCancelled(settings) ? 'cancelled' : 'failed';
      const recorded = await recordEnd(works, settings, outcome, `traffic unchanged: ${failedHosts(works)}`);
      return summarize(
        'deploy',
        works,
        false,
        started,
        settings,
        0,
        `${outcome === 'cancelled' ? 'the run was cancelled; ' : ''}no traffic was moved, because:\n${failedHosts(works)}${recorded}`,
      );
    }
    if (isCancelled(settings)) {
      const recorded = await recordEnd(works, settings, 'cancelled', 'cancelled before the switch');
      return summarize(
        'deploy',
        works,
        false,
        started,
        settings,
        0,
        `the run was cancelled before the switch; no traffic was moved${recorded}`,
      );
    }

    // 2. All hosts passed: send the canary share (or everything, on a first deploy) to the new color.
    // Where each access log stands now: the monitor reads the canary's requests from here.
    const logMarks = await readLogMarks(
      works.map((work) => ({ remote: work.session.remote, path: work.session.spec.accessLog })),
      settings.maxParallel,
      (message) => settings.log.warn(message),
    );
    const moved = await switchAll(works, settings, 'switch traffic', (work) =>
      deploySwitch(work as DeployWork, settings, logMarks[works.indexOf(work as DeployWork)] ?? null),
    );
    if (!moved) {
      const recorded = await recordEnd(works, settings, 'reverted', failedHosts(works));
      return summarize(
        'deploy',
        works,
        false,
        started,
        settings,
        0,
        `switching traffic failed, every host is back on its previous weights:\n${failedHosts(works)}${recorded}`,
      );
    }
    if (isCancelled(settings)) {
      // Cancelled during the switch: nothing will watch this canary, so it does not stay.
      await moveBack(works, settings);
      const recorded = await recordEnd(works, settings, 'cancelled', 'cancelled during the switch; traffic put back');
      return summarize(
        'deploy',
        works,
        false,
        started,
        settings,
        0,
        `the run was cancelled during the switch; every host is back on its previous weights${recorded}`,
      );
    }
    for (const work of works) work.report.outcome = 'success';
    const percent = works.every((work) => work.stable) ? settings.canaryPercent : 100;
    return summarize('deploy', works, true, started, settings, percent);
  } finally {
    await closeSessions(sessions);
  }
}

async function prepareHost(work: DeployWork, settings: DeploySettings): Promise<void> {
  const { session } = work;
  const server = { app: settings.app, accessLog: session.spec.accessLog };
  const router = { name: settings.router ?? DEFAULT_ROUTER, host: session.spec, app: settings.app };
  const facts = await step(
    work,
    settings,
    'preflight',
    () =>
      preflight(
        session.remote,
        session.spec.stateDir,
        session.spec.nginxConfDir,
        session.spec.nginxCommand,
        settings.preflight,
        server,
        router,
      ),
    (found) =>
      `${found.freeDiskMb} MB disk, ${found.freeMemoryMb} MB memory free, ${found.nginxSkipped ? `${router.name} ready` : 'nginx -t ok'}`,
  );
  // A server block that does not proxy to the split variable sends the new color nothing: said, not
  // refused. Before an app's first deploy the variable does not exist, so the line cannot be there
  // yet: then it is what to do next, not a warning.
  for (const warning of serverBlockWarnings(facts.server, server)) {
    if (session.state.active) settings.log.warn(`${session.label}: ${warning}`);
    else settings.log.info(`${session.label}: once this first deploy is done: ${warning}`);
  }
  await readLive(work, settings);
  work.stable = stableColor(session.state, work.before);
  work.target = work.stable ? otherColor(work.stable) : 'blue';
  work.report.fromColor = work.stable;
  work.report.toColor = work.target;
  work.report.version = settings.version;
  work.report.previousVersion = work.stable ? (session.state.colors[work.stable]?.version ?? null) : null;
  const target = work.target;

  // A re-run after a failed or replaced canary: take the idle color out of traffic before restarting it.
  if (work.stable && work.before && work.before[target] > 0) {
    const stable = work.stable;
    await switchOne(work, settings, 'take the idle color out of traffic', {
      weights: weightsFor(stable, 100),
      phase: 'take-out',
      recover: 'to',
      commit: (state) => {
        const replaced = state.canary?.release;
        const next = { ...state, active: stable, canary: null };
        return replaced
          ? updateRelease(next, replaced, {
              status: 'cancelled',
              endedAt: iso(settings),
              note: `replaced by ${settings.version} before it was promoted`,
            })
          : next;
      },
    });
    work.before = weightsFor(stable, 100);
    work.moved = false;
    work.stateBefore = undefined;
  }

  // The release is on record before anything is touched: whatever happens next, it is known.
  const releaseId = newReleaseId();
  work.releaseId = releaseId;
  await session.saveState(
    addRelease(session.state, {
      id: releaseId,
      version: settings.version,
      image: settings.image,
      color: target,
      runId: settings.run.runId,
      deployedAt: iso(settings),
      status: 'deploying',
      servedAt: null,
      restoredAt: null,
      endedAt: null,
      note: '',
      ...(settings.runtimeRecord ? { runtime: settings.runtimeRecord } : {}),
    }),
  );

  const release: Release = {
    app: settings.app,
    color: target,
    port: session.port(target),
    image: settings.image,
    version: settings.version,
  };
  const timeoutMs = settings.commandTimeoutSeconds * 1000;
  // Pull and check first: an image that cannot be had stops the deploy before the idle color (maybe a
  // standby kept for an instant rollback) is touched.
  const prepared = await step(
    work,
    settings,
    `prepare ${settings.image}`,
    () => prepareRelease(session.remote, settings.runtime, release, timeoutMs),
    (ready) => ready.image,
    { interruptible: true },
  );
  const previous = session.state.colors[target];
  await step(work, settings, `stop whatever runs as ${target}`, () =>
    stopRelease(
      session.remote,
      settings.runtime,
      { ...release, image: previous?.image ?? release.image, version: previous?.version ?? release.version },
      timeoutMs,
    ),
  );
  if (previous)
    await session.saveState({
      ...session.state,
      colors: { ...session.state.colors, [target]: { ...previous, status: 'stopped', since: iso(settings) } },
    });
  await step(
    work,
    settings,
    `start ${settings.version} as ${target} on port ${release.port}`,
    () => launchRelease(session.remote, settings.runtime, prepared, timeoutMs),
    undefined,
    { interruptible: true },
  );
  // The color records the image it runs: for compose, the tag resolved to its digest, so a rollback restarts exactly what ran.
  await session.saveState(
    updateRelease(
      {
        ...session.state,
        colors: {
          ...session.state.colors,
          [target]: {
            image: prepared.image,
            version: settings.version,
            port: release.port,
            status: 'running',
            since: iso(settings),
          },
        },
      },
      releaseId,
      { image: prepared.image },
    ),
  );
  await step(
    work,
    settings,
    `wait for ${settings.healthPaths.join(' and ')}`,
    () =>
      waitHealthy(session.remote, release.port, settings.healthPaths, settings.healthTimeoutSeconds, settings.clock),
    (ms) => `healthy after ${ms} ms`,
    { interruptible: true },
  );
  for (const check of settings.smokeRequests) {
    await step(
      work,
      settings,
      `smoke ${checkName(check)}`,
      async () => {
        const outcome = await smoke(session.remote, release.port, check, settings.smokeDefaults);
        work.report.smoke.push(outcome);
        if (!outcome.ok) throw new Error(`smoke ${checkName(check)} on ${target}: ${outcome.problem}`);
        return outcome;
      },
      (outcome) => `${outcome.status} in ${outcome.latencyMs} ms`,
    );
  }
}

function deploySwitch(work: DeployWork, settings: DeploySettings, logMark: LogMark | null): SwitchPlan {
  const target = work.target;
  const stable = work.stable;
  const releaseId = work.releaseId;
  return {
    weights: weightsFor(target, stable ? settings.canaryPercent : 100),
    phase: 'deploy',
    recover: 'from',
    ...(releaseId ? { release: releaseId } : {}),
    commit: (state) => {
      const now = iso(settings);
      let next: AppState = stable
        ? {
            ...state,
            active: stable,
            canary: {
              color: target,
              version: settings.version,
              image: settings.image,
              percent: settings.canaryPercent,
              since: now,
              runId: settings.run.runId,
              ...(releaseId ? { release: releaseId } : {}),
              ...(logMark ? { logMark } : {}),
            },
          }
        : { ...state, active: target, canary: null };
      next = updateRelease(next, releaseId, stable ? { status: 'canary' } : { status: 'live', servedAt: now });
      return withHistory(
        next,
        history(settings, {
          action: 'deploy',
          color: target,
          version: settings.version,
          image: settings.image,
          outcome: 'success',
        }),
      );
    },
  };
}

/** Records on every host how the deploy ended when it did not succeed; a failed write is reported, never swallowed. */
async function recordEnd(
  works: DeployWork[],
  settings: DeploySettings,
  outcome: HistoryEntry['outcome'],
  detail: string,
): Promise<string> {
  const results = await settleLimit(works, settings.maxParallel, async (work) => {
    const { session } = work;
    let state = session.state;
    if (
      state.canary?.color === work.target &&
      state.canary.release !== undefined &&
      state.canary.release !== work.releaseId
    ) {
      // The idle color no longer runs what the canary record says.
      state = { ...state, canary: null };
    }
    const status = outcome === 'cancelled' ? 'cancelled' : 'failed';
    state = updateRelease(state, work.releaseId, {
      status,
      endedAt: iso(settings),
      note: oneLine(work.report.error ?? detail).slice(0, 300),
    });
    state = withHistory(
      state,
      history(settings, {
        action: 'deploy',
        color: work.target,
        version: settings.version,
        image: settings.image,
        outcome,
        detail: detail.slice(0, 500),
      }),
    );
    await session.saveState(state);
  });
  const failures = results.flatMap((result, index) =>
    result.ok ? [] : [`${works[index]?.session.label}: recording the outcome failed: ${errorMessage(result.error)}`],
  );
  return failures.length > 0 ? `\n${failures.join('\n')}` : '';
}

// ------------------------------------------------------------------------------------------------

export async function promote(hosts: readonly HostSpec[], settings: PromoteSettings): Promise<PhaseResult> {
  const started = settings.clock.now();
  const sessions = await openSessions(
    hosts,
    settings,
    {
      runId: settings.run.runId,
      actor: settings.run.actor,
      version: settings.version || '(canary)',
      phase: 'promote',
      time: new Date(started).toISOString(),
    },
    { versionFromState: (state) => state.canary?.version },
  );
  const works: Work[] = sessions.map((session) => ({
    session,
    report: newReport(session, 'promote'),
    target: 'blue',
    stable: null,
    before: null,
    moved: false,
    failed: false,
  }));
  try {
    // 1. Every host: a canary to promote (or already promoted), and the canary color healthy.
    if (!(await onEveryHost(works, settings, (work) => checkPromotable(work, settings)))) {
      return summarize(
        'promote',
        works,
        false,
        started,
        settings,
        0,
        `nothing was promoted, because:\n${failedHosts(works)}`,
      );
    }
    if (isCancelled(settings))
      return summarize(
        'promote',
        works,
        false,
        started,
        settings,
        0,
        'the run was cancelled before the switch; nothing was promoted',
      );
    const pending = works.filter((work) => work.report.outcome !== 'noop');

    // 2. All traffic to the new color on every host, or back where it was.
    const moved = await switchAll(pending, settings, 'switch all traffic', (work) => promoteSwitch(work, settings));
    if (!moved) {
      return summarize(
        'promote',
        works,
        false,
        started,
        settings,
        0,
        `promotion failed, every host is back on its previous weights:\n${failedHosts(pending)}`,
      );
    }
    for (const work of pending) work.report.outcome = 'success';

    // 3. Let in-flight requests on the old color finish, then stop it (unless kept for instant rollback).
    // A cancel here leaves the promotion done and the old color running, which the state says.
    if (pending.length > 0 && settings.drainSeconds > 0 && !isCancelled(settings)) {
      settings.log.info(`draining the previous color for ${settings.drainSeconds} s`);
      await cancellableSleep(settings, settings.drainSeconds * 1000);
    }
    if (!isCancelled(settings))
      await settleLimit(pending, settings.maxParallel, (work) => finishPromotion(work, settings));
    return summarize('promote', works, true, started, settings, 100);
  } finally {
    await closeSessions(sessions);
  }
}

/** Sleeps, or returns early when the run is cancelled. */
export async function cancellableSleep(settings: SessionSettings, ms: number): Promise<void> {
  const signal = settings.signal;
  if (!signal) return settings.clock.sleep(ms);
  if (signal.aborted) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    void settings.clock.sleep(ms).then(done);
  });
}

async function checkPromotable(work: Work, settings: PromoteSettings): Promise<void> {
  const { session } = work;
  const { state } = session;
  await readLive(work, settings);
  const canary = state.canary;
  if (!canary) {
    const active = state.active ? state.colors[state.active] : undefined;
    if (
      state.active &&
      active &&
      (settings.version === '' || active.version === settings.version) &&
      work.before?.[state.active] === 100
    ) {
      work.report.outcome = 'noop';
      work.report.toColor = state.active;
      work.report.version = active.version;
      const previous = state.colors[otherColor(state.active)];
      work.report.fromColor = previous ? otherColor(state.active) : null;
      work.report.previousVersion = previous?.version ?? null;
      work.report.weightsAfter = work.before;
      settings.log.info(
        `${session.label}: ${active.version} already serves all traffic on ${state.active}; nothing to promote`,
      );
      return;
    }
    throw new ConfigurationError(
      `${session.label}: there is no canary to promote${settings.version ? ` for version ${settings.version}` : ''} (run the deploy phase first)`,
    );
  }
  if (settings.version !== '' && canary.version !== settings.version) {
    throw new ConfigurationError(`${session.label}: the canary runs ${canary.version}, not ${settings.version}`);
  }
  work.target = canary.color;
  work.stable = otherColor(canary.color);
  work.report.toColor = canary.color;
  work.report.fromColor = work.stable;
  work.report.version = canary.version;
  work.report.previousVersion = state.colors[work.stable]?.version ?? null;
  await step(
    work,
    settings,
    `check ${canary.color} is healthy`,
    () =>
      waitHealthy(
        session.remote,
        session.port(canary.color),
        settings.healthPaths,
        Math.min(settings.healthTimeoutSeconds, 30),
        settings.clock,
      ),
    (ms) => `healthy after ${ms} ms`,
    { interruptible: true },
  );
}

function promoteSwitch(work: Work, settings: PromoteSettings): SwitchPlan {
  const target = work.target;
  const canary = work.session.state.canary;
  return {
    weights: weightsFor(target, 100),
    phase: 'promote',
    recover: 'from',
    ...(canary?.release ? { release: canary.release } : {}),
    commit: (state) => {
      const now = iso(settings);
      const previousLive = liveRelease(state);
      let next: AppState = { ...state, active: target, canary: null };
      if (previousLive && previousLive.id !== canary?.release)
        next = updateRelease(next, previousLive.id, { status: 'superseded', endedAt: now });
      next = updateRelease(next, canary?.release, { status: 'live', servedAt: now });
      return withHistory(
        next,
        history(settings, {
          action: 'promote',
          color: target,
          version: canary?.version ?? work.report.version ?? '',
          image: canary?.image ?? '',
          outcome: 'success',
        }),
      );
    },
  };
}

async function finishPromotion(work: Work, settings: PromoteSettings): Promise<void> {
  const { session } = work;
  const old = work.stable as Color;
  const oldRelease = session.state.colors[old];
  if (!oldRelease || settings.keepPrevious || oldRelease.status === 'stopped') return;
  try {
    await step(work, settings, `stop ${old} (${oldRelease.version})`, () =>
      stopRelease(
        session.remote,
        settings.runtime,
        {
          app: settings.app,
          color: old,
          port: session.port(old),
          image: oldRelease.image,
          version: oldRelease.version,
        },
        settings.commandTimeoutSeconds * 1000,
      ),
    );
    await session.saveState({
      ...session.state,
      colors: { ...session.state.colors, [old]: { ...oldRelease, status: 'stopped', since: iso(settings) } },
    });
  } catch (error) {
    // Traffic already left the old color; a failed stop is worth a warning, not a rollback.
    work.report.error = `the previous color could not be stopped: ${errorMessage(error)}`;
  }
}
