import type { Clock } from '../../src/action';
import { emptyColorSample, latencyBucket, type ColorSample, type Sample } from '../../src/analysis';

/** What one color did in one interval, in words a test can read. */
export interface Traffic {
  requests: number;
  errors?: number;
  /** Latency of the requests that are not `slow` (default 100 ms). */
  latencyMs?: number;
  /** How many requests took `slowMs`. */
  slow?: number;
  slowMs?: number;
  noLatency?: boolean;
  health?: number;
  memory?: number;
  drift?: number;
}

export function colorSample(traffic: Traffic): ColorSample {
  const sample = emptyColorSample();
  sample.requests = traffic.requests;
  sample.errors = traffic.errors ?? 0;
  if (traffic.noLatency) sample.latency = [];
  else {
    const slow = traffic.slow ?? 0;
    const add = (ms: number, count: number): void => {
      const bucket = latencyBucket(ms);
      sample.latency[bucket] = (sample.latency[bucket] ?? 0) + count;
    };
    add(traffic.latencyMs ?? 100, traffic.requests - slow);
    add(traffic.slowMs ?? 3000, slow);
  }
  if (traffic.health !== undefined) sample.healthFailuresInRow = traffic.health;
  if (traffic.memory !== undefined) sample.memoryRatio = traffic.memory;
  if (traffic.drift !== undefined) sample.driftScore = traffic.drift;
  return sample;
}

/** Interval `index` (0-based) of `seconds` length from `start`; green is the canary, blue the stable color. */
export function sample(
  index: number,
  canary: Traffic | null,
  stable: Traffic | null = { requests: 40 },
  seconds = 5,
  start = 0,
): Sample {
  const colors: Sample['colors'] = {};
  if (canary) colors.green = colorSample(canary);
  if (stable) colors.blue = colorSample(stable);
  return { start: start + index * seconds * 1000, end: start + (index + 1) * seconds * 1000, colors };
}

/** A clock whose sleep only moves its time forward, recording every sleep. */
export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(private time: number) {}
  now(): number {
    return this.time;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.time += Math.max(0, ms);
  }
  advance(ms: number): void {
    this.time += ms;
  }
}
