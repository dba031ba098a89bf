import type { Clock } from '../action';
import { errorMessage } from '../action';
import type { Color } from '../hosts';
import { countSlowerThan, histogramQuantile, histogramTotal } from './histogram';
import { activeRules, PERCENTILE_METRICS, type Metric, type Policy, type Rule } from './policy';
import { alternativeRate, binomialUpperTail, sprtDecision } from './sprt';
import { LATENCY_BOUNDS_MS, type ColorSample, type MetricSource, type Sample } from './types';

/**
 * The canary analysis: interval samples in, a verdict out. Pure: no I/O and no clock; time comes
 * from the samples (their `end`) and from the `at` the caller passes. `runAnalysis` is the only
 * part that reads a clock and a metric source.
 *
 * How each rule is judged:
 * - Triggers are checked on every sample over their trailing window; a trigger that stays
 *   violated for `for` seconds fails the analysis (rollback) at once.
 * - Gates on error rate and percentiles are also watched by a sequential test (sprt.ts) on the
 *   canary's errors, or on its requests slower than the latency limit; only a `fail` of that test
 *   stops the analysis early. A success always waits for the end of the duration.
 * - At the end of the duration each gate is judged over its window. At or under the limit: pass.
 *   Above it: fail when the exact one-sided binomial test says the counts are unlikely (p ≤ α) at a
 *   rate equal to the limit, otherwise inconclusive. A few hundred requests cannot tell 1.2 % from
 *   1 %, so a small excess is "cannot tell yet", never a silent pass and never a rollback.
 * - Fewer than `min-requests` canary requests, a gate with no data, or a gate above its limit
 *   without significance make the analysis inconclusive; `on-inconclusive` then extends it (adding
 *   another duration to the deadline and to each gate's window), fails it, or passes it with a warning.
 */

export type Verdict = 'success' | 'failure' | 'inconclusive' | 'error';
/**
 * Verdicts that roll back unless the user says otherwise. `inconclusive` (too little traffic, or
 * a gate with no data, after the extension) is left out: with no evidence either way the canary
 * keeps its share and is not promoted (the step fails), as Argo Rollouts pauses on inconclusive.
 */
export const DEFAULT_ROLLBACK_ON: readonly Verdict[] = ['failure', 'error'];
/** `watching`: violated but not (yet) decided; `inconclusive`: a gate above its limit without significance at the end. */
export type RuleStatus = 'pass' | 'fail' | 'no-data' | 'watching' | 'inconclusive';

export interface RuleFigure {
  name: string;
  metric: string;
  kind: 'gate' | 'trigger';
  /** The bound in force (stable's value ± margin with compare: stable; the configured one when stable has no data). */
  threshold: number;
  observed: number | null;
  stableObserved: number | null;
  windowSeconds: number;
  forSeconds: number;
  violatedForSeconds: number;
  status: RuleStatus;
  detail: string;
}

export interface SeriesPoint {
  /** Seconds since the start, at the end of the interval. */
  t: number;
  color: Color;
  requests: number;
  errorRate: number | null;
  p95Ms: number | null;
}

/** One color's figures over a span: requests, error rate and P95 (null without data). */
export interface ColorFigures {
  requests: number;
  errorRate: number | null;
  p95Ms: number | null;
}

export interface AnalysisResult {
  verdict: Verdict;
  /** One sentence naming the deciding rule and its figures. */
  reason: string;
  warnings: string[];
  /** ms since the epoch. */
  decidedAt: number;
  /** For a failure: seconds from the start (gates) or from the first violating sample (triggers) to the decision. */
  detectSeconds: number | null;
  elapsedSeconds: number;
  rules: RuleFigure[];
  series: SeriesPoint[];
  canaryRequests: number;
  stableRequests: number;
  /** Each side's figures from the start to the last sample. */
  soFar: { canary: ColorFigures; stable: ColorFigures };
  /** Which color is judged (the canary, or the promoted color after a promotion) and which it is compared with. */
  colors: { canary: Color; stable: Color };
  /** The sequential test failed the canary before the end of the duration. */
  earlyDecision: boolean;
}

export interface AnalysisOptions {
  canary: Color;
  stable: Color;
  /** ms since the epoch. */
  start: number;
  /** A model deploy: rules marked models-only apply. */
  model?: boolean;
  /** `post-promotion`: only triggers apply, watching `canary` (the color now serving everything) for `duration`. */
  mode?: 'canary' | 'post-promotion';
}

type Side = 'canary' | 'stable';

/** Counts summed from the first interval up to and including one, so a window is one subtraction. */
interface Totals {
  requests: number;
  errors: number;
  latency: number[];
}

interface Interval {
  start: number;
  end: number;
  canary: ColorSample | undefined;
  stable: ColorSample | undefined;
  totals: Record<Side, Totals>;
}

/** Intervals [first, last] of the list (empty when first > last). */
interface Span {
  first: number;
  last: number;
}

interface Observation {
  value: number | null;
  requests: number;
  errors: number;
  latency: number[];
}

interface Evaluation {
  rule: Rule;
  windowSeconds: number;
  canary: Observation;
  stable: Observation;
  threshold: number | null;
  /** null: no data for the canary, or for stable when comparing. */
  violated: boolean | null;
  /** Bernoulli counts behind a `max` limit on error rate or a percentile. */
  test: { failures: number; trials: number; p0: number } | null;
}

interface TriggerState {
  /** End of the first sample of the current violation, ms. */
  violatedSince: number | null;
  /** Start of that sample, ms. */
  firstBadStart: number | null;
}

const NO_OBSERVATION: Observation = { value: null, requests: 0, errors: 0, latency: [] };

/** Guards both tests against a p0 of 0 (compare: stable, stable had no errors, margin 0): a single canary error is not yet proof. */
const MIN_P0 = 1e-4;

export class CanaryAnalysis {
  readonly start: number;
  readonly policy: Policy;
  private readonly options: Required<Pick<AnalysisOptions, 'canary' | 'stable' | 'mode'>> & { model: boolean };
  private readonly rules: Rule[];
  private readonly intervals: Interval[] = [];
  private readonly series: SeriesPoint[] = [];
  private readonly triggers = new Map<string, TriggerState>();
  private readonly judged = new Map<string, { status: RuleStatus; detail: string }>();
  private readonly warnings: string[] = [];
  private deadline: number;
  private extensions = 0;
  private sourceErrorsInRow = 0;
  private sourceErrors = 0;
  private lastSourceError = '';
  private canaryRequests = 0;
  private stableRequests = 0;
  private decided: AnalysisResult | null = null;

  constructor(policy: Policy, options: AnalysisOptions) {
    this.policy = policy;
    this.start = options.start;
    this.options = { canary: options.canary, stable: options.stable, mode: options.mode ?? 'canary', model: options.model ?? false };
    this.rules = activeRules(policy, this.options);
    this.deadline = options.start + policy.durationSeconds * 1000;
    for (const rule of this.rules) if (rule.kind === 'trigger') this.triggers.set(rule.name, { violatedSince: null, firstBadStart: null });
  }

  /** Takes one interval sample; returns the final result once decided, null to go on. */
  add(sample: Sample): AnalysisResult | null {
    if (this.decided) return this.decided;
    this.sourceErrorsInRow = 0;
    this.record(sample);
    const at = sample.end;

    for (const rule of this.rules) {
      if (rule.kind !== 'trigger') continue;
      const evaluation = this.evaluate(rule, at);
      const state = this.triggers.get(rule.name) as TriggerState;
      if (evaluation.violated !== true) {
        state.violatedSince = null;
        state.firstBadStart = null;
        continue;
      }
      if (state.violatedSince === null) {
        state.violatedSince = at;
        state.firstBadStart = sample.start;
      }
      const violatedFor = (at - state.violatedSince) / 1000;
      if (violatedFor >= rule.forSeconds) {
        const lasting = rule.forSeconds > 0 ? ` for ${seconds(violatedFor)} s` : '';
        this.judged.set(rule.name, { status: 'fail', detail: `violated${lasting}` });
        return this.decide('failure', `${rule.name}: ${this.sentence(evaluation, { after: lasting })}`, at, { detectFrom: state.firstBadStart ?? this.start });
      }
    }

    if (this.options.mode === 'canary' && this.policy.earlyDecision) {
      for (const rule of this.rules) {
        if (rule.kind !== 'gate') continue;
        const evaluation = this.evaluate(rule, at);
        const sequential = this.sequentialTest(evaluation);
        if (sequential?.decision === 'fail') {
          const elapsed = seconds((at - this.start) / 1000);
          this.judged.set(rule.name, { status: 'fail', detail: `sequential test: log-likelihood ratio ${sequential.llr.toFixed(2)} ≥ ${sequential.upper.toFixed(2)}` });
          return this.decide('failure', `${rule.name}: ${this.sentence(evaluation, { notes: [`sequential test, ${elapsed} s`] })}`, at, { detectFrom: this.start, early: true });
        }
      }
    }

    if (at >= this.deadline - (this.policy.intervalSeconds * 1000) / 2) return this.judge(at);
    return null;
  }

  /** Counts a failed sample; the verdict is `error` after max-source-errors in a row. */
  sourceFailed(error: unknown, at: number): AnalysisResult | null {
    if (this.decided) return this.decided;
    this.sourceErrorsInRow++;
    this.sourceErrors++;
    this.lastSourceError = errorMessage(error);
    if (this.sourceErrorsInRow >= this.policy.maxSourceErrors) {
      return this.decide('error', `metric source failed ${this.sourceErrorsInRow} times in a row: ${this.lastSourceError}`, at, {});
    }
    return null;
  }

  /** The figures so far; verdict `inconclusive` while running, the final result once decided. */
  current(at: number): AnalysisResult {
    if (this.decided) return this.decided;
    const elapsed = seconds((at - this.start) / 1000);
    const total = seconds((this.deadline - this.start) / 1000);
    return this.result('inconclusive', `analysing: ${elapsed} s of ${total} s, ${this.canaryRequests} ${this.subject()} requests so far`, at, {});
  }

  // ---------------------------------------------------------------------------------- decisions

  private judge(at: number): AnalysisResult | null {
    const elapsed = seconds((at - this.start) / 1000);
    if (this.options.mode === 'post-promotion') {
      if (this.canaryRequests < this.policy.minRequests) this.warnings.push(`only ${this.canaryRequests} requests reached ${this.options.canary} while watching (${this.policy.minRequests} expected): the triggers saw little traffic`);
      return this.decide('success', `no trigger fired while watching ${this.options.canary} for ${elapsed} s (${this.canaryRequests} requests)`, at, {});
    }

    let doubt: string | null = null;
    // Only a gate above its limit without significance may be passed by on-undecided; no data never is.
    let undecidedOnly = true;
    if (this.canaryRequests < this.policy.minRequests) {
      doubt = `too little traffic: ${this.canaryRequests} canary requests in ${elapsed} s, ${this.policy.minRequests} needed`;
      undecidedOnly = false;
    } else {
      const passed: string[] = [];
      for (const rule of this.rules) {
        if (rule.kind !== 'gate') continue;
        const evaluation = this.evaluate(rule, at);
        const outcome = this.judgeGate(evaluation, elapsed);
        this.judged.set(rule.name, { status: outcome.status, detail: outcome.detail });
        if (outcome.status === 'fail') return this.decide('failure', `${rule.name}: ${outcome.sentence}`, at, { detectFrom: this.start });
        if (outcome.status === 'pass') passed.push(`${rule.name} ${outcome.sentence}`);
        else {
          doubt ??= `${rule.name}: ${outcome.sentence}`;
          if (outcome.status !== 'inconclusive') undecidedOnly = false;
        }
      }
      if (doubt === null) {
        const gates = passed.length === 0 ? 'no gates to judge' : `${passed.length === 1 ? 'the gate' : `all ${passed.length} gates`} passed (${passed.join('; ')})`;
        return this.decide('success', `${gates} over ${elapsed} s with ${this.canaryRequests} canary requests`, at, {});
      }
    }

    if (this.policy.onInconclusive === 'extend' && this.extensions < this.policy.maxExtensions) {
      this.extensions++;
      this.deadline += this.policy.durationSeconds * 1000;
      this.judged.clear();
      this.warnings.push(`extended by ${this.policy.durationSeconds} s (extension ${this.extensions} of ${this.policy.maxExtensions}) because ${doubt}`);
      return null;
    }
    if (this.policy.onInconclusive === 'pass') {
      this.warnings.push(`passed although inconclusive (on-inconclusive: pass): ${doubt}`);
      return this.decide('success', `inconclusive, passed by policy: ${doubt}`, at, {});
    }
    if (this.policy.onInconclusive === 'fail') return this.decide('failure', doubt, at, { detectFrom: this.start });
    if (undecidedOnly && this.policy.onUndecided !== 'inconclusive') {
      // The canary never crossed the sequential test's bound nor the end test's α, and no trigger
      // fired: the data cannot tell it from a canary at the limit (see the README).
      const after = this.extensions > 0 ? `after ${this.extensions} extension${this.extensions === 1 ? '' : 's'}` : 'at the end';
      if (this.policy.onUndecided === 'fail') return this.decide('failure', `${doubt}, ${after} (on-undecided: fail)`, at, { detectFrom: this.start });
      this.warnings.push(`passed undecided ${after} (on-undecided: pass): ${doubt}`);
      return this.decide('success', `undecided, passed: ${doubt}, ${after}`, at, {});
    }
    return this.decide('inconclusive', `${doubt}${this.extensions > 0 ? `, after ${this.extensions} extension${this.extensions === 1 ? '' : 's'}` : ''}`, at, {});
  }

  private judgeGate(evaluation: Evaluation, elapsed: string): { status: RuleStatus; sentence: string; detail: string } {
    const { rule, violated, test } = evaluation;
    if (violated === null) {
      const what = evaluation.canary.value === null ? `no ${metricNoun(rule.metric)} data from the ${this.subject()}` : 'no stable data to compare with';
      return { status: 'no-data', sentence: `${what} in ${elapsed} s`, detail: what };
    }
    if (!violated) return { status: 'pass', sentence: `${this.value(rule.metric, evaluation.canary.value)} ${rule.limit === 'max' ? '≤' : '≥'} ${this.bound(evaluation)}`, detail: 'within the limit' };
    if (!test) return { status: 'fail', sentence: this.sentence(evaluation, { after: ` at the end of ${elapsed} s` }), detail: 'outside the limit at the end' };
    const pValue = binomialUpperTail(test.failures, test.trials, Math.max(test.p0, MIN_P0));
    const counts = `${count(test.failures)} ${rule.metric === 'error_rate' ? 'errors' : 'slow'} where ${count(test.trials * test.p0)} are expected at the limit, p = ${pValue.toPrecision(2)}`;
    const level = this.endLevel();
    if (pValue <= level) return { status: 'fail', sentence: this.sentence(evaluation, { after: ` at the end of ${elapsed} s`, notes: [counts] }), detail: `binomial test: ${counts}` };
    return { status: 'inconclusive', sentence: this.sentence(evaluation, { after: ' but not significantly', notes: [`${counts} > α ${level}`] }), detail: `above the limit without significance: ${counts}` };
  }

  /** The end-of-window test's level: end-alpha at the first look, the extension's own after one. */
  private endLevel(): number {
    return this.extensions === 0 ? this.policy.sprt.endAlpha : this.policy.sprt.extensionAlpha;
  }

  private sequentialTest(evaluation: Evaluation) {
    const { test, rule } = evaluation;
    if (!test || test.trials <= 0) return null;
    const p0 = Math.max(test.p0, MIN_P0);
    if (p0 >= 1) return null;
    const multiplier = rule.metric === 'error_rate' ? this.policy.sprt.errorMultiplier : this.policy.sprt.latencyMultiplier;
    const { alpha, beta, minFailures } = this.policy.sprt;
    return sprtDecision({ failures: test.failures, trials: test.trials, p0, p1: alternativeRate(p0, multiplier), alpha, beta, minFailures });
  }

  private decide(verdict: Verdict, reason: string, at: number, extra: { detectFrom?: number; early?: boolean }): AnalysisResult {
    if (this.sourceErrors > 0 && verdict !== 'error') this.warnings.push(`the metric source failed ${this.sourceErrors} time${this.sourceErrors === 1 ? '' : 's'} (last: ${this.lastSourceError})`);
    const blind = this.rules.filter((rule) => rule.kind === 'trigger' && this.intervals.length > 0 && this.intervals.every((_, index) => observe(rule.metric, this.intervals, { first: index, last: index }, 'canary').value === null));
    if (blind.length > 0) this.warnings.push(`no data for ${blind.map((rule) => `${rule.name} (${metricNoun(rule.metric)})`).join(', ')}: ${blind.length === 1 ? 'this trigger' : 'these triggers'} watched nothing`);
    const result = this.result(verdict, reason, at, extra);
    this.decided = result;
    return result;
  }

  private result(verdict: Verdict, reason: string, at: number, extra: { detectFrom?: number; early?: boolean }): AnalysisResult {
    return {
      verdict,
      reason,
      warnings: [...this.warnings],
      decidedAt: at,
      detectSeconds: verdict === 'failure' && extra.detectFrom !== undefined ? roundSeconds((at - extra.detectFrom) / 1000) : null,
      elapsedSeconds: roundSeconds((at - this.start) / 1000),
      rules: this.rules.map((rule) => this.figure(rule)),
      series: [...this.series],
      canaryRequests: this.canaryRequests,
      stableRequests: this.stableRequests,
      soFar: { canary: this.soFar('canary'), stable: this.soFar('stable') },
      colors: { canary: this.options.canary, stable: this.options.stable },
      earlyDecision: extra.early === true,
    };
  }

  // ---------------------------------------------------------------------------------- figures

  private soFar(side: Side): ColorFigures {
    const totals = this.intervals[this.intervals.length - 1]?.totals[side];
    if (!totals) return { requests: 0, errorRate: null, p95Ms: null };
    return { requests: totals.requests, errorRate: totals.requests > 0 ? totals.errors / totals.requests : null, p95Ms: histogramQuantile(totals.latency, 0.95) };
  }

  private record(sample: Sample): void {
    const canary = sample.colors[this.options.canary];
    const stable = sample.colors[this.options.stable];
    const previous = this.intervals[this.intervals.length - 1]?.totals;
    this.intervals.push({ start: sample.start, end: sample.end, canary, stable, totals: { canary: addTotals(previous?.canary, canary), stable: addTotals(previous?.stable, stable) } });
    this.canaryRequests += canary?.requests ?? 0;
    this.stableRequests += stable?.requests ?? 0;
    const t = roundSeconds((sample.end - this.start) / 1000);
    for (const [color, colorSample] of [
      [this.options.canary, canary],
      [this.options.stable, stable],
    ] as const) {
      if (!colorSample) continue;
      const p95Ms = colorSample.latency.length > 0 ? histogramQuantile(colorSample.latency, 0.95) : null;
      this.series.push({ t, color, requests: colorSample.requests, errorRate: colorSample.requests > 0 ? colorSample.errors / colorSample.requests : null, p95Ms });
    }
  }

  /** A gate's window grows by one duration per extension: an extension is there to gather more data. */
  private windowOf(rule: Rule): number {
    return rule.kind === 'gate' ? rule.windowSeconds + this.extensions * this.policy.durationSeconds : rule.windowSeconds;
  }

  /** `withStable`: also stable's figures when the rule does not compare with stable (for summaries). */
  private evaluate(rule: Rule, at: number, withStable = false): Evaluation {
    const windowSeconds = this.windowOf(rule);
    const span = inWindow(this.intervals, windowSeconds, at);
    const canary = observe(rule.metric, this.intervals, span, 'canary');
    const stable = withStable || rule.compare === 'stable' ? observe(rule.metric, this.intervals, span, 'stable') : NO_OBSERVATION;
    let threshold: number | null = rule.threshold;
    if (rule.compare === 'stable') threshold = stable.value === null ? null : rule.limit === 'max' ? stable.value + rule.margin : stable.value - rule.margin;
    const violated = canary.value === null || threshold === null ? null : rule.limit === 'max' ? canary.value > threshold : canary.value < threshold;
    let test: Evaluation['test'] = null;
    if (rule.limit === 'max' && threshold !== null) {
      if (rule.metric === 'error_rate' && canary.requests > 0) test = { failures: canary.errors, trials: canary.requests, p0: threshold };
      const quantile = PERCENTILE_METRICS[rule.metric];
      const trials = histogramTotal(canary.latency);
      if (quantile !== undefined && trials > 0) test = { failures: countSlowerThan(canary.latency, threshold), trials, p0: 1 - quantile };
    }
    return { rule, windowSeconds, canary, stable, threshold, violated, test };
  }

  private figure(rule: Rule): RuleFigure {
    const last = this.intervals[this.intervals.length - 1];
    const evaluation = last ? this.evaluate(rule, last.end, true) : null;
    const state = this.triggers.get(rule.name);
    const violatedFor = state && state.violatedSince !== null && last ? (last.end - state.violatedSince) / 1000 : 0;
    const judged = this.judged.get(rule.name);
    let status: RuleStatus;
    if (judged) status = judged.status;
    else if (!evaluation || evaluation.violated === null) status = 'no-data';
    else status = evaluation.violated ? 'watching' : 'pass';
    const parts: string[] = [];
    if (evaluation) parts.push([this.observedText(evaluation), ...this.slowNote(evaluation)].join(', '));
    if (rule.kind === 'trigger' && rule.forSeconds > 0 && violatedFor > 0) parts.push(`violated for ${seconds(violatedFor)} of ${rule.forSeconds} s`);
    // A rule the sequential test failed says so once, in its judgement.
    if (evaluation && rule.kind === 'gate' && this.options.mode === 'canary' && !judged?.detail.startsWith('sequential test')) {
      const sequential = this.sequentialTest(evaluation);
      if (sequential) parts.push(`sequential test ${sequential.llr.toFixed(2)} (fails at ${sequential.upper.toFixed(2)})`);
    }
    if (judged) parts.push(judged.detail);
    return {
      name: rule.name,
      metric: rule.metric,
      kind: rule.kind,
      threshold: evaluation?.threshold ?? rule.threshold,
      observed: evaluation?.canary.value ?? null,
      stableObserved: evaluation?.stable.value ?? null,
      windowSeconds: this.windowOf(rule),
      forSeconds: rule.forSeconds,
      violatedForSeconds: roundSeconds(violatedFor),
      status,
      detail: parts.join('; '),
    };
  }

  // ---------------------------------------------------------------------------------- wording

  private subject(): string {
    return this.options.mode === 'canary' ? 'canary' : this.options.canary;
  }

  private value(metric: Metric, value: number | null): string {
    return formatValue(metric, value);
  }

  private bound(evaluation: Evaluation): string {
    const { rule, threshold, stable } = evaluation;
    const text = formatValue(rule.metric, threshold);
    if (rule.compare !== 'stable') return text;
    return `${text} (stable ${formatValue(rule.metric, stable.value)} ${rule.limit === 'max' ? '+' : '−'} ${formatValue(rule.metric, rule.margin)})`;
  }

  /** "canary 21.3% errors over 46 requests > 1% (sequential test, 14 s)", "canary memory 97% > 95% for 60 s". */
  private sentence(evaluation: Evaluation, extra: { after?: string; notes?: string[] } = {}): string {
    const notes = [...this.slowNote(evaluation), ...(extra.notes ?? [])];
    return `${this.observedText(evaluation)} ${evaluation.rule.limit === 'max' ? '>' : '<'} ${this.bound(evaluation)}${extra.after ?? ''}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`;
  }

  /** For a percentile limit: the share of requests slower than it, which is what the tests count. */
  private slowNote(evaluation: Evaluation): string[] {
    const { test, rule, threshold } = evaluation;
    if (!test || !(rule.metric in PERCENTILE_METRICS)) return [];
    return [`${formatValue('error_rate', test.failures / test.trials)} of requests took over ${Math.round(threshold ?? 0)} ms`];
  }

  private observedText(evaluation: Evaluation): string {
    const { rule, canary } = evaluation;
    const subject = this.subject();
    const recent = rule.kind === 'trigger' && evaluation.windowSeconds > 0 ? `the last ${evaluation.windowSeconds} s (${canary.requests} requests)` : `${canary.requests} requests`;
    const value = formatValue(rule.metric, canary.value);
    if (rule.metric === 'error_rate') return `${subject} ${value} errors over ${recent}`;
    if (rule.metric === 'health_failures_in_row') return `${subject} ${value} health-check failures in a row`;
    if (rule.metric === 'memory_ratio') return `${subject} memory ${value}`;
    if (rule.metric === 'drift_score') return `${subject} model drift score ${value}`;
    if (rule.metric in PERCENTILE_METRICS) return `${subject} ${rule.metric.slice(0, -'_ms'.length).toUpperCase()} ${value} over ${recent}`;
    return `${subject} ${rule.metric.slice('gauge:'.length)} ${value}`;
  }
}

// ------------------------------------------------------------------------------------ helpers

/** The intervals ending within `windowSeconds` before `at`; window 0 = the latest interval. */
function inWindow(intervals: readonly Interval[], windowSeconds: number, at: number): Span {
  let last = intervals.length - 1;
  while (last >= 0 && (intervals[last] as Interval).end > at) last--;
  if (last < 0 || windowSeconds <= 0) return { first: last, last };
  const from = at - windowSeconds * 1000;
  // Binary search for the first interval ending after `from` (ends increase).
  let low = 0;
  let high = last;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((intervals[middle] as Interval).end > from) high = middle;
    else low = middle + 1;
  }
  return { first: (intervals[low] as Interval).end > from ? low : last + 1, last };
}

const HISTOGRAM_LENGTH = LATENCY_BOUNDS_MS.length + 1;

function addTotals(previous: Totals | undefined, sample: ColorSample | undefined): Totals {
  const latency = previous ? [...previous.latency] : new Array<number>(HISTOGRAM_LENGTH).fill(0);
  if (sample) for (let index = 0; index < Math.min(HISTOGRAM_LENGTH, sample.latency.length); index++) latency[index] = (latency[index] ?? 0) + (sample.latency[index] ?? 0);
  return { requests: (previous?.requests ?? 0) + (sample?.requests ?? 0), errors: (previous?.errors ?? 0) + (sample?.errors ?? 0), latency };
}

function pointValue(metric: Metric, sample: ColorSample): number | undefined {
  if (metric === 'health_failures_in_row') return sample.healthFailuresInRow;
  if (metric === 'memory_ratio') return sample.memoryRatio;
  if (metric === 'drift_score') return sample.driftScore;
  if (metric.startsWith('gauge:')) return sample.gauges?.[metric.slice('gauge:'.length)];
  return undefined;
}

/** A color's value of `metric` over a span: sums for counts, the newest value for point metrics. */
function observe(metric: Metric, intervals: readonly Interval[], span: Span, side: Side): Observation {
  const upto = intervals[span.last]?.totals[side];
  const before = intervals[span.first - 1]?.totals[side];
  const empty = span.first > span.last || !upto;
  const requests = empty ? 0 : upto.requests - (before?.requests ?? 0);
  const errors = empty ? 0 : upto.errors - (before?.errors ?? 0);
  const latency = empty || !(metric in PERCENTILE_METRICS) ? [] : upto.latency.map((bucket, index) => bucket - (before?.latency[index] ?? 0));
  let value: number | null = null;
  if (metric === 'error_rate') value = requests > 0 ? errors / requests : null;
  else if (metric in PERCENTILE_METRICS) value = histogramQuantile(latency, PERCENTILE_METRICS[metric] as number);
  else {
    for (let index = span.last; index >= span.first && index >= 0; index--) {
      const sample = (intervals[index] as Interval)[side];
      const point = sample ? pointValue(metric, sample) : undefined;
      if (point !== undefined) {
        value = point;
        break;
      }
    }
  }
  return { value, requests, errors, latency };
}

function metricNoun(metric: Metric): string {
  if (metric === 'error_rate') return 'request';
  if (metric in PERCENTILE_METRICS) return 'latency';
  if (metric === 'health_failures_in_row') return 'health-check';
  if (metric === 'memory_ratio') return 'memory';
  if (metric === 'drift_score') return 'model drift';
  return metric;
}

/** 0.213 → "21.3%", 0.01 → "1%", 2000 → "2000 ms". */
export function formatValue(metric: Metric | string, value: number | null): string {
  if (value === null || !Number.isFinite(value)) return 'n/a';
  if (metric === 'error_rate' || metric === 'memory_ratio') return `${Number((value * 100).toPrecision(3))}%`;
  if (metric in PERCENTILE_METRICS) return `${Math.round(value)} ms`;
  if (metric === 'health_failures_in_row') return String(Math.round(value));
  return String(Number(value.toPrecision(3)));
}

function count(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function roundSeconds(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function seconds(value: number): string {
  return String(Math.round(value * 10) / 10);
}

// ------------------------------------------------------------------------------------ runner

/** Waits until `until` on `clock`; false when `signal` aborted first. */
async function sleepUntil(clock: Clock, until: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return false;
  const ms = until - clock.now();
  if (ms > 0) {
    if (!signal) await clock.sleep(ms);
    else {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => resolve();
        signal.addEventListener('abort', onAbort, { once: true });
        clock.sleep(ms).then(
          () => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          },
          (error: unknown) => {
            signal.removeEventListener('abort', onAbort);
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
      });
    }
  }
  return !signal?.aborted;
}

/**
 * Samples `source` every `intervalMs` on `clock` and feeds `analysis` until it decides. Windows are
 * back to back from the analysis start, each a whole number of intervals: one normally; after a
 * failed sample the next window also covers the missed interval, and behind schedule (a slow
 * source) the next window reaches up to now. Aborting through `signal` returns the figures so far
 * as `inconclusive`.
 */
export async function runAnalysis(
  source: MetricSource,
  analysis: CanaryAnalysis,
  options: { clock: Clock; intervalMs: number; onSample?: (sample: Sample, result: AnalysisResult) => void; signal?: AbortSignal },
): Promise<AnalysisResult> {
  const { clock, intervalMs, onSample, signal } = options;
  let windowStart = analysis.start;
  // A start in the past (the switch, when the deploy recorded where the log stood): the first
  // window runs to the next interval boundary after now, so it holds everything since the start
  // and the later samples stay on the start's grid.
  let windowEnd = windowStart + Math.max(1, Math.ceil((clock.now() - windowStart) / intervalMs)) * intervalMs;
  while (true) {
    if (!(await sleepUntil(clock, windowEnd, signal))) {
      const now = clock.now();
      const figures = analysis.current(now);
      return { ...figures, reason: `stopped after ${seconds(figures.elapsedSeconds)} s, before a decision (${figures.canaryRequests} canary requests so far)` };
    }
    let sample: Sample;
    try {
      sample = await source.sample({ start: windowStart, end: windowEnd });
    } catch (error) {
      const failed = analysis.sourceFailed(error, clock.now());
      if (failed) return failed;
      windowEnd += intervalMs;
      continue;
    }
    const decided = analysis.add(sample);
    onSample?.(sample, decided ?? analysis.current(sample.end));
    if (decided) return decided;
    windowStart = sample.end;
    // A source slower than the interval: the next window reaches up to now, so decisions do not lag.
    windowEnd = windowStart + Math.max(1, Math.floor((clock.now() - windowStart) / intervalMs)) * intervalMs;
  }
}
