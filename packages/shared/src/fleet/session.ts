import { errorMessage, UnrecordedSwitchError, type Clock, type Logger, type RunInfo } from '../action';
import { buildRouter, DEFAULT_ROUTER, type SwitchResult, type TrafficRouter, type Weights } from '../traffic';
import {
  commands,
  runChecked,
  script,
  statePaths,
  stateText,
  writeStateAndAudit,
  type AppState,
  type ConnectOptions,
  type HostSpec,
  type Remote,
  type StatePaths,
} from '../hosts';

/**
 * One host during a run: its connection, its lock, its state and its router (`HostSession`), and the
 * settings every session of a run shares. Opening and closing them is `open.ts`; settling what a
 * dead run left is `settle.ts`.
 */

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
    const time = new Date(this.settings.clock.now()).toISOString();
    const record = { time, runId: this.settings.run.runId, actor: this.settings.run.actor, step, ...details };
    this.auditQueue.push(`${JSON.stringify(record)}\n`);
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

/** The job's identity as a lock owner and a pending switch record it (fields left out when unknown). */
export function jobOf(run: RunInfo): { job?: string; jobToken?: string } {
  return { ...(run.job ? { job: run.job } : {}), ...(run.jobToken ? { jobToken: run.jobToken } : {}) };
}
