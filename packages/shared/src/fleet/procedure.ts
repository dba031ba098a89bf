import { errorMessage, settleLimit } from '../action';
import type { SmokeResult } from '../runtime';
import { formatWeights, type Weights } from '../traffic';
import { Cancelled, isCancelled, type HostSession, type SessionSettings } from './session';
import type { AppState, HistoryEntry } from '../hosts';
import type { Color } from '../domain';

/**
 * The pieces every procedure over many hosts shares (deploy, promote, rollback): a per-host work
 * record, timed and audited steps, and the phase result. The all-or-nothing traffic switch is `switch.ts`.
 */

export type Phase = 'deploy' | 'promote' | 'rollback';

export interface StepRecord {
  step: string;
  ok: boolean;
  ms: number;
  detail?: string;
}

export interface HostReport {
  host: string;
  /** `ramp`: a step of the canary monitor's ramp. */
  phase: Phase | 'ramp';
  outcome: 'success' | 'failed' | 'reverted' | 'unchanged' | 'noop';
  fromColor: Color | null;
  toColor: Color | null;
  version: string | null;
  previousVersion: string | null;
  weightsBefore: Weights | null;
  weightsAfter: Weights | null;
  switchMs: number | null;
  /** When this host's new weights were confirmed live (ms since the epoch). */
  liveAt: number | null;
  smoke: SmokeResult[];
  steps: StepRecord[];
  error?: string;
  /** The host's state refused the phase before it changed anything (no canary to promote or abort, another version's canary). */
  refused?: boolean;
}

export interface PhaseResult {
  ok: boolean;
  phase: Phase | 'rollback';
  activeColor: Color | null;
  previousColor: Color | null;
  version: string | null;
  previousVersion: string | null;
  canaryPercent: number;
  switchMs: number | null;
  durationMs: number;
  hosts: HostReport[];
  error?: string;
  /** Not ok because the hosts' state refused it on every host that failed, before any change: a refusal, not a failure. */
  refused?: boolean;
}

/** A host's part of a phase: its session, its report, and what it planned. */
export interface Work {
  session: HostSession;
  report: HostReport;
  target: Color;
  stable: Color | null;
  /** Weights live before this phase touched anything (null: nginx never set up for this app). */
  before: Weights | null;
  /** True once this phase changed the host's live weights. */
  moved: boolean;
  failed: boolean;
  /** The host's state before this phase's traffic switch, to go back to when the switch is undone. */
  stateBefore?: AppState;
}

export function newReport(session: HostSession, phase: HostReport['phase']): HostReport {
  return {
    host: session.label,
    phase,
    outcome: 'unchanged',
    fromColor: null,
    toColor: null,
    version: null,
    previousVersion: null,
    weightsBefore: null,
    weightsAfter: null,
    switchMs: null,
    liveAt: null,
    smoke: [],
    steps: [],
  };
}

/**
 * One timed, logged and audited step on one host. A cancelled run starts no new step; with
 * `interruptible`, a step that waits (health, drain) gives up at once when the run is cancelled
 * (never used for a traffic switch, whose outcome must be known).
 */
export async function step<T>(
  work: Work,
  settings: SessionSettings,
  name: string,
  body: () => Promise<T>,
  detail?: (value: T) => string,
  options: { interruptible?: boolean } = {},
): Promise<T> {
  const started = settings.clock.now();
  try {
    if (isCancelled(settings)) throw new Cancelled(`cancelled before: ${name}`);
    const value =
      options.interruptible && settings.signal ? await raceCancel(body(), settings.signal, name) : await body();
    const record: StepRecord = {
      step: name,
      ok: true,
      ms: settings.clock.now() - started,
      ...(detail ? { detail: detail(value) } : {}),
    };
    work.report.steps.push(record);
    settings.log.info(
      `${work.session.label}: ${name} ok (${record.ms} ms)${record.detail ? `: ${record.detail}` : ''}`,
    );
    await work.session.audit(name, { ok: true, ms: record.ms, detail: record.detail });
    return value;
  } catch (error) {
    const record: StepRecord = {
      step: name,
      ok: false,
      ms: settings.clock.now() - started,
      detail: errorMessage(error),
    };
    work.report.steps.push(record);
    settings.log.warn(`${work.session.label}: ${name} failed: ${record.detail}`);
    await work.session.audit(name, { ok: false, ms: record.ms, detail: record.detail });
    throw error;
  }
}

function raceCancel<T>(promise: Promise<T>, signal: AbortSignal, name: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new Cancelled(`cancelled during: ${name}`));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Cancelled(`cancelled during: ${name}`));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export function history(
  settings: SessionSettings,
  entry: Omit<HistoryEntry, 'time' | 'runId' | 'actor'>,
): HistoryEntry {
  return {
    time: new Date(settings.clock.now()).toISOString(),
    runId: settings.run.runId,
    actor: settings.run.actor,
    ...entry,
  };
}

/** The color serving most traffic: from state, or from nginx when the state file was lost. */
export function stableColor(state: AppState, live: Weights | null): Color | null {
  if (state.active) return state.active;
  if (!live) return null;
  return live.blue >= live.green ? 'blue' : 'green';
}

/**
 * Runs a step on every host (bounded by maxParallel), recording each failure in that host's report.
 * Returns whether every host succeeded; nothing is thrown, so every host's outcome is known.
 */
export async function onEveryHost<W extends Work>(
  works: W[],
  settings: SessionSettings,
  task: (work: W) => Promise<void>,
): Promise<boolean> {
  const results = await settleLimit(works, settings.maxParallel, task);
  results.forEach((result, index) => {
    if (!result.ok) {
      const work = works[index] as W;
      work.failed = true;
      work.report.outcome = 'failed';
      work.report.error ??= errorMessage(result.error);
      if (result.error instanceof Error && result.error.name === 'ConfigurationError') work.report.refused = true;
    }
  });
  return results.every((result) => result.ok);
}

export function summarize(
  phase: PhaseResult['phase'],
  works: Work[],
  ok: boolean,
  started: number,
  settings: SessionSettings,
  canaryPercent: number,
  error?: string,
): PhaseResult {
  const first = works[0];
  const switchTimes = works
    .map((work) => work.report.switchMs)
    .filter((ms): ms is number => ms !== null && Number.isFinite(ms));
  return {
    ok,
    phase,
    activeColor: first?.report.toColor ?? null,
    previousColor: first?.report.fromColor ?? null,
    version: first?.report.version ?? null,
    previousVersion: first?.report.previousVersion ?? null,
    canaryPercent,
    switchMs: switchTimes.length > 0 ? Math.max(...switchTimes) : null,
    durationMs: settings.clock.now() - started,
    hosts: works.map((work) => work.report),
    ...(error ? { error } : {}),
    ...(!ok && works.some((work) => work.report.refused) && works.every((work) => !work.failed || work.report.refused)
      ? { refused: true }
      : {}),
  };
}

export function failedHosts(works: Work[]): string {
  return works
    .filter((work) => work.failed)
    .map((work) => work.report.error ?? `${work.session.label}: failed`)
    .join('\n');
}

/**
 * Reads what nginx serves on the host. With `probe` (URLs on the host), also the HTTP status each
 * answers, in the same round trip; returned by URL.
 */
export async function readLive(
  work: Work,
  settings: SessionSettings,
  probe: readonly string[] = [],
): Promise<Record<string, number>> {
  const view = await step(
    work,
    settings,
    'read live weights',
    () => work.session.router.inspect(probe),
    (value) => {
      const live = value.live ?? value.file;
      return live ? formatWeights(live.weights) : 'not set up yet';
    },
  );
  work.before = (view.live ?? view.file)?.weights ?? null;
  work.report.weightsBefore = work.before;
  return view.health;
}
