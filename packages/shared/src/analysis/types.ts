import type { Color } from '../domain';

/**
 * The analysis engine works on numbers and windows, never on a particular metric system.
 * A metric source turns whatever it reads (an nginx access log, Prometheus, its own probes, the
 * host) into interval samples: what happened per color between two instants.
 */

/**
 * Upper bounds (ms) of the latency histogram every source fills. The procedure's thresholds (2 s,
 * 5 s) are bounds, so "share of requests slower than 2 s" is exact.
 */
export const LATENCY_BOUNDS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2000, 2500, 5000, 10000] as const;
/** One count per bound, plus the last for everything slower than the largest bound. */
export type LatencyHistogram = number[];

export interface ColorSample {
  /** Requests answered in the interval. */
  requests: number;
  /** Of which 5xx (or no answer). */
  errors: number;
  /** Request counts per LATENCY_BOUNDS_MS bucket (length LATENCY_BOUNDS_MS.length + 1); empty when the source has no latencies. */
  latency: LatencyHistogram;
  /** Consecutive failed health checks at the end of the interval (host or probe sources). */
  healthFailuresInRow?: number;
  /** Share of memory in use, 0..1, at the end of the interval. */
  memoryRatio?: number;
  /** Model drift score at the end of the interval. */
  driftScore?: number;
  /** Named values from custom queries (e.g. PromQL templates). */
  gauges?: Record<string, number>;
}

export interface Sample {
  /** Interval [start, end) in ms since the epoch, from the analysis clock. */
  start: number;
  end: number;
  colors: Partial<Record<Color, ColorSample>>;
}

export interface TimeWindow {
  start: number;
  end: number;
}

/** Anything that can say what each color did in a time interval. */
export interface MetricSource {
  readonly name: string;
  /** What happened in [window.start, window.end). Throws when the source cannot be read. */
  sample(window: TimeWindow): Promise<Sample>;
  close?(): Promise<void>;
}

export function emptyColorSample(): ColorSample {
  return { requests: 0, errors: 0, latency: new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0) };
}

/** Index of the histogram bucket a latency falls in. */
export function latencyBucket(ms: number): number {
  const index = LATENCY_BOUNDS_MS.findIndex((bound) => ms <= bound);
  return index === -1 ? LATENCY_BOUNDS_MS.length : index;
}

/**
 * Adds `extra` into `into`: counts and histograms add up. For point-in-time values, `later` (the
 * next interval of the same thing) takes the newer value; `alongside` (another host or source, same
 * interval) takes the worse one, the larger.
 */
export function mergeColorSample(into: ColorSample, extra: ColorSample, how: 'later' | 'alongside'): ColorSample {
  const latency =
    into.latency.length === 0
      ? [...extra.latency]
      : extra.latency.length === 0
        ? [...into.latency]
        : into.latency.map((count, index) => count + (extra.latency[index] ?? 0));
  const point = (a: number | undefined, b: number | undefined): number | undefined =>
    how === 'later' ? (b ?? a) : a === undefined ? b : b === undefined ? a : Math.max(a, b);
  const gauges: Record<string, number> = { ...into.gauges };
  for (const [name, value] of Object.entries(extra.gauges ?? {})) gauges[name] = point(gauges[name], value) as number;
  const merged: ColorSample = { requests: into.requests + extra.requests, errors: into.errors + extra.errors, latency };
  const health = point(into.healthFailuresInRow, extra.healthFailuresInRow);
  const memory = point(into.memoryRatio, extra.memoryRatio);
  const drift = point(into.driftScore, extra.driftScore);
  if (health !== undefined) merged.healthFailuresInRow = health;
  if (memory !== undefined) merged.memoryRatio = memory;
  if (drift !== undefined) merged.driftScore = drift;
  if (Object.keys(gauges).length > 0) merged.gauges = gauges;
  return merged;
}

/** Combines the samples of several sources (or hosts) for the same interval. */
export function mergeSamples(samples: readonly Sample[]): Sample {
  const start = Math.min(...samples.map((s) => s.start));
  const end = Math.max(...samples.map((s) => s.end));
  const colors: Sample['colors'] = {};
  for (const sample of samples) {
    for (const [color, colorSample] of Object.entries(sample.colors) as Array<[Color, ColorSample]>) {
      colors[color] = colors[color]
        ? mergeColorSample(colors[color] as ColorSample, colorSample, 'alongside')
        : { ...colorSample, latency: [...colorSample.latency] };
    }
  }
  return { start, end, colors };
}
