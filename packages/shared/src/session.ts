import { randomUUID } from 'node:crypto';
import type { Clock } from './clock';
import { errorMessage } from './errors';
import type { HostSpec } from './inputs';
import type { Logger } from './log';
import { settleLimit } from './parallel';
import { explainUnprepared } from './preflight';
import { NginxRouter, type TrafficRouter } from './router';
import { connect, type ConnectOptions, type Remote } from './ssh';
import { acquireLock, audit, readState, statePaths, writeState, type AppState, type LockOwner, type StatePaths } from './state';

/** Who is acting, for locks, state history and the audit log. */
export interface RunInfo {
  runId: string;
  actor: string;
  runUrl: string;
}

export interface LockSettings {
  waitSeconds: number;
  staleSeconds: number;
  breakStale: boolean;
}

export interface SessionSettings {
  app: string;
  splitKey: string;
  connect: ConnectOptions;
  lock: LockSettings;
  maxParallel: number;
  run: RunInfo;
  clock: Clock;
  log: Logger;
}

/** One host, connected, locked for this run, with its state read. */
export class HostSession {
  readonly router: TrafficRouter;
  readonly paths: StatePaths;

  constructor(
    readonly spec: HostSpec,
    readonly remote: Remote,
    private readonly settings: SessionSettings,
    public state: AppState,
    private readonly unlock: () => Promise<void>,
    router?: TrafficRouter,
  ) {
    this.paths = statePaths(spec.stateDir, settings.app);
    this.router =
      router ??
      new NginxRouter(
        remote,
        { app: settings.app, bluePort: spec.bluePort, greenPort: spec.greenPort, statusPort: spec.nginxStatusPort, splitKey: settings.splitKey },
        spec.nginxConfDir,
        spec.nginxCommand,
        settings.clock.now,
      );
  }

  get label(): string {
    return this.remote.label;
  }

  port(color: 'blue' | 'green'): number {
    return color === 'blue' ? this.spec.bluePort : this.spec.greenPort;
  }

  async saveState(state: AppState): Promise<void> {
    await writeState(this.remote, this.paths, state);
    this.state = state;
  }

  /** Appends to the host's audit log; an audit failure is reported but does not stop a rollback. */
  async audit(step: string, details: Record<string, unknown> = {}): Promise<void> {
    try {
      await audit(this.remote, this.paths, { time: new Date(this.settings.clock.now()).toISOString(), runId: this.settings.run.runId, actor: this.settings.run.actor, step, ...details });
    } catch (error) {
      this.settings.log.warn(`${this.label}: could not append to the audit log: ${errorMessage(error)}`);
    }
  }

  async close(): Promise<void> {
    try {
      await this.unlock();
    } catch (error) {
      this.settings.log.warn(`${this.label}: could not release the lock: ${errorMessage(error)}`);
    } finally {
      this.remote.close();
    }
  }
}

async function openSession(spec: HostSpec, settings: SessionSettings, owner: Omit<LockOwner, 'token'>): Promise<HostSession> {
  const remote = await connect(spec.target, { ...settings.connect, warn: settings.log.warn });
  try {
    const paths = statePaths(spec.stateDir, settings.app);
    const unlock = await acquireLock(remote, paths, { ...owner, token: randomUUID() }, {
      waitSeconds: settings.lock.waitSeconds,
      staleSeconds: settings.lock.staleSeconds,
      breakStale: settings.lock.breakStale,
      sleep: settings.clock.sleep,
      now: settings.clock.now,
      warn: settings.log.warn,
    }).catch((error: unknown) => explainUnprepared(remote, { stateDir: spec.stateDir, includeDir: spec.nginxConfDir, nginx: spec.nginxCommand, accessLog: '' }, error));
    try {
      const state = await readState(remote, paths, settings.app, new Date(settings.clock.now()).toISOString());
      return new HostSession(spec, remote, settings, state, unlock);
    } catch (error) {
      await unlock();
      throw error;
    }
  } catch (error) {
    remote.close();
    throw error;
  }
}

/**
 * Connects to and locks every host. All or nothing: if any host cannot be opened, the others are
 * released and the first errors are thrown together, before anything has changed.
 */
export async function openSessions(specs: readonly HostSpec[], settings: SessionSettings, owner: Omit<LockOwner, 'token'>): Promise<HostSession[]> {
  const opened = await settleLimit(specs, settings.maxParallel, (spec) => openSession(spec, settings, owner));
  const failures = opened.flatMap((result) => (result.ok ? [] : [result.error]));
  if (failures.length > 0) {
    await Promise.all(opened.flatMap((result) => (result.ok ? [result.value.close()] : [])));
    const first = failures[0];
    if (failures.length === 1) throw first;
    const error = new AggregateError(failures, failures.map(errorMessage).join('\n'));
    if (first instanceof Error && first.name === 'ConfigurationError') Object.defineProperty(error, 'name', { value: 'ConfigurationError' });
    throw error;
  }
  return opened.map((result) => (result as { ok: true; value: HostSession }).value);
}

export async function closeSessions(sessions: readonly HostSession[]): Promise<void> {
  await Promise.all(sessions.map((session) => session.close()));
}
