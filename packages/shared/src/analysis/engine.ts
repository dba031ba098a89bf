import { errorMessage } from '../action';
import { evaluateRule, MIN_P0, sequentialTest, type Evaluation } from './evaluation';
import {
  colorFigures,
  deferFigures,
  ruleFigures,
  seriesPoint,
  seriesPoints,
  type FigureState,
  type Judgement,
} from './figures';
import { activeRules, type Policy, type Rule } from './policy';
import type { AnalysisResult, ColorFigures, RuleStatus, SeriesPoint, Verdict } from './result';
import { binomialUpperTail } from './sprt';
import type { Sample } from './types';
import { addTotals, observe, roundSeconds, windowOf, type Interval, type Side } from './windows';
import { boundText, countText, formatValue, metricNoun, secondsText, sentence } from './wording';
import type { Color } from '../domain';

/**
 * The canary analysis: interval samples in, a verdict out. Pure: no I/O and no clock; time comes
 * from the samples (their `end`) and from the `at` the caller passes. `runAnalysis` (run.ts) is the
 * only part that reads a clock and a metric source.
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
 *
 * The window arithmetic is in windows.ts, a rule against its window in evaluation.ts, the words in
 * wording.ts and the figures a result shows in figures.ts; this file decides.
 */

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

interface TriggerState {
  /** End of the first sample of the current violation, ms. */
  violatedSince: number | null;
  /** Start of that sample, ms. */
  firstBadStart: number | null;
}

export class CanaryAnalysis {
  readonly start: number;
  readonly policy: Policy;
  private readonly options: Required<Pick<AnalysisOptions, 'canary' | 'stable' | 'mode'>> & { model: boolean };
  /** Who is judged, in words: "canary", or the promoted color after a promotion. */
  private readonly subject: string;
  private readonly rules: Rule[];
  private readonly intervals: Interval[] = [];
  private readonly series: SeriesPoint[] = [];
  private readonly triggers = new Map<string, TriggerState>();
  private readonly judged = new Map<string, Judgement>();
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
    this.options = {
      canary: options.canary,
      stable: options.stable,
      mode: options.mode ?? 'canary',
      model: options.model ?? false,
    };
    this.subject = this.options.mode === 'canary' ? 'canary' : this.options.canary;
    this.rules = activeRules(policy, this.options);
    this.deadline = options.start + policy.durationSeconds * 1000;
    for (const rule of this.rules)
      if (rule.kind === 'trigger') this.triggers.set(rule.name, { violatedSince: null, firstBadStart: null });
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
        const lasting = rule.forSeconds > 0 ? ` for ${secondsText(violatedFor)} s` : '';
        this.judged.set(rule.name, { status: 'fail', detail: `violated${lasting}` });
        return this.decide('failure', `${rule.name}: ${sentence(evaluation, this.subject, { after: lasting })}`, at, {
          detectFrom: state.firstBadStart ?? this.start,
        });
      }
    }

    if (this.options.mode === 'canary' && this.policy.earlyDecision) {
      for (const rule of this.rules) {
        if (rule.kind !== 'gate') continue;
        const evaluation = this.evaluate(rule, at);
        const sequential = sequentialTest(evaluation, this.policy.sprt);
        if (sequential?.decision === 'fail') {
          const elapsed = secondsText((at - this.start) / 1000);
          this.judged.set(rule.name, {
            status: 'fail',
            detail: `sequential test: log-likelihood ratio ${sequential.llr.toFixed(2)} ≥ ${sequential.upper.toFixed(2)}`,
          });
          return this.decide(
            'failure',
            `${rule.name}: ${sentence(evaluation, this.subject, { notes: [`sequential test, ${elapsed} s`] })}`,
            at,
            { detectFrom: this.start, early: true },
          );
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
      return this.decide(
        'error',
        `metric source failed ${this.sourceErrorsInRow} times in a row: ${this.lastSourceError}`,
        at,
        {},
      );
    }
    return null;
  }

  /**
   * The figures so far; verdict `inconclusive` while running, the final result once decided. While
   * running (once per sample) the rules' figures and the series are built when first read, as they
   * stood at this call.
   */
  current(at: number): AnalysisResult {
    if (this.decided) return this.decided;
    const elapsed = secondsText((at - this.start) / 1000);
    const total = secondsText((this.deadline - this.start) / 1000);
    return this.result(
      'inconclusive',
      `analysing: ${elapsed} s of ${total} s, ${this.canaryRequests} ${this.subject} requests so far`,
      at,
      {},
      'on-read',
    );
  }

  // ---------------------------------------------------------------------------------- decisions

  private judge(at: number): AnalysisResult | null {
    const elapsed = secondsText((at - this.start) / 1000);
    if (this.options.mode === 'post-promotion') {
      if (this.canaryRequests < this.policy.minRequests)
        this.warnings.push(
          `only ${this.canaryRequests} requests reached ${this.options.canary} while watching (${this.policy.minRequests} expected): the triggers saw little traffic`,
        );
      return this.decide(
        'success',
        `no trigger fired while watching ${this.options.canary} for ${elapsed} s (${this.canaryRequests} requests)`,
        at,
        {},
      );
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
        if (outcome.status === 'fail')
          return this.decide('failure', `${rule.name}: ${outcome.sentence}`, at, { detectFrom: this.start });
        if (outcome.status === 'pass') passed.push(`${rule.name} ${outcome.sentence}`);
        else {
          doubt ??= `${rule.name}: ${outcome.sentence}`;
          if (outcome.status !== 'inconclusive') undecidedOnly = false;
        }
      }
      if (doubt === null) {
        const gates =
          passed.length === 0
            ? 'no gates to judge'
            : `${passed.length === 1 ? 'the gate' : `all ${passed.length} gates`} passed (${passed.join('; ')})`;
        return this.decide('success', `${gates} over ${elapsed} s with ${this.canaryRequests} canary requests`, at, {});
      }
    }

    if (this.policy.onInconclusive === 'extend' && this.extensions < this.policy.maxExtensions) {
      this.extensions++;
      this.deadline += this.policy.durationSeconds * 1000;
      this.judged.clear();
      this.warnings.push(
        `extended by ${this.policy.durationSeconds} s (extension ${this.extensions} of ${this.policy.maxExtensions}) because ${doubt}`,
      );
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
      const after =
        this.extensions > 0 ? `after ${this.extensions} extension${this.extensions === 1 ? '' : 's'}` : 'at the end';
      if (this.policy.onUndecided === 'fail')
        return this.decide('failure', `${doubt}, ${after} (on-undecided: fail)`, at, { detectFrom: this.start });
      this.warnings.push(`passed undecided ${after} (on-undecided: pass): ${doubt}`);
      return this.decide('success', `undecided, passed: ${doubt}, ${after}`, at, {});
    }
    return this.decide(
      'inconclusive',
      `${doubt}${this.extensions > 0 ? `, after ${this.extensions} extension${this.extensions === 1 ? '' : 's'}` : ''}`,
      at,
      {},
    );
  }

  private judgeGate(evaluation: Evaluation, elapsed: string): { status: RuleStatus; sentence: string; detail: string } {
    const { rule, violated, test } = evaluation;
    if (violated === null) {
      const what =
        evaluation.canary.value === null
          ? `no ${metricNoun(rule.metric)} data from the ${this.subject}`
          : 'no stable data to compare with';
      return { status: 'no-data', sentence: `${what} in ${elapsed} s`, detail: what };
    }
    if (!violated)
      return {
        status: 'pass',
        sentence: `${formatValue(rule.metric, evaluation.canary.value)} ${rule.limit === 'max' ? '≤' : '≥'} ${boundText(evaluation)}`,
        detail: 'within the limit',
      };
    if (!test)
      return {
        status: 'fail',
        sentence: sentence(evaluation, this.subject, { after: ` at the end of ${elapsed} s` }),
        detail: 'outside the limit at the end',
      };
    const pValue = binomialUpperTail(test.failures, test.trials, Math.max(test.p0, MIN_P0));
    const counts = `${countText(test.failures)} ${rule.metric === 'error_rate' ? 'errors' : 'slow'} where ${countText(test.trials * test.p0)} are expected at the limit, p = ${pValue.toPrecision(2)}`;
    const level = this.endLevel();
    if (pValue <= level)
      return {
        status: 'fail',
        sentence: sentence(evaluation, this.subject, { after: ` at the end of ${elapsed} s`, notes: [counts] }),
        detail: `binomial test: ${counts}`,
      };
    return {
      status: 'inconclusive',
      sentence: sentence(evaluation, this.subject, {
        after: ' but not significantly',
        notes: [`${counts} > α ${level}`],
      }),
      detail: `above the limit without significance: ${counts}`,
    };
  }

  /** The end-of-window test's level: end-alpha at the first look, the extension's own after one. */
  private endLevel(): number {
    return this.extensions === 0 ? this.policy.sprt.endAlpha : this.policy.sprt.extensionAlpha;
  }

  private decide(
    verdict: Verdict,
    reason: string,
    at: number,
    extra: { detectFrom?: number; early?: boolean },
  ): AnalysisResult {
    if (this.sourceErrors > 0 && verdict !== 'error')
      this.warnings.push(
        `the metric source failed ${this.sourceErrors} time${this.sourceErrors === 1 ? '' : 's'} (last: ${this.lastSourceError})`,
      );
    const blind = this.rules.filter(
      (rule) =>
        rule.kind === 'trigger' &&
        this.intervals.length > 0 &&
        this.intervals.every(
          (_, index) => observe(rule.metric, this.intervals, { first: index, last: index }, 'canary').value === null,
        ),
    );
    if (blind.length > 0)
      this.warnings.push(
        `no data for ${blind.map((rule) => `${rule.name} (${metricNoun(rule.metric)})`).join(', ')}: ${blind.length === 1 ? 'this trigger' : 'these triggers'} watched nothing`,
      );
    const result = this.result(verdict, reason, at, extra, 'now');
    this.decided = result;
    return result;
  }

  // ---------------------------------------------------------------------------------- results

  /** `when`: a decision builds its figures now; a running result when they are first read. */
  private result(
    verdict: Verdict,
    reason: string,
    at: number,
    extra: { detectFrom?: number; early?: boolean },
    when: 'now' | 'on-read',
  ): AnalysisResult {
    const state = this.figureState();
    const result: AnalysisResult = {
      verdict,
      reason,
      warnings: [...this.warnings],
      decidedAt: at,
      detectSeconds:
        verdict === 'failure' && extra.detectFrom !== undefined ? roundSeconds((at - extra.detectFrom) / 1000) : null,
      elapsedSeconds: roundSeconds((at - this.start) / 1000),
      // Built on first read when running (deferFigures keeps the keys in this order).
      rules: when === 'now' ? ruleFigures(state) : [],
      series: when === 'now' ? seriesPoints(state) : [],
      canaryRequests: this.canaryRequests,
      stableRequests: this.stableRequests,
      soFar: { canary: this.soFar('canary'), stable: this.soFar('stable') },
      colors: { canary: this.options.canary, stable: this.options.stable },
      earlyDecision: extra.early === true,
    };
    if (when === 'on-read') deferFigures(result, state);
    return result;
  }

  /** The figures' inputs as they stand: what changes in place is copied, the lists (which only grow) are counted. */
  private figureState(): FigureState {
    return {
      policy: this.policy,
      mode: this.options.mode,
      subject: this.subject,
      rules: this.rules,
      judged: this.rules.map((rule) => this.judged.get(rule.name)),
      violatedSince: this.rules.map((rule) => this.triggers.get(rule.name)?.violatedSince ?? null),
      extensions: this.extensions,
      intervals: this.intervals,
      intervalCount: this.intervals.length,
      series: this.series,
      seriesCount: this.series.length,
    };
  }

  private soFar(side: Side): ColorFigures {
    return colorFigures(this.intervals[this.intervals.length - 1]?.totals[side]);
  }

  private record(sample: Sample): void {
    const canary = sample.colors[this.options.canary];
    const stable = sample.colors[this.options.stable];
    const previous = this.intervals[this.intervals.length - 1]?.totals;
    this.intervals.push({
      start: sample.start,
      end: sample.end,
      canary,
      stable,
      totals: { canary: addTotals(previous?.canary, canary), stable: addTotals(previous?.stable, stable) },
    });
    this.canaryRequests += canary?.requests ?? 0;
    this.stableRequests += stable?.requests ?? 0;
    const t = roundSeconds((sample.end - this.start) / 1000);
    for (const [color, colorSample] of [
      [this.options.canary, canary],
      [this.options.stable, stable],
    ] as const) {
      if (colorSample) this.series.push(seriesPoint(t, color, colorSample));
    }
  }

  private evaluate(rule: Rule, at: number): Evaluation {
    return evaluateRule(
      rule,
      this.intervals,
      this.intervals.length,
      windowOf(rule, this.extensions, this.policy.durationSeconds),
      at,
    );
  }
}
