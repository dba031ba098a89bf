import { histogramQuantile } from './histogram';
import { PERCENTILE_METRICS, type Metric, type Rule } from './policy-types';
import { LATENCY_BOUNDS_MS, type ColorSample } from './types';

/**
 * Window arithmetic over the intervals an analysis has recorded. Each interval carries the counts
 * summed from the first one, so a window's counts are one subtraction and a window is found by a
 * binary search on the intervals' ends.
 */

export type Side = 'canary' | 'stable';

/** Counts summed from the first interval up to and including one, so a window is one subtraction. */
export interface Totals {
  requests: number;
  errors: number;
  latency: number[];
}

export interface Interval {
  start: number;
  end: number;
  canary: ColorSample | undefined;
  stable: ColorSample | undefined;
  totals: Record<Side, Totals>;
}

/** Intervals [first, last] of the list (empty when first > last). */
export interface Span {
  first: number;
  last: number;
}

/** One color's value of a metric over a span, and the counts behind it. */
export interface Observation {
  value: number | null;
  requests: number;
  errors: number;
  latency: number[];
}

export const NO_OBSERVATION: Observation = { value: null, requests: 0, errors: 0, latency: [] };

/** A gate's window grows by one duration per extension: an extension is there to gather more data. */
export function windowOf(rule: Rule, extensions: number, durationSeconds: number): number {
  return rule.kind === 'gate' ? rule.windowSeconds + extensions * durationSeconds : rule.windowSeconds;
}

/**
 * Of the first `count` intervals, those ending within `windowSeconds` before `at`; window 0 = the
 * latest interval. `count` lets figures read later see the intervals as they stood when taken.
 */
export function inWindow(intervals: readonly Interval[], count: number, windowSeconds: number, at: number): Span {
  let last = count - 1;
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

/** The totals after one more interval: `previous` (undefined at the first) plus `sample`. */
export function addTotals(previous: Totals | undefined, sample: ColorSample | undefined): Totals {
  const latency = previous ? [...previous.latency] : new Array<number>(HISTOGRAM_LENGTH).fill(0);
  if (sample)
    for (let index = 0; index < Math.min(HISTOGRAM_LENGTH, sample.latency.length); index++)
      latency[index] = (latency[index] ?? 0) + (sample.latency[index] ?? 0);
  return {
    requests: (previous?.requests ?? 0) + (sample?.requests ?? 0),
    errors: (previous?.errors ?? 0) + (sample?.errors ?? 0),
    latency,
  };
}

function pointValue(metric: Metric, sample: ColorSample): number | undefined {
  if (metric === 'health_failures_in_row') return sample.healthFailuresInRow;
  if (metric === 'memory_ratio') return sample.memoryRatio;
  if (metric === 'drift_score') return sample.driftScore;
  if (metric.startsWith('gauge:')) return sample.gauges?.[metric.slice('gauge:'.length)];
  return undefined;
}

/** A color's value of `metric` over a span: sums for counts, the newest value for point metrics. */
export function observe(metric: Metric, intervals: readonly Interval[], span: Span, side: Side): Observation {
  const upto = intervals[span.last]?.totals[side];
  const before = intervals[span.first - 1]?.totals[side];
  const empty = span.first > span.last || !upto;
  const requests = empty ? 0 : upto.requests - (before?.requests ?? 0);
  const errors = empty ? 0 : upto.errors - (before?.errors ?? 0);
  const latency =
    empty || !(metric in PERCENTILE_METRICS)
      ? []
      : upto.latency.map((bucket, index) => bucket - (before?.latency[index] ?? 0));
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

/** Seconds rounded to the millisecond, as results report them. */
export function roundSeconds(value: number): number {
  return Math.round(value * 1000) / 1000;
}
