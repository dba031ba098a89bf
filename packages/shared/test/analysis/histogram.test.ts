import { describe, expect, it } from 'vitest';
import { histogramQuantile, LATENCY_BOUNDS_MS, latencyBucket } from '../../src/analysis';
import { countSlowerThan } from '../../src/analysis/histogram';

/** A histogram from [latency in a bucket, count] pairs. */
function histogram(...entries: Array<[ms: number, count: number]>): number[] {
  const counts = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
  for (const [ms, count] of entries) counts[latencyBucket(ms)] = (counts[latencyBucket(ms)] ?? 0) + count;
  return counts;
}

describe('histogramQuantile', () => {
  it('interpolates linearly inside a bucket', () => {
    // 100 requests in (100, 250]: P50 = 100 + 150 · 0.5, P95 = 100 + 150 · 0.95.
    const h = histogram([200, 100]);
    expect(histogramQuantile(h, 0.5)).toBeCloseTo(175, 10);
    expect(histogramQuantile(h, 0.95)).toBeCloseTo(242.5, 10);
  });

  it('uses 0 as the lower bound of the first bucket', () => {
    expect(histogramQuantile(histogram([3, 10]), 0.5)).toBeCloseTo(2.5, 10);
  });

  it('walks across buckets', () => {
    // 90 fast in (0, 5], 10 slow in (2000, 2500]: rank 95 is the 5th of 10 in the slow bucket.
    const h = histogram([4, 90], [2200, 10]);
    expect(histogramQuantile(h, 0.95)).toBeCloseTo(2250, 10);
    expect(histogramQuantile(h, 0.99)).toBeCloseTo(2450, 10);
    // rank 90 ends exactly at the first bucket: its upper bound.
    expect(histogramQuantile(h, 0.9)).toBeCloseTo(5, 10);
    // 3 in (250, 500], 1 in (1000, 2000]: rank 3.8 of 4 → 1000 + 1000 · 0.8
    expect(histogramQuantile(histogram([300, 3], [1500, 1]), 0.95)).toBeCloseTo(1800, 10);
  });

  it('reports the largest bound for the open last bucket, null for no data', () => {
    expect(histogramQuantile(histogram([20000, 5]), 0.95)).toBe(10000);
    expect(histogramQuantile(histogram(), 0.95)).toBeNull();
    expect(histogramQuantile([], 0.95)).toBeNull();
  });
});

describe('countSlowerThan', () => {
  const h = histogram([4, 90], [2200, 10]);

  it('counts exactly at a bucket bound', () => {
    expect(countSlowerThan(h, 2000)).toBe(10);
    expect(countSlowerThan(h, 5000)).toBe(0);
    expect(countSlowerThan(h, 1500)).toBe(10);
  });

  it('takes a share of the bucket a threshold falls in', () => {
    expect(countSlowerThan(h, 2250)).toBeCloseTo(5, 10);
    expect(countSlowerThan(h, 2.5)).toBeCloseTo(45 + 10, 10);
  });

  it('agrees with the percentile: P95 ≤ T exactly when at most 5% are slower than T', () => {
    const cases = [
      histogram([4, 90], [2200, 10]),
      histogram([300, 94], [3000, 6]),
      histogram([300, 95], [3000, 5]),
      histogram([80, 50], [700, 40], [1800, 10]),
    ];
    for (const counts of cases) {
      const total = counts.reduce((sum, n) => sum + n, 0);
      for (const threshold of [500, 1000, 1500, 2000, 2250, 5000]) {
        expect((histogramQuantile(counts, 0.95) as number) <= threshold).toBe(
          countSlowerThan(counts, threshold) / total <= 0.05 + 1e-12,
        );
      }
    }
  });
});
