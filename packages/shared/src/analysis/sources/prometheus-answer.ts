import { excerpt } from '../../action';
import { LATENCY_BOUNDS_MS, type ColorSample, type LatencyHistogram } from '..';
import type { Query } from './promql';

/**
 * What Prometheus answers (pure): an `/api/v1/query` body read into series, its cumulative
 * latency buckets mapped onto the analysis' histogram, and a color's sample from its answers.
 */

export interface PromSeries {
  labels: Record<string, string>;
  value: number;
}

/** Parses a Prometheus sample value: numbers, `NaN`, `+Inf`, `-Inf`. */
function promNumber(text: unknown): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return typeof text === 'string' ? Number(text) : Number.NaN;
}

/** Reads an `/api/v1/query` answer body into series (pure). Throws with Prometheus's own error message. */
export function parseQueryResponse(status: number, body: string): PromSeries[] {
  let parsed: { status?: string; error?: string; errorType?: string; data?: { resultType?: string; result?: unknown } };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    throw new Error(`HTTP ${status}, not a Prometheus answer: ${excerpt(body)}`);
  }
  if (parsed.status !== 'success' || !parsed.data) {
    throw new Error(`HTTP ${status}: ${excerpt(parsed.errorType ?? 'error', 40)}: ${excerpt(parsed.error ?? body)}`);
  }
  const { resultType, result } = parsed.data;
  if (resultType === 'scalar') return [{ labels: {}, value: promNumber((result as [number, string])[1]) }];
  if (resultType === 'vector') {
    return (result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((entry) => ({
      labels: entry.metric,
      value: promNumber(entry.value[1]),
    }));
  }
  throw new Error(`expected an instant vector or scalar, got a ${resultType}`);
}

/**
 * Maps Prometheus's cumulative buckets (`le` in seconds) onto LATENCY_BOUNDS_MS (pure). A bound
 * that is one of Prometheus's buckets is exact. A bound that is not is interpolated linearly
 * between the buckets around it (from 0 for a bound below the first bucket) — the same assumption
 * `histogram_quantile` makes: with the usual buckets 1 s and 2.5 s, two thirds of the requests
 * between 1 s and 2.5 s count as faster than 2 s. Requests above the largest finite bucket go to
 * the last (overflow) bucket. No buckets give an empty histogram.
 */
export function histogramFromCumulative(buckets: ReadonlyArray<{ le: number; count: number }>): LatencyHistogram {
  const valid = buckets.filter((bucket) => !Number.isNaN(bucket.le) && Number.isFinite(bucket.count));
  if (valid.length === 0) return [];
  const sorted = [...valid].sort((a, b) => a.le - b.le);
  // Counts of separately extrapolated series can dip; a cumulative histogram never does.
  let running = 0;
  const cumulative = sorted.map((bucket) => ({ le: bucket.le, count: (running = Math.max(running, bucket.count)) }));
  const finite = cumulative.filter((bucket) => Number.isFinite(bucket.le));
  const total = running;
  const atBound = (seconds: number): number => {
    let lower = { le: 0, count: 0 };
    for (const bucket of finite) {
      if (Math.abs(bucket.le - seconds) <= 1e-9 * seconds) return bucket.count;
      if (bucket.le > seconds)
        return lower.count + ((bucket.count - lower.count) * (seconds - lower.le)) / (bucket.le - lower.le);
      lower = bucket;
    }
    return lower.count;
  };
  const histogram: LatencyHistogram = [];
  let previous = 0;
  for (const bound of LATENCY_BOUNDS_MS) {
    const count = Math.min(total, Math.max(previous, atBound(bound / 1000)));
    histogram.push(count - previous);
    previous = count;
  }
  histogram.push(total - previous);
  return histogram;
}

/** A color's sample from its query answers; undefined when no query returned any series (pure). */
export function colorSample(answers: ReadonlyArray<{ query: Query; series: PromSeries[] }>): ColorSample | undefined {
  if (answers.every((answer) => answer.series.length === 0)) return undefined;
  const count = (series: PromSeries[]) =>
    series.reduce((total, one) => total + (Number.isFinite(one.value) ? Math.max(0, one.value) : 0), 0);
  const largest = (series: PromSeries[]): number | undefined => {
    const finite = series.map((one) => one.value).filter((value) => Number.isFinite(value));
    return finite.length === 0 ? undefined : Math.max(...finite);
  };
  const sample: ColorSample = { requests: 0, errors: 0, latency: [] };
  const gauges: Record<string, number> = {};
  for (const { query, series } of answers) {
    if (query.key === 'requests') sample.requests = count(series);
    else if (query.key === 'errors') sample.errors = count(series);
    else if (query.key === 'latencyBuckets') {
      const byLe = new Map<number, number>();
      for (const one of series) {
        const le = one.labels.le === undefined ? Number.NaN : promNumber(one.labels.le);
        byLe.set(le, (byLe.get(le) ?? 0) + (Number.isFinite(one.value) ? one.value : 0));
      }
      sample.latency = histogramFromCumulative([...byLe].map(([le, bucketCount]) => ({ le, count: bucketCount })));
    } else {
      const value = largest(series);
      if (value === undefined) continue;
      if (query.key === 'memory') sample.memoryRatio = value;
      else if (query.key === 'drift') sample.driftScore = value;
      else if (query.key === 'gauge') gauges[query.name] = value;
    }
  }
  if (Object.keys(gauges).length > 0) sample.gauges = gauges;
  return sample;
}
