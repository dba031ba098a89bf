import { randomUUID } from 'node:crypto';
import {
  ConfigurationError,
  errorMessage,
  settleLimit,
  UnrecordedSwitchError,
  type Clock,
  type Logger,
  type RunInfo,
} from '../action';
import { explainUnprepared } from '../runtime';
import {
  buildRouter,
  DEFAULT_ROUTER,
  formatWeights,
  type SwitchResult,
  type TrafficRouter,
  type Weights,
} from '../traffic';
import {
  acquireLock,
  commands,
  connect,
  LockHeld,
  parseLockOwner,
  parseState,
  readState,
  runChecked,
  script,
  statePaths,
  stateText,
  updateRelease,
  withHistory,
  writeStateAndAudit,
  type AppState,
  type ConnectOptions,
  type HostSpec,
  type LockOwner,
  type Remote,
  type StatePaths,
} from '../hosts';

export interface LockSettings {
  waitSeconds: number;
  staleSeconds: number;
  breakStale: boolean;
  /** Take over a lock that has no owner file (input take-over-lock): an operator's stop sign otherwise. */
  takeOver?: boolean;
}

export interface SessionSettings {
  app: string;
  /** The router each host's traffic goes through, by its registered name (traffic/registry.ts); nginx when not given. */
  router?: string;
  splitKey: string;
  connect: ConnectOptions;
  lock: LockSettings;
  maxParallel: number;
  run: RunInfo;
  clock: Clock;
  log: Logger;
  /** Rebuild a torn or missing state from the audit log and the live nginx weights (input repair-state). */
  repairState?: boolean;
  /** Aborted when the run is cancelled (SIGINT/SIGTERM from the runner): start nothing new, put traffic back. */
  signal?: AbortSignal;
}

/** The run was cancelled: thrown by a step that had not started, or by a wait that was cut short. */
export class Cancelled extends Error {
  override name = 'Cancelled';
  constructor(what = 'the run was cancelled') {
    super(what);
  }
}

export const isCancelled = (settings: { signal?: AbortSignal }): boolean => settings.signal?.aborted === true;

/** How often a lock's owner shows it is alive; a lock silent for lock-stale-seconds belongs to a dead run. */
export const HEARTBEAT_MS = 5000;

/** One host, connected, locked for this run, with its state read. */
export class HostSession {
  readonly router: TrafficRouter;
  readonly paths: StatePaths;
  /** Set when the heartbeat finds the lock is no longer this run's (broken by another run). */
  lockLost = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private auditQueue: string[] = [];

  /** `router`: the host's, as the router registry builds it (`sessionRouter`). */
  constructor(
    readonly spec: HostSpec,
    readonly remote: Remote,
    private readonly settings: SessionSettings,
    public state: AppState,
    private readonly unlock: () => Promise<void>,
    router: TrafficRouter,
    private readonly lockToken?: string,
  ) {
    this.paths = statePaths(spec.stateDir, settings.app);
    this.router = router;
  }

  get label(): string {
    return this.remote.label;
  }

  port(color: 'blue' | 'green'): number {
    return color === 'blue' ? this.spec.bluePort : this.spec.greenPort;
  }

  /** Keeps the lock's time fresh while this run works, so that a run that dies is known dead within lock-stale-seconds. */
  startHeartbeat(): void {
    if (!this.lockToken || this.heartbeat) return;
    const token = this.lockToken;
    this.heartbeat = setInterval(() => {
      this.remote
        .run(commands.heartbeat(this.paths.lock, token), { timeoutMs: HEARTBEAT_MS })
        .then((result) => {
          if (result.stdout.trim() === 'lost' && !this.lockLost) {
            this.lockLost = true;
            this.settings.log.warn(
              `${this.label}: this run's lock was taken away (another run found it dead); no further traffic change is made here`,
            );
          }
        })
        .catch(() => undefined);
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /**
   * Writes the state. The audit lines queued since the last write go with it, in the same command:
   * the audit log keeps every saved state (without its long history), so a torn state file can be
   * rebuilt from it.
   */
  async saveState(state: AppState, options: { audit?: boolean } = {}): Promise<void> {
    const next = this.stamped(state);
    if (options.audit !== false)
      this.queueAudit('state saved', { state: { ...next, history: next.history.slice(-5) } });
    const lines = this.auditQueue.join('');
    const before = this.state;
    const warning = await writeStateAndAudit(this.remote, this.paths, next, lines);
    this.auditQueue = [];
    this.state = next;
    if (warning) this.settings.log.warn(`${this.label}: ${warning}`);
    await this.endHold(before, next);
  }

  /**
   * A hold belongs to the canary it was asked for: once that canary is gone (promoted, rolled
   * back), the request is removed, so it cannot stall the next version's ramp.
   */
  private async endHold(before: AppState | null | undefined, after: AppState): Promise<void> {
    // Before a repair, the session has no state yet.
    if (!before?.canary || after.canary) return;
    const removed = await this.remote
      .run(['rm', '-f', this.paths.hold], { timeoutMs: 5000 })
      .catch((error: unknown) => ({ code: 1, stdout: '', stderr: errorMessage(error) }));
    if (removed.code !== 0)
      this.settings.log.warn(
        `${this.label}: the canary ended, but its hold request could not be removed (${removed.stderr.trim()}): agent-loop resume removes it`,
      );
  }

  /**
   * Records a traffic change before making it and makes it, in one command: the state with its
   * `pending` intent is written first, and nginx is touched only once that write succeeded.
   */
  async switchWithIntent(intent: AppState, weights: Weights, outcome?: AppState): Promise<SwitchResult> {
    const next = this.stamped(intent);
    const done = outcome ? this.stamped(outcome) : null;
    let result: SwitchResult;
    try {
      result = await this.router.setWeights(weights, {
        before: [{ path: this.paths.state, content: stateText(this.label, next), mode: '644' }],
        // The outcome is recorded in the same command once the weights are live (no round trip).
        after: done ? [{ path: this.paths.state, content: stateText(this.label, done), mode: '644' }] : [],
      });
    } catch (error) {
      // Exit 36 (live, not recorded) leaves the intent on the host: the state it has is `next`.
      if (error instanceof UnrecordedSwitchError) this.state = next;
      throw error;
    }
    const before = this.state;
    this.state = next;
    if (done && result.recorded) {
      this.queueAudit('state saved', { state: { ...done, history: done.history.slice(-5) } });
      this.state = done;
    }
    await this.endHold(before, this.state);
    return result;
  }

  private stamped(state: AppState): AppState {
    return { ...state, schema: 2 as const, updatedAt: new Date(this.settings.clock.now()).toISOString() };
  }

  /**
   * Adds a line to the host's audit log. Lines are queued and written with the next state write
   * (or when the session closes), so the log costs no round trip of its own on the critical path.
   */
  async audit(step: string, details: Record<string, unknown> = {}): Promise<void> {
    this.queueAudit(step, details);
  }

  private queueAudit(step: string, details: Record<string, unknown>): void {
    this.auditQueue.push(
      `${JSON.stringify({ time: new Date(this.settings.clock.now()).toISOString(), runId: this.settings.run.runId, actor: this.settings.run.actor, step, ...details })}\n`,
    );
  }

  /** Writes the queued audit lines now; a failure is reported, never thrown. */
  async flushAudit(): Promise<void> {
    if (this.auditQueue.length === 0) return;
    const lines = this.auditQueue.join('');
    this.auditQueue = [];
    try {
      await runChecked(this.remote, commands.appendLine(this.paths.audit), 'writing the audit log', { stdin: lines });
    } catch (error) {
      this.settings.log.warn(`${this.label}: could not append to the audit log: ${errorMessage(error)}`);
    }
  }

  /** An abort request left by a rollback that waits for this run's lock (null when there is none). */
  async abortRequest(): Promise<string | null> {
    const result = await this.remote.run(
      script('al-abort-read', 'if [ -f "$1" ]; then printf "abort "; head -c 600 "$1"; fi', [this.paths.abort]),
      { timeoutMs: 5000 },
    );
    return result.stdout.startsWith('abort ') ? result.stdout.slice(6).trim() : null;
  }

  /** A hold request on this host (null when there is none): a ramp stays at its current step while it is there. */
  async holdRequest(): Promise<string | null> {
    const result = await this.remote.run(
      script('al-hold-read', 'if [ -f "$1" ]; then printf "hold "; head -c 600 "$1"; fi', [this.paths.hold]),
      { timeoutMs: 5000 },
    );
    return result.stdout.startsWith('hold ') ? result.stdout.slice(5).trim() : null;
  }

  async clearAbortRequest(): Promise<void> {
    await this.remote.run(['rm', '-f', this.paths.abort]).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    await this.flushAudit();
    try {
      await this.unlock();
    } catch (error) {
      this.settings.log.warn(`${this.label}: could not release the lock: ${errorMessage(error)}`);
    } finally {
      this.remote.close();
    }
  }
}

/** A host's router, the one the settings name, built by the router registry. */
export function sessionRouter(
  spec: HostSpec,
  remote: Remote,
  settings: Pick<SessionSettings, 'app' | 'router' | 'splitKey' | 'clock'>,
): TrafficRouter {
  return buildRouter(settings.router ?? DEFAULT_ROUTER, {
    remote,
    host: spec,
    app: settings.app,
    splitKey: settings.splitKey,
    now: settings.clock.now,
  });
}

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

/** The job's identity as a lock owner and a pending switch record it (fields left out when unknown). */
export function jobOf(run: RunInfo): { job?: string; jobToken?: string } {
  return { ...(run.job ? { job: run.job } : {}), ...(run.jobToken ? { jobToken: run.jobToken } : {}) };
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

const sameWeights = (a: Weights | null | undefined, b: Weights | null | undefined): boolean =>
  !!a && !!b && a.blue === b.blue && a.green === b.green;

/** How settle() names what serves the traffic and the router's file, for the router the settings name. */
function trafficWords(router: string | undefined): { server: string; file: string; record: string; why: string } {
  const name = router ?? DEFAULT_ROUTER;
  if (name === 'nginx')
    return {
      server: 'nginx',
      file: 'the nginx include on disk',
      record: 'include',
      why: 'a reload that never took effect',
    };
  if (name === 'haproxy')
    return {
      server: 'HAProxy',
      file: "the HAProxy router's record of its weights",
      record: 'HAProxy weights record',
      why: 'weights set on the admin socket by someone else',
    };
  return {
    server: `router ${name}`,
    file: `router ${name}'s file`,
    record: `router ${name}'s file`,
    why: 'a change that never took effect',
  };
}

/**
 * Settles what a run that died (killed, lost its connection, its disk full) left behind: a traffic
 * change recorded as pending is put on its safe side — back where it was for a deploy, a ramp or a
 * promote; through to the good version for a rollback — and the state then says what the router
 * serves. A router's file that differs from what it serves (nginx: a reload that never took effect;
 * HAProxy: weights someone else set on its socket) is rewritten to what it serves, so the next
 * reload by anyone changes nothing.
 */
export async function settle(session: HostSession, settings: SessionSettings): Promise<void> {
  const { state } = session;
  const view = await session.router.inspect();
  const pending = state.pending;
  if (pending) {
    const target = pending.recover === 'to' || pending.from === null ? pending.to : pending.from;
    if (!sameWeights(view.live?.weights, target)) {
      await session.router.setWeights(target);
    } else if (view.file && !sameWeights(view.file.weights, target)) {
      await session.router.setWeights(target);
    }
    let next: AppState = { ...state, pending: null };
    if (target === pending.to) {
      next = { ...next, active: pending.commit.active, canary: pending.commit.canary };
      for (const change of pending.commit.releases)
        next = updateRelease(next, change.id, {
          status: change.status,
          ...(change.status === 'live'
            ? {
                servedAt:
                  next.releases.find((release) => release.id === change.id)?.servedAt ??
                  new Date(settings.clock.now()).toISOString(),
              }
            : {}),
        });
    } else if (pending.phase === 'deploy' && pending.release) {
      next = updateRelease(next, pending.release, {
        status: 'cancelled',
        endedAt: new Date(settings.clock.now()).toISOString(),
        note: `run ${pending.runId} stopped during its traffic switch`,
      });
      if (next.canary?.release === pending.release) next = { ...next, canary: null };
    }
    const detail = `run ${pending.runId}${pending.job ? ` (job ${pending.job})` : ''} left its ${pending.phase} switch (${pending.from ? formatWeights(pending.from) : 'nothing'} → ${formatWeights(pending.to)}) unfinished; ${trafficWords(settings.router).server} served ${view.live ? formatWeights(view.live.weights) : 'nothing'}; now ${formatWeights(target)}`;
    next = withHistory(next, {
      time: new Date(settings.clock.now()).toISOString(),
      runId: settings.run.runId,
      actor: settings.run.actor,
      action: 'recover',
      color: pending.to.blue >= pending.to.green ? 'blue' : 'green',
      version: '',
      image: '',
      outcome: 'success',
      detail,
    });
    await session.saveState(next);
    settings.log.warn(`${session.label}: ${detail}`);
    return;
  }
  if (view.live && view.file && !sameWeights(view.live.weights, view.file.weights)) {
    const words = trafficWords(settings.router);
    settings.log.warn(
      `${session.label}: ${words.file} says ${formatWeights(view.file.weights)} but ${words.server} serves ${formatWeights(view.live.weights)} (${words.why}); rewriting it to what ${words.server} serves`,
    );
    await session.router.setWeights(view.live.weights);
    await session.audit(`${words.record} rewritten to what ${words.server} serves`, {
      live: view.live.weights,
      file: view.file.weights,
    });
  }
}

/**
 * Rebuilds a host's state when it is torn or missing: the newest state the audit log recorded,
 * brought in line with what the router serves now. Says what it found.
 */
export async function repairState(session: HostSession, settings: SessionSettings): Promise<AppState> {
  const now = new Date(settings.clock.now()).toISOString();
  const current = await readState(session.remote, session.paths, settings.app, now).then(
    (state) => ({ ok: true as const, state }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (current.ok && current.state.history.length > 0) {
    settings.log.info(`${session.label}: the state file is readable; nothing to repair`);
    return current.state;
  }
  const line = (
    await runChecked(session.remote, commands.lastAuditedState(session.paths.audit), 'reading the audit log')
  ).trim();
  let rebuilt: AppState | null = null;
  if (line) {
    try {
      const record = JSON.parse(line) as { state?: unknown };
      const parsed = parseState(JSON.stringify(record.state), settings.app);
      if (parsed.ok) rebuilt = parsed.state;
    } catch {
      rebuilt = null;
    }
  }
  const view = await session.router.inspect();
  const live = view.live?.weights ?? view.file?.weights ?? null;
  if (!rebuilt) {
    if (!current.ok && !live)
      throw new ConfigurationError(
        `${session.label}: the state file is unreadable and neither the audit log nor ${trafficWords(settings.router).server} says anything about ${settings.app}: remove ${session.paths.state} to start afresh`,
      );
    rebuilt = {
      schema: 2,
      app: settings.app,
      active: null,
      colors: {},
      canary: null,
      releases: [],
      pending: null,
      history: [],
      updatedAt: now,
    };
  }
  let next: AppState = { ...rebuilt, pending: null };
  const found: string[] = [line ? `the audit log's last state (${rebuilt.updatedAt})` : 'no state in the audit log'];
  if (live) {
    const major = live.blue >= live.green ? 'blue' : 'green';
    const minor = major === 'blue' ? 'green' : 'blue';
    found.push(`${trafficWords(settings.router).server} serves ${formatWeights(live)}`);
    if (live[minor] === 0) next = { ...next, active: major, canary: null };
    else if (next.canary?.color === minor)
      next = { ...next, active: major, canary: { ...next.canary, percent: live[minor] } };
    else next = { ...next, active: major, canary: null };
    if (rebuilt.pending && !sameWeights(rebuilt.pending.to, live))
      found.push('a pending switch that never took effect was dropped');
  }
  next = withHistory(next, {
    time: now,
    runId: settings.run.runId,
    actor: settings.run.actor,
    action: 'repair',
    color: next.active ?? 'blue',
    version: '',
    image: '',
    outcome: 'success',
    detail: `rebuilt from ${found.join('; ')}`,
  });
  await session.saveState(next);
  settings.log.warn(
    `${session.label}: state rebuilt from ${found.join('; ')}: active ${next.active ?? 'none'}${next.canary ? `, canary ${next.canary.version} at ${next.canary.percent}%` : ''}`,
  );
  return next;
}

/**
 * Asks a ramp to hold at its current step (`request`), or to go on (null): a file next to the lock
 * on every host, written without the lock (the monitor that holds it reads the file). Returns the
 * hosts it was written on.
 */
export async function setHold(
  specs: readonly HostSpec[],
  settings: SessionSettings,
  request: { reason: string } | null,
): Promise<string[]> {
  const done: string[] = [];
  const body = request
    ? JSON.stringify({
        runId: settings.run.runId,
        actor: settings.run.actor,
        reason: request.reason,
        time: new Date(settings.clock.now()).toISOString(),
      })
    : '';
  const results = await settleLimit(specs, settings.maxParallel, async (spec) => {
    const remote = await connect(spec.target, { ...settings.connect, warn: settings.log.warn });
    try {
      const paths = statePaths(spec.stateDir, settings.app);
      const argv = request
        ? script(
            'al-hold',
            'set -e; mkdir -p "$(dirname "$1")"; tmp=$(mktemp "$(dirname "$1")/.hold.XXXXXXXX"); cat > "$tmp"; chmod 644 "$tmp"; mv -f "$tmp" "$1"',
            [paths.hold],
          )
        : ['rm', '-f', paths.hold];
      await runChecked(remote, argv, request ? 'writing the hold request' : 'removing the hold request', {
        stdin: body,
      });
      done.push(remote.label);
    } finally {
      remote.close();
    }
  });
  const failed = results.flatMap((result) => (result.ok ? [] : [errorMessage(result.error)]));
  if (failed.length > 0)
    throw new Error(
      `the hold request could not be ${request ? 'written' : 'removed'} on every host: ${failed.join('; ')}`,
    );
  return done;
}

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
              ? `${remote.label}: the lock belongs to another job of run ${settings.run.runId}${owner.job ? ` (job ${owner.job})` : ''}: left alone`
              : `${remote.label}: the lock of run ${settings.run.runId} carries no job token (taken by an older version), so it may be another job's: left alone; it goes stale once its run stops`,
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
