import { errorMessage, settleLimit } from '../action';
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
  summarize,
  switchAll,
  type PhaseResult,
  type SwitchPlan,
} from '../fleet';
import { weightsFor } from '../traffic';
import { oneLine, updateRelease, withHistory, type AppState, type HistoryEntry, type HostSpec } from '../hosts';
import { iso, type DeploySettings, type DeployWork } from './bluegreen';
import { prepareHost } from './deploy-host';

/**
 * The deploy phase: every host prepared (deploy-host.ts), then the canary share (or everything, on
 * a first deploy) switched to the new color on all of them, or on none; how it ended is recorded
 * on every host.
 */

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
