import { settleLimit } from '../action';
import { commands, connect, parseLockOwner, readState, script, statePaths, type HostSpec } from '../hosts';
import { HostSession, sessionRouter, type SessionSettings } from './session';
import { settle } from './settle';

/**
 * The post step of a job whose main step was killed before it could clean up: on each host, settle
 * the traffic change this job left pending and release this job's lock. A lock is this job's only
 * when it carries the token the main step kept in its state (`run.jobToken`): every job of a run
 * shares the run id, and a matrix shares the job id too. Another job's lock, or one taken by an
 * older version (no token), is left alone and said to be. Needs no lock of its own.
 */
export async function cleanUpRun(specs: readonly HostSpec[], settings: SessionSettings): Promise<string[]> {
  const done: string[] = [];
  const jobToken = settings.run.jobToken;
  await settleLimit(specs, settings.maxParallel, async (spec) => {
    const remote = await connect(spec.target, { ...settings.connect, warn: settings.log.warn });
    try {
      const paths = statePaths(spec.stateDir, settings.app);
      const owned = await remote.run(script('al-owner', 'head -c 4096 "$1/owner.json" 2>/dev/null', [paths.lock]));
      const owner = parseLockOwner(owned.stdout);
      const ours = !!jobToken && !!owner?.token && owner.jobToken === jobToken;
      if (!ours) {
        if (owner?.runId === settings.run.runId) {
          settings.log.info(
            owner.jobToken
              ? `${remote.label}: the lock belongs to another job of run ${settings.run.runId}` +
                  `${owner.job ? ` (job ${owner.job})` : ''}: left alone`
              : `${remote.label}: the lock of run ${settings.run.runId} carries no job token (taken by an older version), ` +
                  "so it may be another job's: left alone; it goes stale once its run stops",
          );
        }
        return;
      }
      const lockToken = owner.token as string;
      const state = await readState(remote, paths, settings.app, new Date(settings.clock.now()).toISOString());
      const session = new HostSession(
        spec,
        remote,
        settings,
        state,
        async () => {
          await remote.run(commands.releaseLock(paths.lock, lockToken));
        },
        sessionRouter(spec, remote, settings),
      );
      const pending = state.pending;
      if (pending && pending.jobToken !== jobToken) {
        // Under this job's lock, yet not this job's: the next run settles it when it opens the host.
        settings.log.info(
          `${session.label}: the unfinished ${pending.phase} switch of run ${pending.runId} on record is not this job's: left for the next run to settle`,
        );
      } else {
        await settle(session, settings);
      }
      await session.audit('lock released by the post step', { reason: 'the run ended without releasing it' });
      await session.close();
      done.push(remote.label);
    } finally {
      remote.close();
    }
  });
  return done;
}
