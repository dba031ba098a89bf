import { randomUUID } from 'node:crypto';
import { errorMessage, settleLimit } from '../action';
import { explainUnprepared } from '../runtime';
import { DEFAULT_ROUTER, type TrafficRouter } from '../traffic';
import {
  acquireLock,
  commands,
  connect,
  LockHeld,
  readState,
  statePaths,
  type AppState,
  type HostSpec,
  type LockOwner,
  type Remote,
  type StatePaths,
} from '../hosts';
import { Cancelled, HostSession, isCancelled, jobOf, sessionRouter, type SessionSettings } from './session';
import { repairState, settle } from './settle';

export interface OpenOptions {
  /** Called on a host whose lock another run holds (the rollback uses it to stop a monitor). */
  onHeld?: (remote: Remote, paths: StatePaths, owner: Partial<LockOwner> | null) => Promise<number>;
  /** The version a lock taken with a placeholder (`(canary)`) names once the state is read: its owner file is rewritten with it. */
  versionFromState?: (state: AppState) => string | null | undefined;
}

/**
 * Connects to every host (in parallel), then locks them one after the other in one global order
 * (sorted by host), so that two runs never each hold a lock the other waits for: of two runs started
 * together, the one that takes the first host proceeds and the other stops there, naming it. Then
 * each host's state is read and any traffic change a dead run left half-done is settled.
 * All or nothing: if any host cannot be opened, the others are released before anything changed.
 */
export async function openSessions(
  specs: readonly HostSpec[],
  settings: SessionSettings,
  owner: Omit<LockOwner, 'token'>,
  options: OpenOptions = {},
): Promise<HostSession[]> {
  // Connected in the order given (errors read in that order); locked in one global order.
  const connected = await settleLimit(specs, settings.maxParallel, (spec) =>
    connect(spec.target, { ...settings.connect, warn: settings.log.warn }),
  );
  const connectFailures = connected.flatMap((result) => (result.ok ? [] : [result.error]));
  if (connectFailures.length > 0) {
    for (const result of connected) if (result.ok) result.value.close();
    throwAll(connectFailures);
  }
  const remotes = connected.map((result) => (result as { ok: true; value: Remote }).value);
  // Each host's router, built before any lock is taken: one the settings cannot build stops the run here.
  let hostRouters: TrafficRouter[];
  try {
    hostRouters = specs.map((spec, index) => sessionRouter(spec, remotes[index] as Remote, settings));
  } catch (error) {
    for (const remote of remotes) remote.close();
    throw error;
  }
  const locked: Array<{ spec: HostSpec; remote: Remote; unlock: () => Promise<void>; token: string }> = [];
  try {
    const ordered = specs
      .map((spec, index) => ({ spec, remote: remotes[index] as Remote }))
      .sort((a, b) =>
        a.spec.target.label < b.spec.target.label ? -1 : a.spec.target.label > b.spec.target.label ? 1 : 0,
      );
    for (const { spec, remote } of ordered) {
      if (isCancelled(settings)) throw new Cancelled('cancelled while taking the locks');
      const paths = statePaths(spec.stateDir, settings.app);
      const token = randomUUID();
      const unlock = await acquireLock(
        remote,
        paths,
        { ...owner, token, ...(settings.run.runUrl ? { runUrl: settings.run.runUrl } : {}), ...jobOf(settings.run) },
        {
          waitSeconds: settings.lock.waitSeconds,
          staleSeconds: settings.lock.staleSeconds,
          breakStale: settings.lock.breakStale,
          takeOver: settings.lock.takeOver ?? false,
          sleep: settings.clock.sleep,
          now: settings.clock.now,
          warn: settings.log.warn,
          ...(options.onHeld ? { onHeld: (holder) => options.onHeld!(remote, paths, holder) } : {}),
        },
      ).catch((error: unknown) =>
        // Another run holding the lock is no sign of an unprepared host; anything else asks the doctor.
        error instanceof LockHeld
          ? Promise.reject(error)
          : explainUnprepared(
              remote,
              {
                stateDir: spec.stateDir,
                includeDir: spec.nginxConfDir,
                nginx: spec.nginxCommand,
                accessLog: '',
                router: { name: settings.router ?? DEFAULT_ROUTER, host: spec, app: settings.app },
              },
              error,
            ),
      );
      locked.push({ spec, remote, unlock, token });
    }
  } catch (error) {
    await Promise.all(locked.map((entry) => entry.unlock().catch(() => undefined)));
    for (const remote of remotes) remote.close();
    throw error;
  }
  // Locked in lock order; handed back in the order the hosts were given, so reports follow the input.
  const byInput = [...locked].sort((a, b) => specs.indexOf(a.spec) - specs.indexOf(b.spec));
  const sessions = byInput.map(
    ({ spec, remote, unlock, token }) =>
      new HostSession(
        spec,
        remote,
        settings,
        null as unknown as AppState,
        unlock,
        hostRouters[specs.indexOf(spec)] as TrafficRouter,
        token,
      ),
  );
  for (const session of sessions) session.startHeartbeat();
  const prepared = await settleLimit(sessions, settings.maxParallel, async (session, index) => {
    session.state = settings.repairState
      ? await repairState(session, settings)
      : await readState(session.remote, session.paths, settings.app, new Date(settings.clock.now()).toISOString());
    await settle(session, settings);
    const version = options.versionFromState?.(session.state);
    const entry = byInput[index];
    if (version && entry && version !== owner.version) {
      await session.remote.run(commands.relabelLock(session.paths.lock, entry.token), {
        stdin: JSON.stringify({
          ...owner,
          version,
          token: entry.token,
          ...(settings.run.runUrl ? { runUrl: settings.run.runUrl } : {}),
          ...jobOf(settings.run),
        }),
      });
    }
  });
  const failures = prepared.flatMap((result) => (result.ok ? [] : [result.error]));
  if (failures.length > 0) {
    await closeSessions(sessions);
    throwAll(failures);
  }
  return sessions;
}

/** The session whose lock is taken first (a rollback waiting for the lock waits there). */
export function firstInLockOrder(sessions: readonly HostSession[]): HostSession | undefined {
  return [...sessions].sort((a, b) =>
    a.spec.target.label < b.spec.target.label ? -1 : a.spec.target.label > b.spec.target.label ? 1 : 0,
  )[0];
}

function throwAll(failures: unknown[]): never {
  const first = failures[0];
  if (failures.length === 1) throw first;
  const error = new AggregateError(failures, failures.map(errorMessage).join('\n'));
  if (failures.every((failure) => failure instanceof Error && failure.name === 'ConfigurationError'))
    Object.defineProperty(error, 'name', { value: 'ConfigurationError' });
  throw error;
}

export async function closeSessions(sessions: readonly HostSession[]): Promise<void> {
  await Promise.all(sessions.map((session) => session.close()));
}
