// The simulated traffic and the cases it is run for, each with its goal.
import { LATENCY_BOUNDS_MS } from '../../packages/shared/src/analysis';

export const REQUESTS_PER_MINUTE = 500;
export const CANARY_SHARE = 0.1;
export const STABLE_ERROR_RATE = 0.002;
/** Longest our analysis can run with the defaults (one extension), and how far runs are drawn. */
export const HORIZON_SECONDS = 600;

export type Goal =
  | { kind: 'detect'; withinSeconds: number; share: number; median?: number }
  | { kind: 'no-rollback'; maxShare: number }
  | { kind: 'report' };

export interface Case {
  name: string;
  errorRate: number;
  /** Probability of each latency bucket (LATENCY_BOUNDS_MS), cumulated. */
  latency: number[];
  goal: Goal;
}

/** Φ(x) via erf (Abramowitz–Stegun 7.1.26, error below 1.5e-7: plenty for a simulation). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** Bucket probabilities of a lognormal latency with median `medianMs`. */
export function lognormal(medianMs: number, sigma: number): number[] {
  const below = [...LATENCY_BOUNDS_MS.map((bound) => normalCdf((Math.log(bound) - Math.log(medianMs)) / sigma)), 1];
  return below.map((cdf, index) => cdf - (below[index - 1] ?? 0));
}

/** A lognormal with a given P95: median = p95 / e^(1.645 σ). */
export const lognormalWithP95 = (p95: number, sigma: number): number[] =>
  lognormal(p95 / Math.exp(1.645 * sigma), sigma);

export function mixture(parts: Array<[weight: number, buckets: number[]]>): number[] {
  return LATENCY_BOUNDS_MS.map((_, index) => index)
    .concat(LATENCY_BOUNDS_MS.length)
    .map((index) => parts.reduce((sum, [weight, buckets]) => sum + weight * (buckets[index] ?? 0), 0));
}

export function cumulative(buckets: number[]): number[] {
  let sum = 0;
  return buckets.map((probability) => (sum += probability));
}

export const HEALTHY = lognormalWithP95(300, 0.6);
export const healthyLatency = cumulative(HEALTHY);
/** 20 % of requests around 3 s, the rest healthy: P95 ≈ 4.4 s by the histogram, under the 5-s trigger. */
export const slowLatency = cumulative(
  mixture([
    [0.2, lognormal(3000, 0.08)],
    [0.8, HEALTHY],
  ]),
);
/**
 * Near the 2-s limit and over it: the healthy shape (lognormal, σ 0.6) scaled to a P95: 4.2 % of
 * requests slower than 2 s at P95 1.9 s, 31 % at P95 4 s. A wider spread (σ 0.8) is in 6c: at
 * P95 4 s only 22 % are slower than 2 s, and 2 s is what the P95 gate counts.
 */
export const p95 = (ms: number, sigma = 0.6): number[] => cumulative(lognormalWithP95(ms, sigma));

export const DETECT_20: Goal = { kind: 'detect', withinSeconds: 30, share: 0.85, median: 20 };
export const NO_ROLLBACK: Goal = { kind: 'no-rollback', maxShare: 0.01 };

export const CASES: Case[] = [
  { name: '1 errors 20%', errorRate: 0.2, latency: healthyLatency, goal: DETECT_20 },
  {
    name: '2 errors 5%',
    errorRate: 0.05,
    latency: healthyLatency,
    goal: { kind: 'detect', withinSeconds: 300, share: 0.95 },
  },
  { name: '3 errors 2%', errorRate: 0.02, latency: healthyLatency, goal: { kind: 'report' } },
  { name: '4 healthy 0.5% errors', errorRate: 0.005, latency: healthyLatency, goal: NO_ROLLBACK },
  { name: '4b healthy 0.9% errors', errorRate: 0.009, latency: healthyLatency, goal: NO_ROLLBACK },
  { name: '5 healthy 0% errors', errorRate: 0, latency: healthyLatency, goal: NO_ROLLBACK },
  {
    name: '6 slow: P95 4 s',
    errorRate: 0,
    latency: p95(4000),
    goal: { kind: 'detect', withinSeconds: 60, share: 0.9 },
  },
  { name: '6b slow: 20% at 3 s', errorRate: 0, latency: slowLatency, goal: { kind: 'report' } },
  { name: '6c slow: P95 4 s, σ 0.8', errorRate: 0, latency: p95(4000, 0.8), goal: { kind: 'report' } },
  { name: '7 healthy P95 1.5 s', errorRate: 0, latency: p95(1500), goal: NO_ROLLBACK },
  { name: '7b healthy P95 1.8 s', errorRate: 0, latency: p95(1800), goal: NO_ROLLBACK },
  { name: '7c healthy P95 1.9 s', errorRate: 0, latency: p95(1900), goal: NO_ROLLBACK },
];
