import { errorMessage } from '../action';
import { judgeEnd } from './end-of-window';
import { evaluateRule, type Evaluation } from './evaluation';
import {
  colorFigures,
  deferFigures,
  ruleFigures,
  seriesPoint,
  seriesPoints,
  type FigureState,
  type Judgement,
} from './figures';
import { activeRules } from './policy';
import type { Policy, Rule } from './policy-types';
import type { AnalysisResult, ColorFigures, SeriesPoint, Verdict } from './result';
import { sequentialFailure, triggerFailure, type TriggerState } from './sample-checks';
import type { Sample } from './types';
import { addTotals, observe, roundSeconds, windowOf, type Interval, type Side } from './windows';
import { metricNoun, secondsText } from './wording';
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
 * The window arithmetic is in windows.ts, a rule against its window in evaluation.ts, the checks
 * of each sample in sample-checks.ts, the end of the window in end-of-window.ts, the words in
 * wording.ts and the figures a result shows in figures.ts; this file takes the samples and decides.
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

    const check = {
      rules: this.rules,
      subject: this.subject,
      start: this.start,
      evaluate: (rule: Rule) => this.evaluate(rule, at),
    };
    const failure =
      triggerFailure(check, this.triggers, sample) ??
      (this.options.mode === 'canary' && this.policy.earlyDecision
        ? sequentialFailure(check, this.policy.sprt, at)
        : null);
    if (failure) {
      this.judged.set(failure.rule, failure.judgement);
      return this.decide('failure', failure.reason, at, { detectFrom: failure.detectFrom, early: failure.early });
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

  /** The end of the window (end-of-window.ts), applied: the gates' judgements, then an extension or the decision. */
  private judge(at: number): AnalysisResult | null {
    const outcome = judgeEnd(
      {
        policy: this.policy,
        mode: this.options.mode,
        canary: this.options.canary,
        subject: this.subject,
        rules: this.rules,
        canaryRequests: this.canaryRequests,
        extensions: this.extensions,
        elapsed: secondsText((at - this.start) / 1000),
        evaluate: (rule) => this.evaluate(rule, at),
      },
      this.warnings,
    );
    for (const { name, judgement } of outcome.judged) this.judged.set(name, judgement);
    if (outcome.decision === null) {
      this.extensions++;
      this.deadline += this.policy.durationSeconds * 1000;
      this.judged.clear();
      return null;
    }
    const { verdict, reason } = outcome.decision;
    return this.decide(verdict, reason, at, verdict === 'failure' ? { detectFrom: this.start } : {});
  }

  private decide(
    verdict: Verdict,
    reason: string,
    at: number,
    extra: { detectFrom?: number; early?: boolean },
  ): AnalysisResult {
    if (this.sourceErrors > 0 && verdict !== 'error')
      this.warnings.push(
        `the metric source failed ${this.sourceErrors} time${this.sourceErrors === 1 ? '' : 's'} ` +
          `(last: ${this.lastSourceError})`,
      );
    const blind = this.rules.filter(
      (rule) =>
        rule.kind === 'trigger' &&
        this.intervals.length > 0 &&
        this.intervals.every(
          (_, index) => observe(rule.metric, this.intervals, { first: index, last: index }, 'canary').value === null,
        ),
    );
    if (blind.length > 0) {
      const names = blind.map((rule) => `${rule.name} (${metricNoun(rule.metric)})`).join(', ');
      this.warnings.push(
        `no data for ${names}: ${blind.length === 1 ? 'this trigger' : 'these triggers'} watched nothing`,
      );
    }
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
