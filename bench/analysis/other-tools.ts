// The other tools' analyses (Flagger, Argo Rollouts), judged on the same runs as ours.
import type { Run } from './simulation';

/** Every other tool's analysis is read over the same span as ours, its default duration. */
export const COMPARE_SECONDS = 300;

/**
 * Flagger: every `interval` it runs its checks; request-success-rate (thresholdRange min 99) fails
 * when the success rate over the interval is below 99 %, or when there is no data (Flagger counts
 * a query with no result as a failed check). The canary is rolled back when the failed checks
 * reach `threshold` (they add up over the analysis, not only in a row).
 */
export interface FlaggerRule {
  label: string;
  interval: number;
  threshold: number;
  metricWindow: number;
}
export const FLAGGER: FlaggerRule[] = [
  { label: 'Flagger 1m/5', interval: 60, threshold: 5, metricWindow: 60 },
  { label: 'Flagger 30s/5', interval: 30, threshold: 5, metricWindow: 30 },
  { label: 'Flagger 10s/10', interval: 10, threshold: 10, metricWindow: 10 },
];

export function flagger(rule: FlaggerRule, run: Run): number {
  let failed = 0;
  for (let t = rule.interval; t <= COMPARE_SECONDS; t += rule.interval) {
    const { requests, errors } = run.counts(Math.max(0, t - rule.metricWindow), t);
    if (requests === 0 || (requests - errors) / requests < 0.99) failed++;
    if (failed >= rule.threshold) return t;
  }
  return Infinity;
}

/**
 * Argo Rollouts: an AnalysisTemplate measuring `successCondition: result >= 0.99` every
 * `interval` over the last `interval`; the analysis fails (and the rollout aborts) when failed
 * measurements exceed `failureLimit`. A measurement with no data is an error, not a failure (it
 * only aborts after consecutiveErrorLimit 4 errors in a row, which a 10 % canary never reaches here).
 */
export interface ArgoRule {
  label: string;
  interval: number;
  failureLimit: number;
}
export const ARGO: ArgoRule[] = [
  { label: 'Argo 1m, failureLimit 3', interval: 60, failureLimit: 3 },
  { label: 'Argo 1m, failureLimit 0', interval: 60, failureLimit: 0 },
  { label: 'Argo 5m, failureLimit 0', interval: 300, failureLimit: 0 },
];

export function argo(rule: ArgoRule, run: Run): number {
  let failed = 0;
  let errorsInRow = 0;
  for (let t = rule.interval; t <= COMPARE_SECONDS; t += rule.interval) {
    const { requests, errors } = run.counts(t - rule.interval, t);
    if (requests === 0) {
      if (++errorsInRow > 4) return t;
      continue;
    }
    errorsInRow = 0;
    if ((requests - errors) / requests < 0.99 && ++failed > rule.failureLimit) return t;
  }
  return Infinity;
}
