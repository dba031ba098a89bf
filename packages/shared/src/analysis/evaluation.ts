import { countSlowerThan, histogramTotal } from './histogram';
import { PERCENTILE_METRICS, type Rule, type SprtSettings } from './policy-types';
import { alternativeRate, sprtDecision, type SprtResult } from './sprt';
import { inWindow, NO_OBSERVATION, observe, type Interval, type Observation } from './windows';

/** A rule held against its window: the bound in force, whether it is violated, and the counts the tests read. */
export interface Evaluation {
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

/** Guards both tests against a p0 of 0 (compare: stable, stable had no errors, margin 0): a single canary error is not yet proof. */
export const MIN_P0 = 1e-4;

/**
 * `rule` over the `windowSeconds` ending at `at`, from the first `count` of `intervals`.
 * `withStable`: also stable's figures when the rule does not compare with stable (for summaries).
 */
export function evaluateRule(
  rule: Rule,
  intervals: readonly Interval[],
  count: number,
  windowSeconds: number,
  at: number,
  withStable = false,
): Evaluation {
  const span = inWindow(intervals, count, windowSeconds, at);
  const canary = observe(rule.metric, intervals, span, 'canary');
  const stable =
    withStable || rule.compare === 'stable' ? observe(rule.metric, intervals, span, 'stable') : NO_OBSERVATION;
  let threshold: number | null = rule.threshold;
  if (rule.compare === 'stable')
    threshold =
      stable.value === null ? null : rule.limit === 'max' ? stable.value + rule.margin : stable.value - rule.margin;
  const violated =
    canary.value === null || threshold === null
      ? null
      : rule.limit === 'max'
        ? canary.value > threshold
        : canary.value < threshold;
  let test: Evaluation['test'] = null;
  if (rule.limit === 'max' && threshold !== null) {
    if (rule.metric === 'error_rate' && canary.requests > 0)
      test = { failures: canary.errors, trials: canary.requests, p0: threshold };
    const quantile = PERCENTILE_METRICS[rule.metric];
    const trials = histogramTotal(canary.latency);
    if (quantile !== undefined && trials > 0)
      test = { failures: countSlowerThan(canary.latency, threshold), trials, p0: 1 - quantile };
  }
  return { rule, windowSeconds, canary, stable, threshold, violated, test };
}

/** The sequential test on an evaluation's counts; null when it has none to test. */
export function sequentialTest(evaluation: Evaluation, sprt: SprtSettings): SprtResult | null {
  const { test, rule } = evaluation;
  if (!test || test.trials <= 0) return null;
  const p0 = Math.max(test.p0, MIN_P0);
  if (p0 >= 1) return null;
  const multiplier = rule.metric === 'error_rate' ? sprt.errorMultiplier : sprt.latencyMultiplier;
  const { alpha, beta, minFailures } = sprt;
  return sprtDecision({
    failures: test.failures,
    trials: test.trials,
    p0,
    p1: alternativeRate(p0, multiplier),
    alpha,
    beta,
    minFailures,
  });
}
