import { ConfigurationError, errorMessage, settleLimit } from '../action';
import { launchRelease, prepareRelease, stopRelease, waitHealthy, type Runtime } from '../runtime';
import {
  closeSessions,
  failedHosts,
  history,
  newReport,
  onEveryHost,
  openSessions,
  readLive,
  step,
  summarize,
  switchAll,
  switchOne,
  type HostSession,
  type PhaseResult,
  type SessionSettings,
  type SwitchPlan,
  type Work,
} from '../fleet';
import { weightsFor, type Weights } from '../traffic';
import {
  liveRelease,
  oneLine,
  rollbackCandidates,
  script,
  updateRelease,
  withHistory,
  type AppState,
  type HostSpec,
} from '../hosts';
import {
  COLORS,
  isRejected,
  otherColor,
  type Color,
  type Release,
  type ReleaseRecord,
  type RuntimeRecord,
} from '../domain';

/**
 * Rollback on hosts with nginx: traffic back to the last good version (or a named one). A color
 * that still runs it takes the traffic at once; a stopped one is started from its recorded image,
 * checked, then switched to. All or nothing across hosts, like every traffic move. A canary
 * monitor that holds the lock is asked to stop, so a rollback never waits for an analysis.
 */

/** `canaryOnly`: an abort, which ends a canary or a ramp and refuses to go back from a promoted release. */
export type RollbackTarget = { kind: 'previous'; canaryOnly?: boolean } | { kind: 'version'; version: string };

export interface RollbackSettings extends SessionSettings {
  target: RollbackTarget;
  reason: string;
  /**
   * The runtime the inputs name, used for every color; null when they name none: each color is
   * stopped and started with the runtime recorded with the release it runs (`recordedRuntime`).
   */
  runtime: Runtime | null;
  /** Builds a runtime recorded with a release (settings/: checked with the runtime's own input fields); throws when the record does not pass. */
  recordedRuntime?: (record: RuntimeRecord) => Runtime;
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
  /** Versions one can roll back to by name (image known), newest first, from the first host. */
  candidates: string[];
  /** Set when a monitor that held the lock was asked to stop (ms from the request until the lock was ours). */
  abortedMonitorMs: number | null;
}

/** What one host has to do (pure): which color to send traffic to, and whether it must be started. */
export interface RollbackPlan {
  target: Color;
  failed: Color | null;
  version: string;
  image: string;
  start: boolean;
  noop: boolean;
  /** The release put back in service, and the one taken out of it (rejected, or rolled back from). */
  release: ReleaseRecord | null;
  rejected: ReleaseRecord | null;
  /** Said when a version that failed or was rejected is chosen by name. */
  warning?: string;
  /** Why there is nothing to do, when noop. */
  why?: string;
}

const describe = (release: ReleaseRecord): string => `${release.version} (${release.status})`;

export function candidateList(state: AppState): string {
  const list = rollbackCandidates(state).map(describe);
  return list.length > 0 ? list.join(', ') : 'none';
}

/** Where a release can run: the color that already has it, or the idle color (started from its image). */
function placement(
  state: AppState,
  release: { version: string; image: string },
  idle: Color,
): { color: Color; start: boolean } {
  for (const color of [idle, otherColor(idle)]) {
    const held = state.colors[color];
    if (held && held.version === release.version && held.image === release.image)
      return { color, start: held.status !== 'running' };
  }
  return { color: idle, start: true };
}

export function planRollback(
  state: AppState,
  live: Weights | null,
  target: RollbackTarget,
  host: string,
): RollbackPlan {
  const active = state.active;
  if (!active)
    throw new ConfigurationError(
      `${host}: nothing was ever deployed for ${state.app}: there is nothing to roll back to`,
    );
  const serving = (color: Color): boolean => (live ? live[color] === 100 : state.canary === null && active === color);
  const current = liveRelease(state);
  const canaryRelease = state.canary
    ? (state.releases.find((release) => release.id === state.canary?.release) ??
      [...state.releases]
        .reverse()
        .find((release) => release.status === 'canary' && release.version === state.canary?.version) ??
      null)
    : null;

  if (target.kind === 'previous') {
    if (target.canaryOnly && !state.canary) {
      throw new ConfigurationError(
        `${host}: there is no canary or ramp to abort: ${current ? `${current.version} serves all traffic` : 'nothing serves'}; to go back from a promoted release, roll back instead`,
      );
    }
    if (state.canary) {
      // A canary in progress: the stable color still runs and serves most traffic.
      const stable = otherColor(state.canary.color);
      const release = state.colors[stable];
      if (!release) throw new ConfigurationError(`${host}: the state has no release for ${stable}`);
      return {
        target: stable,
        failed: state.canary.color,
        version: release.version,
        image: release.image,
        start: release.status !== 'running',
        noop: false,
        release: current ?? null,
        rejected: canaryRelease,
      };
    }
    if (current && current.restoredAt !== null && serving(active)) {
      // What serves was itself put back by a rollback: rolling back again would reach further into
      // the past than anyone asked. Older versions are one named rollback away.
      return {
        target: active,
        failed: null,
        version: current.version,
        image: current.image,
        start: false,
        noop: true,
        release: current,
        rejected: null,
        why: `${current.version} was put back by a rollback at ${current.restoredAt}`,
      };
    }
    const currentTime = current?.deployedAt ?? '9999';
    const good = [...state.releases]
      .reverse()
      .find(
        (release) =>
          release.id !== current?.id &&
          release.servedAt !== null &&
          !isRejected(release) &&
          release.deployedAt <= currentTime &&
          release.version !== current?.version,
      );
    if (!good && state.releases.filter((release) => release.servedAt !== null).length <= 1) {
      throw new ConfigurationError(
        `${host}: there is no previous version to roll back to (only ${current?.version ?? 'one version'} was deployed)`,
      );
    }
    if (!good) {
      throw new ConfigurationError(
        `${host}: there is no earlier good release to roll back to (${current ? `${current.version} serves` : 'nothing serves'}); releases known: ${candidateList(state)}. Name one with target-version to roll back to it anyway`,
      );
    }
    const where = placement(state, good, otherColor(active));
    const skipped = state.releases
      .filter((release) => release.deployedAt > good.deployedAt && release.id !== current?.id && isRejected(release))
      .map(describe);
    return {
      target: where.color,
      failed: active,
      version: good.version,
      image: good.image,
      start: where.start,
      noop: false,
      release: good,
      rejected: current ?? null,
      ...(skipped.length > 0 ? { why: `skipping ${skipped.join(', ')}, which never served or were rejected` } : {}),
    };
  }

  // A named version: the newest good release of it, else the newest of it at all (with a warning).
  const named = [...state.releases].reverse().filter((release) => release.version === target.version);
  const chosen = named.find((release) => !isRejected(release)) ?? named[0];
  if (!chosen)
    throw new ConfigurationError(
      `${host}: version ${target.version} is not in this host's history (known: ${candidateList(state)})`,
    );
  const warning = isRejected(chosen)
    ? `${host}: ${chosen.version} was ${chosen.status} (${chosen.note || 'no note'}); rolling back to it because it was named`
    : undefined;
  const holder = (['blue', 'green'] as const).find(
    (color) => state.colors[color]?.version === chosen.version && state.colors[color]?.image === chosen.image,
  );
  if (
    holder &&
    holder === active &&
    state.canary === null &&
    serving(holder) &&
    state.colors[holder]?.status === 'running'
  ) {
    return {
      target: holder,
      failed: null,
      version: chosen.version,
      image: chosen.image,
      start: false,
      noop: true,
      release: current ?? chosen,
      rejected: null,
      ...(warning ? { warning } : {}),
    };
  }
  const idle = state.canary ? state.canary.color : otherColor(active);
  const where = holder
    ? { color: holder, start: state.colors[holder]?.status !== 'running' }
    : placement(state, chosen, idle);
  const failed = where.color === active ? (state.canary ? state.canary.color : null) : active;
  return {
    target: where.color,
    failed,
    version: chosen.version,
    image: chosen.image,
    start: where.start,
    noop: false,
    release: chosen,
    rejected: state.canary ? canaryRelease : current && current.id !== chosen.id ? current : null,
    ...(warning ? { warning } : {}),
  };
}

interface RollbackWork extends Work {
  plan?: RollbackPlan;
  /** Both colors' health answers, read with the live weights. */
  health?: Record<string, number>;
  /** The runtimes this host's rollback uses, resolved before anything is touched. */
  runtimes?: { stopTarget?: Runtime; start?: Runtime; stopFailed?: Runtime };
}

/** The release a color runs as the state has it: the newest of its version and image (deployed to that color first). */
function releaseOf(state: AppState, color: Color): ReleaseRecord | undefined {
  const held = state.colors[color];
  if (!held) return undefined;
  const newestFirst = [...state.releases]
    .reverse()
    .filter((release) => release.version === held.version && release.image === held.image);
  return newestFirst.find((release) => release.color === color) ?? newestFirst[0];
}

const PASS_RUNTIME =
  'pass the runtime inputs it runs with: runtime: command with start-command and stop-command, or runtime: compose with compose-file (agent-loop: --runtime command --start-command … --stop-command …, or --runtime compose --compose-file …)';

/**
 * The runtime that stops or starts a color: the one the inputs name, else the one recorded with the
 * release it runs (or is to run). Neither known: refused, never a stop claimed with a guess.
 */
function runtimeFor(
  settings: RollbackSettings,
  host: string,
  doing: string,
  release: ReleaseRecord | undefined,
): Runtime {
  if (settings.runtime) return settings.runtime;
  if (!release?.runtime || !settings.recordedRuntime) {
    throw new ConfigurationError(
      `${host}: cannot ${doing}: no runtime input names one and its release records none (deployed before runtimes were recorded); ${PASS_RUNTIME}`,
    );
  }
  try {
    return settings.recordedRuntime(release.runtime);
  } catch (error) {
    throw new ConfigurationError(`${host}: cannot ${doing}: ${errorMessage(error)}; ${PASS_RUNTIME}`);
  }
}

/**
 * A rollback that meets a canary monitor holding the lock asks it to stop (an abort request file
 * next to the lock) and waits for it, however lock-wait-seconds is set: an abort must never wait
 * for an analysis window to end.
 */
export const ABORT_WAIT_SECONDS = 30;

export async function rollback(
  hosts: readonly HostSpec[],
  settings: RollbackSettings,
  since?: number,
): Promise<RollbackResult> {
  const started = since ?? settings.clock.now();
  let abortRequestedAt: number | null = null;
  const sessions = await openSessions(
    hosts,
    settings,
    {
      runId: settings.run.runId,
      actor: settings.run.actor,
      version: settings.target.kind === 'version' ? settings.target.version : '(previous)',
      phase: 'rollback',
      time: new Date(started).toISOString(),
    },
    {
      onHeld: async (remote, paths, holder) => {
        if (!holder?.phase?.startsWith('monitor')) return 0;
        abortRequestedAt ??= settings.clock.now();
        settings.log.warn(
          `${remote.label}: canary-monitor run ${holder.runId ?? '?'} holds the lock: asking it to stop so that this rollback goes ahead`,
        );
        const request = JSON.stringify({
          runId: settings.run.runId,
          actor: settings.run.actor,
          reason: settings.reason,
          time: new Date(settings.clock.now()).toISOString(),
        });
        await remote.run(
          script(
            'al-abort',
            'set -e; tmp=$(mktemp "$(dirname "$1")/.abort.XXXXXXXX"); cat > "$tmp"; chmod 644 "$tmp"; mv -f "$tmp" "$1"',
            [paths.abort],
          ),
          { stdin: request },
        );
        return ABORT_WAIT_SECONDS;
      },
    },
  );
  const abortedMonitorMs = abortRequestedAt === null ? null : settings.clock.now() - abortRequestedAt;
  try {
    if (abortRequestedAt !== null) await Promise.all(sessions.map((session) => session.clearAbortRequest()));
    const result = await rollbackSessions(sessions, settings, started);
    return { ...result, abortedMonitorMs };
  } finally {
    await closeSessions(sessions);
  }
}

/** Rolls back on hosts that are already connected and locked (the canary monitor keeps them open, so a rollback is only a switch away). */
export async function rollbackSessions(
  sessions: readonly HostSession[],
  settings: RollbackSettings,
  since: number,
): Promise<RollbackResult> {
  const works: RollbackWork[] = sessions.map((session) => ({
    session,
    report: newReport(session, 'rollback'),
    target: 'blue',
    stable: null,
    before: null,
    moved: false,
    failed: false,
  }));
  const candidates = sessions[0] ? rollbackCandidates(sessions[0].state).map((release) => release.version) : [];

  // 1. Every host: plan, with the runtimes it needs (a host that cannot say how to stop or start a
  // color refuses here, before any host is touched); then start the target color when it is not
  // running. No traffic moves yet.
  const prepared =
    (await onEveryHost(works, settings, (work) => planOnHost(work, settings))) &&
    (await onEveryHost(works, settings, (work) => prepareRollback(work, settings)));
  const planned = works.find((work) => work.plan?.rejected)?.plan;
  const finish = (ok: boolean, error?: string, restoredMs: number | null = null): RollbackResult => ({
    ...summarize('rollback', works, ok, since, settings, ok ? 100 : 0, error),
    noop: works.every((work) => work.plan?.noop),
    restoredMs,
    failedVersion: planned?.rejected?.version ?? null,
    candidates,
    abortedMonitorMs: null,
  });
  if (!prepared) return finish(false, `nothing was rolled back, because:\n${failedHosts(works)}`);

  // 2. All traffic to the target on every host, or back where it was. A rollback is never undone
  // for a cancel: it is the way to safety.
  const pending = works.filter((work) => !work.plan?.noop);
  if (pending.length === 0) {
    settings.log.info(`every host already serves ${works[0]?.plan?.version}: nothing to roll back`);
    return finish(true, undefined, 0);
  }
  const moved = await switchAll(pending, settings, 'switch traffic back', (work) =>
    rollbackSwitch(work as RollbackWork, settings),
  );
  if (!moved)
    return finish(
      false,
      `the rollback could not switch every host; each is back on the weights it had:\n${failedHosts(pending)}`,
    );
  const restoredMs = settings.clock.now() - since;
  settings.log.info(
    `traffic restored to ${works[0]?.plan?.version} on ${pending.length} host(s) ${restoredMs} ms after the decision`,
  );

  // 3. Stop the failed color unless it is kept for inspection.
  await settleLimit(pending, settings.maxParallel, (work) => stopFailed(work, settings));
  for (const work of pending) work.report.outcome = 'success';
  return finish(true, undefined, restoredMs);
}

const healthUrl = (port: number, path: string): string => `http://127.0.0.1:${port}${path}`;

async function planOnHost(work: RollbackWork, settings: RollbackSettings): Promise<void> {
  const { session } = work;
  // Both colors' health is probed with the weights, in the same command: a rollback to a color that
  // runs and answers needs no second round trip before the switch.
  work.health = await readLive(
    work,
    settings,
    COLORS.flatMap((color) => settings.healthPaths.map((path) => healthUrl(session.port(color), path))),
  );
  const plan = planRollback(session.state, work.before, settings.target, session.label);
  work.plan = plan;
  if (plan.noop) return;
  const { state } = session;
  const runtimes: NonNullable<RollbackWork['runtimes']> = {};
  if (plan.start) {
    const restored =
      plan.release && plan.release.version === plan.version && plan.release.image === plan.image
        ? plan.release
        : [...state.releases]
            .reverse()
            .find((release) => release.version === plan.version && release.image === plan.image);
    runtimes.start = runtimeFor(settings, session.label, `start ${plan.target} (${plan.version})`, restored);
    const holder = state.colors[plan.target];
    runtimes.stopTarget = holder
      ? runtimeFor(settings, session.label, `stop ${plan.target} (${holder.version})`, releaseOf(state, plan.target))
      : runtimes.start;
  }
  const failed = plan.failed ? state.colors[plan.failed] : undefined;
  if (plan.failed && failed && failed.status !== 'stopped' && !settings.keepFailed) {
    runtimes.stopFailed = runtimeFor(
      settings,
      session.label,
      `stop ${plan.failed} (${failed.version})`,
      releaseOf(state, plan.failed),
    );
  }
  work.runtimes = runtimes;
}

async function prepareRollback(work: RollbackWork, settings: RollbackSettings): Promise<void> {
  const { session } = work;
  const plan = work.plan as RollbackPlan;
  const health = work.health ?? {};
  const runtimes = work.runtimes ?? {};
  if (plan.warning) settings.log.warn(plan.warning);
  if (!plan.noop)
    settings.log.info(
      `${session.label}: rolling back ${plan.rejected ? `${plan.rejected.version} (${plan.rejected.status})` : 'the current release'} to ${plan.version}${plan.why ? `, ${plan.why}` : ''}`,
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
      `${session.label}: ${plan.version} already serves all traffic on ${plan.target}${plan.why ? ` (${plan.why}); to go further back, name a version with target-version: ${candidateList(session.state)}` : ''}`,
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

function rollbackSwitch(work: RollbackWork, settings: RollbackSettings): SwitchPlan {
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

async function stopFailed(work: RollbackWork, settings: RollbackSettings): Promise<void> {
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
