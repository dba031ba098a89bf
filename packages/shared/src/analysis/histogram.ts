import { LATENCY_BOUNDS_MS, type LatencyHistogram } from './types';

/**
 * Percentiles from the latency histogram.
 *
 * Bucket i holds the requests with latency in (lower, upper], where upper = LATENCY_BOUNDS_MS[i]
 * and lower is the previous bound (0 for the first bucket). Inside a bucket the requests are taken
 * as spread evenly, so a quantile is interpolated linearly between the bucket's bounds, as
 * Prometheus' histogram_quantile does. The last bucket (slower than the largest bound) has no upper
 * bound: a quantile that falls in it is reported as the largest bound, a lower bound of the truth.
 *
 * With this reading, "P95 ≤ T" holds exactly when "the share of requests slower than T ≤ 5 %", for
 * any T; when T is a bucket bound (2000 and 5000 are) both sides are exact counts.
 */

function bucketBounds(index: number): { lower: number; upper: number } {
  const lower = index === 0 ? 0 : (LATENCY_BOUNDS_MS[index - 1] ?? 0);
  const upper = LATENCY_BOUNDS_MS[index] ?? Number.POSITIVE_INFINITY;
  return { lower, upper };
}

export function histogramTotal(histogram: LatencyHistogram): number {
  return histogram.reduce((sum, count) => sum + count, 0);
}

/** The q-quantile (0 < q < 1) in ms, or null for an empty histogram. */
export function histogramQuantile(histogram: LatencyHistogram, q: number): number | null {
  const total = histogramTotal(histogram);
  if (total <= 0) return null;
  const rank = q * total;
  let below = 0;
  for (let index = 0; index < histogram.length; index++) {
    const count = histogram[index] ?? 0;
    if (count > 0 && below + count >= rank) {
      const { lower, upper } = bucketBounds(index);
      if (!Number.isFinite(upper)) return lower;
      return lower + ((upper - lower) * (rank - below)) / count;
    }
    below += count;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1] ?? null;
}

/**
 * How many requests were slower than `thresholdMs`, with the same even spread inside a bucket: an
 * exact count when the threshold is a bucket bound, a fractional one otherwise.
 */
export function countSlowerThan(histogram: LatencyHistogram, thresholdMs: number): number {
  let slower = 0;
  for (let index = 0; index < histogram.length; index++) {
    const count = histogram[index] ?? 0;
    if (count === 0) continue;
    const { lower, upper } = bucketBounds(index);
    if (lower >= thresholdMs) slower += count;
    else if (upper > thresholdMs)
      slower += Number.isFinite(upper) ? (count * (upper - thresholdMs)) / (upper - lower) : count;
  }
  return slower;
}
