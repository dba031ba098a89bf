import { mergeSamples, type MetricSource, type Sample, type TimeWindow } from '..';

/** Samples several sources (hosts, kinds) for the same interval and adds them up. */
export class CombinedSource implements MetricSource {
  readonly name: string;

  constructor(private readonly sources: readonly MetricSource[]) {
    this.name = sources.map((source) => source.name).join('+');
  }

  async sample(window: TimeWindow): Promise<Sample> {
    const samples = await Promise.all(this.sources.map((source) => source.sample(window)));
    return samples.length > 0 ? mergeSamples(samples) : { start: window.start, end: window.end, colors: {} };
  }

  async close(): Promise<void> {
    await Promise.all(this.sources.map((source) => source.close?.()));
  }
}

/**
 * Several sources, combined; a single one as it is, since combining it alone would only copy its
 * samples (the nginx-log source already adds up its hosts).
 */
export function combineSources(sources: readonly MetricSource[]): MetricSource {
  return sources.length === 1 && sources[0] ? sources[0] : new CombinedSource(sources);
}
