import {
  CanaryAnalysis,
  emptyColorSample,
  parsePolicy,
  SeededRandom,
  type ColorSample,
  type Policy,
  type Sample,
  type Verdict,
} from '../../packages/shared/src/analysis';
import { CANARY_SHARE, HORIZON_SECONDS, REQUESTS_PER_MINUTE, STABLE_ERROR_RATE, type Case } from './cases';

// ------------------------------------------------------------------------------------ simulation

/** Draws a latency bucket from cumulative probabilities, through a guide table (one or two comparisons a draw). */
export class BucketSampler {
  private readonly guide: Uint8Array;
  constructor(private readonly cumulative: readonly number[]) {
    this.guide = new Uint8Array(1024);
    let bucket = 0;
    for (let slot = 0; slot < 1024; slot++) {
      while (bucket < cumulative.length - 1 && slot / 1024 >= (cumulative[bucket] ?? 1)) bucket++;
      this.guide[slot] = bucket;
    }
  }
  draw(random: SeededRandom): number {
    const u = random.next();
    let bucket = this.guide[Math.floor(u * 1024)] ?? 0;
    while (bucket < this.cumulative.length - 1 && u >= (this.cumulative[bucket] ?? 1)) bucket++;
    return bucket;
  }
}

export const samplers = new Map<readonly number[], BucketSampler>();
export const samplerFor = (cumulativeBuckets: readonly number[]): BucketSampler => {
  let sampler = samplers.get(cumulativeBuckets);
  if (!sampler) samplers.set(cumulativeBuckets, (sampler = new BucketSampler(cumulativeBuckets)));
  return sampler;
};

/**
 * One run: every canary request with its time (a Poisson process from the switch, t = 0), error
 * and latency bucket; and the stable color per 5-s slot (only counts: no default rule reads
 * stable). Every rule set below judges these same requests.
 */
export class Run {
  readonly times: Float64Array;
  readonly errors: Uint8Array;
  readonly buckets: Uint8Array;
  private readonly stable: ColorSample[] = [];
  constructor(seed: number, scenario: Case) {
    const random = new SeededRandom(seed);
    const rate = (REQUESTS_PER_MINUTE / 60) * CANARY_SHARE;
    const times: number[] = [];
    for (let t = -Math.log(1 - random.next()) / rate; t < HORIZON_SECONDS; t += -Math.log(1 - random.next()) / rate)
      times.push(t);
    this.times = Float64Array.from(times);
    this.errors = new Uint8Array(times.length);
    this.buckets = new Uint8Array(times.length);
    const sampler = samplerFor(scenario.latency);
    for (let index = 0; index < times.length; index++) {
      this.errors[index] = random.next() < scenario.errorRate ? 1 : 0;
      this.buckets[index] = sampler.draw(random);
    }
    const perSlot = (REQUESTS_PER_MINUTE / 60) * 5 * (1 - CANARY_SHARE);
    for (let slot = 0; slot < HORIZON_SECONDS / 5 + 2; slot++) {
      const requests = random.poisson(perSlot);
      this.stable.push({ requests, errors: random.binomial(requests, STABLE_ERROR_RATE), latency: [] });
    }
  }

  /** Index of the first request at or after `t` seconds. */
  private at(t: number): number {
    let low = 0;
    let high = this.times.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((this.times[middle] as number) < t) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** The canary's requests in [from, to) seconds. */
  canary(from: number, to: number): ColorSample {
    const sample = emptyColorSample();
    for (let index = this.at(from), end = this.at(to); index < end; index++) {
      sample.requests++;
      sample.errors += this.errors[index] as number;
      const bucket = this.buckets[index] as number;
      sample.latency[bucket] = (sample.latency[bucket] ?? 0) + 1;
    }
    return sample;
  }

  /** Canary requests and errors in [from, to) seconds (for the other tools' rules). */
  counts(from: number, to: number): { requests: number; errors: number } {
    let errors = 0;
    const first = this.at(from);
    const end = this.at(to);
    for (let index = first; index < end; index++) errors += this.errors[index] as number;
    return { requests: end - first, errors };
  }

  /** Seconds from the switch to the canary's k-th error (Infinity: not within the horizon). */
  kthError(k: number): number {
    let seen = 0;
    for (let index = 0; index < this.times.length; index++)
      if (this.errors[index] && ++seen === k) return this.times[index] as number;
    return Infinity;
  }

  stableSlot(slot: number): ColorSample {
    return this.stable[Math.min(slot, this.stable.length - 1)] as ColorSample;
  }
}

/** A 32-bit seed per (seed, case, run). */
export function runSeed(seed: number, caseIndex: number, run: number): number {
  let hash = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  hash = Math.imul(hash ^ (caseIndex + 0x632be5ab), 0xc2b2ae35) >>> 0;
  hash = Math.imul(hash ^ (run + 0x27d4eb2f), 0x165667b1) >>> 0;
  return (hash ^ (hash >>> 15)) >>> 0;
}

export interface Outcome {
  verdict: Verdict;
  /** Seconds from the switch (the canary's first request) to the decision. */
  seconds: number;
  early: boolean;
  extended: boolean;
  passedUndecided: boolean;
}

/**
 * How the nginx-log source reads the canary, `startDelay` seconds after the switch (the monitor's
 * start: bundle, SSH connect, state read):
 * - `mark`: the deploy recorded where each log stood at the switch; the analysis starts at the
 *   switch and its first sample (the first 5-s boundary after the monitor's start) holds every
 *   request since then.
 * - `no-mark` (the source before the mark, and today without one): the first read only takes the
 *   file's size, one interval after the monitor's start; everything before that is never counted.
 */
export type SourceModel = 'mark' | 'no-mark';

export function analyse(policy: Policy, run: Run, model: SourceModel, startDelay: number): Outcome {
  const interval = policy.intervalSeconds;
  const start = model === 'mark' ? 0 : startDelay;
  const analysis = new CanaryAnalysis(policy, { canary: 'green', stable: 'blue', start: start * 1000 });
  let from = start;
  let to = model === 'mark' ? start + Math.max(1, Math.ceil(startDelay / interval)) * interval : start + interval;
  for (let index = 0; index < 100_000; index++) {
    const lost = model === 'no-mark' && index === 0;
    const sample: Sample = {
      start: from * 1000,
      end: to * 1000,
      colors: lost ? {} : { green: run.canary(from, to), blue: run.stableSlot(index) },
    };
    const result = analysis.add(sample);
    if (result) {
      return {
        verdict: result.verdict,
        seconds: result.decidedAt / 1000,
        early: result.earlyDecision,
        extended: result.warnings.some((warning) => warning.startsWith('extended')),
        passedUndecided: result.warnings.some((warning) => warning.startsWith('passed undecided')),
      };
    }
    from = to;
    to += interval;
  }
  throw new Error('the analysis did not decide');
}

/** The procedure's plain windowed triggers alone (no sequential test, no gates), over its 300 s. */
export const PROCEDURE_TRIGGERS = parsePolicy({
  'replace-default-rules': true,
  'early-decision': false,
  'min-requests': 0,
  'max-extensions': 0,
  'on-inconclusive': 'pass',
  rules: [
    { name: 'error-rate-sustained', metric: 'error_rate', max: 0.01, window: 30, for: 120, kind: 'trigger' },
    { name: 'latency-p95-sustained', metric: 'p95_ms', max: 5000, window: 30, for: 60, kind: 'trigger' },
  ],
});
