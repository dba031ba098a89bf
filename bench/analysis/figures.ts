import { binomialUpperTail, DEFAULT_ROLLBACK_ON, type Policy } from '../../packages/shared/src/analysis';
import type { Case, Goal } from './cases';
import { ARGO, argo, FLAGGER, flagger } from './other-tools';
import { analyse, PROCEDURE_TRIGGERS, Run, runSeed, type Outcome } from './simulation';

export interface CaseFigures {
  scenario: Case;
  runs: number;
  rolledBack: number;
  inconclusive: number;
  passedUndecided: number;
  extended: number;
  early: number;
  /** Seconds from the switch to a rollback; Infinity = not rolled back. */
  detection: number[];
  noMark: number[];
  triggersOnly: number[];
  floor: number[];
  /** A fixed one-sided binomial test of the error rate at 300 s, at α: the most any 1%-level test reading 300 s can catch by then. */
  fixedTest: number[];
  others: Map<string, number[]>;
}

export function simulate(
  scenario: Case,
  caseIndex: number,
  policy: Policy,
  runs: number,
  seed: number,
  startDelay: number,
  full: boolean,
): CaseFigures {
  const figures: CaseFigures = {
    scenario,
    runs,
    rolledBack: 0,
    inconclusive: 0,
    passedUndecided: 0,
    extended: 0,
    early: 0,
    detection: [],
    noMark: [],
    triggersOnly: [],
    floor: [],
    fixedTest: [],
    others: new Map(),
  };
  const rollsBack = (outcome: Outcome): boolean => DEFAULT_ROLLBACK_ON.includes(outcome.verdict);
  for (let index = 0; index < runs; index++) {
    const run = new Run(runSeed(seed, caseIndex, index), scenario);
    const outcome = analyse(policy, run, 'mark', startDelay);
    if (rollsBack(outcome)) figures.rolledBack++;
    if (outcome.verdict === 'inconclusive') figures.inconclusive++;
    if (outcome.passedUndecided) figures.passedUndecided++;
    if (outcome.extended) figures.extended++;
    if (outcome.early) figures.early++;
    figures.detection.push(rollsBack(outcome) ? outcome.seconds : Infinity);
    if (!full) continue;
    const old = analyse(policy, run, 'no-mark', startDelay);
    figures.noMark.push(rollsBack(old) ? old.seconds : Infinity);
    const triggers = analyse(PROCEDURE_TRIGGERS, run, 'mark', startDelay);
    figures.triggersOnly.push(triggers.verdict === 'failure' ? triggers.seconds : Infinity);
    figures.floor.push(run.kthError(policy.sprt.minFailures));
    const at300 = run.counts(0, 300);
    figures.fixedTest.push(
      at300.requests > 0 && binomialUpperTail(at300.errors, at300.requests, 0.01) <= policy.sprt.alpha ? 300 : Infinity,
    );
    for (const rule of FLAGGER)
      (figures.others.get(rule.label) ?? figures.others.set(rule.label, []).get(rule.label))?.push(flagger(rule, run));
    for (const rule of ARGO)
      (figures.others.get(rule.label) ?? figures.others.set(rule.label, []).get(rule.label))?.push(argo(rule, run));
  }
  return figures;
}

// ------------------------------------------------------------------------------------ figures

/** Nearest-rank percentile; Infinity stands for "not rolled back". */
export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Infinity;
}

export const share = (values: readonly number[], test: (value: number) => boolean): number =>
  values.filter(test).length / Math.max(1, values.length);
export const pct = (value: number): string => `${(value * 100).toFixed(1)}%`;
export const secs = (value: number): string => (Number.isFinite(value) ? `${Math.round(value)} s` : '–');

export function goalText(goal: Goal): string {
  if (goal.kind === 'detect')
    return `≥${pct(goal.share).replace('.0', '')} ≤${goal.withinSeconds} s${goal.median ? `, median ≤${goal.median} s` : ''}`;
  if (goal.kind === 'no-rollback') return `rolled back ≤${pct(goal.maxShare).replace('.0', '')}`;
  return '–';
}

export function goalMet(figures: CaseFigures): string {
  const { goal } = figures.scenario;
  if (goal.kind === 'detect') {
    const within = share(figures.detection, (s) => s <= goal.withinSeconds) >= goal.share;
    const median = goal.median === undefined || percentile(figures.detection, 0.5) <= goal.median;
    return within && median ? 'yes' : 'NO';
  }
  if (goal.kind === 'no-rollback') return figures.rolledBack / figures.runs <= goal.maxShare ? 'yes' : 'NO';
  return '';
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
      .join('  ');
  return [line(headers), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}
