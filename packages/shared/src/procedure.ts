import { errorMessage } from './errors';
import type { SmokeResult } from './health';
import { settleLimit } from './parallel';
import { formatWeights, weightsFor, type Weights } from './router';
import type { HostSession, SessionSettings } from './session';
import type { AppState, Color, HistoryEntry } from './state';

/**
 * The pieces every procedure over many hosts shares (deploy, promote, rollback): a per-host work
 * record, timed and audited steps, the all-or-nothing traffic switch, and the phase result.
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
  phase: Phase | 'rollback';
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

export async function step<T>(work: Work, settings: SessionSettings, name: string, body: () => Promise<T>, detail?: (value: T) => string): Promise<T> {
  const started = settings.clock.now();
  try {
    const value = await body();
    const record: StepRecord = { step: name, ok: true, ms: settings.clock.now() - started, ...(detail ? { detail: detail(value) } : {}) };
    work.report.steps.push(record);
    settings.log.info(`${work.session.label}: ${name} ok (${record.ms} ms)${record.detail ? `: ${record.detail}` : ''}`);
    await work.session.audit(name, { ok: true, ms: record.ms, detail: record.detail });
    return value;
  } catch (error) {
    const record: StepRecord = { step: name, ok: false, ms: settings.clock.now() - started, detail: errorMessage(error) };
    work.report.steps.push(record);
    settings.log.warn(`${work.session.label}: ${name} failed: ${record.detail}`);
    await work.session.audit(name, { ok: false, ms: record.ms, detail: record.detail });
    throw error;
  }
}

export function history(settings: SessionSettings, entry: Omit<HistoryEntry, 'time' | 'runId' | 'actor'>): HistoryEntry {
  return { time: new Date(settings.clock.now()).toISOString(), runId: settings.run.runId, actor: settings.run.actor, ...entry };
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
export async function onEveryHost<W extends Work>(works: W[], settings: SessionSettings, task: (work: W) => Promise<void>): Promise<boolean> {
  const results = await settleLimit(works, settings.maxParallel, task);
  results.forEach((result, index) => {
    if (!result.ok) {
      const work = works[index] as W;
      work.failed = true;
      work.report.outcome = 'failed';
      work.report.error ??= errorMessage(result.error);
    }
  });
  return results.every((result) => result.ok);
}

/**
 * Moves every host to the weights `plan` gives it, all or nothing: when one host fails, every host
 * that moved goes back to the weights it had. Returns whether all moved.
 */
export async function switchAll(works: Work[], settings: SessionSettings, name: string, plan: (work: Work) => Weights): Promise<boolean> {
  const results = await settleLimit(works, settings.maxParallel, (work) =>
    step(work, settings, name, async () => {
      const weights = plan(work);
      const result = await work.session.router.setWeights(weights);
      work.moved = true;
      work.report.weightsAfter = result.weights;
      work.report.switchMs = result.liveMs;
      work.report.liveAt = settings.clock.now();
      return result;
    }, (result) => `${formatWeights(result.weights)} live in ${result.liveMs} ms`),
  );
  const failed = results.filter((result) => !result.ok);
  if (failed.length === 0) return true;
  results.forEach((result, index) => {
    if (!result.ok) {
      const work = works[index] as Work;
      work.failed = true;
      work.report.error ??= errorMessage(result.error);
    }
  });
  await settleLimit(works.filter((work) => work.moved), settings.maxParallel, async (work) => {
    const back = work.before ?? (work.stable ? weightsFor(work.stable, 100) : null);
    if (!back) return;
    try {
      await step(work, settings, 'move traffic back', () => work.session.router.setWeights(back), (result) => formatWeights(result.weights));
      work.report.weightsAfter = back;
      work.moved = false;
      work.report.outcome = 'reverted';
    } catch (error) {
      work.report.error = `${work.report.error ?? ''} ; moving traffic back failed: ${errorMessage(error)}`;
      work.report.outcome = 'failed';
    }
  });
  return false;
}

export function summarize(phase: PhaseResult['phase'], works: Work[], ok: boolean, started: number, settings: SessionSettings, canaryPercent: number, error?: string): PhaseResult {
  const first = works[0];
  const switchTimes = works.map((work) => work.report.switchMs).filter((ms): ms is number => ms !== null && Number.isFinite(ms));
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
  };
}

export function failedHosts(works: Work[]): string {
  return works
    .filter((work) => work.failed)
    .map((work) => work.report.error ?? `${work.session.label}: failed`)
    .join('\n');
}

export async function readLive(work: Work, settings: SessionSettings): Promise<void> {
  const live = await step(work, settings, 'read live weights', () => work.session.router.getWeights(), (value) => (value ? formatWeights(value.weights) : 'not set up yet'));
  work.before = live?.weights ?? null;
  work.report.weightsBefore = work.before;
}

