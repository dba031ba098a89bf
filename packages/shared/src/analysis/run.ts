import type { Clock } from '../action';
import type { CanaryAnalysis } from './engine';
import type { AnalysisResult } from './result';
import type { MetricSource, Sample } from './types';
import { secondsText } from './wording';

/** The runner: the only part of the analysis that reads a clock and a metric source. */

/** Waits until `until` on `clock`; false when `signal` aborted first. */
async function sleepUntil(clock: Clock, until: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return false;
  const ms = until - clock.now();
  if (ms > 0) {
    if (!signal) await clock.sleep(ms);
    else {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => resolve();
        signal.addEventListener('abort', onAbort, { once: true });
        clock.sleep(ms).then(
          () => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          },
          (error: unknown) => {
            signal.removeEventListener('abort', onAbort);
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
      });
    }
  }
  return !signal?.aborted;
}

/**
 * Samples `source` every `intervalMs` on `clock` and feeds `analysis` until it decides. Windows are
 * back to back from the analysis start, each a whole number of intervals: one normally; after a
 * failed sample the next window also covers the missed interval, and behind schedule (a slow
 * source) the next window reaches up to now. Aborting through `signal` returns the figures so far
 * as `inconclusive`. The result `onSample` gets while running builds its rules' figures when read.
 */
export async function runAnalysis(
  source: MetricSource,
  analysis: CanaryAnalysis,
  options: {
    clock: Clock;
    intervalMs: number;
    onSample?: (sample: Sample, result: AnalysisResult) => void;
    signal?: AbortSignal;
  },
): Promise<AnalysisResult> {
  const { clock, intervalMs, onSample, signal } = options;
  let windowStart = analysis.start;
  // A start in the past (the switch, when the deploy recorded where the log stood): the first
  // window runs to the next interval boundary after now, so it holds everything since the start
  // and the later samples stay on the start's grid.
  let windowEnd = windowStart + Math.max(1, Math.ceil((clock.now() - windowStart) / intervalMs)) * intervalMs;
  while (true) {
    if (!(await sleepUntil(clock, windowEnd, signal))) {
      const now = clock.now();
      const figures = analysis.current(now);
      return {
        ...figures,
        reason: `stopped after ${secondsText(figures.elapsedSeconds)} s, before a decision (${figures.canaryRequests} canary requests so far)`,
      };
    }
    let sample: Sample;
    try {
      sample = await source.sample({ start: windowStart, end: windowEnd });
    } catch (error) {
      const failed = analysis.sourceFailed(error, clock.now());
      if (failed) return failed;
      windowEnd += intervalMs;
      continue;
    }
    const decided = analysis.add(sample);
    onSample?.(sample, decided ?? analysis.current(sample.end));
    if (decided) return decided;
    windowStart = sample.end;
    // A source slower than the interval: the next window reaches up to now, so decisions do not lag.
    windowEnd = windowStart + Math.max(1, Math.floor((clock.now() - windowStart) / intervalMs)) * intervalMs;
  }
}
