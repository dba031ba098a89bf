import { ConfigurationError, errorMessage, settleLimit } from '../action';
import { stopRelease, waitHealthy } from '../runtime';
import {
  closeSessions,
  failedHosts,
  history,
  isCancelled,
  newReport,
  onEveryHost,
  openSessions,
  readLive,
  step,
  summarize,
  switchAll,
  type PhaseResult,
  type SwitchPlan,
  type Work,
} from '../fleet';
import { weightsFor } from '../traffic';
import { liveRelease, updateRelease, withHistory, type AppState, type HostSpec } from '../hosts';
import { otherColor, type Color } from '../domain';
import { cancellableSleep, iso, type PromoteSettings } from './bluegreen';

/**
 * The promote phase: every host's canary checked, all traffic to it on every host or on none, then
 * the previous color drained and stopped (unless kept for an instant rollback).
 */

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
