import { describe, expect, it } from 'vitest';
import {
  CanaryAnalysis,
  parsePolicy,
  runAnalysis,
  type AnalysisResult,
  type MetricSource,
  type Sample,
  type TimeWindow,
} from '../../src/analysis';
import { colorSample, FakeClock, type Traffic } from './samples';

const START = 1_700_000_000_000;

/** A source that answers each window with `traffic(windowIndex)`, or throws what `fail` returns. */
function fakeSource(options: {
  traffic?: (window: TimeWindow) => Traffic;
  fail?: (call: number) => Error | null;
  clock?: FakeClock;
  takesMs?: number;
}): MetricSource & { windows: TimeWindow[] } {
  const windows: TimeWindow[] = [];
  return {
    name: 'fake',
    windows,
    async sample(window: TimeWindow): Promise<Sample> {
      windows.push(window);
      if (options.takesMs) options.clock?.advance(options.takesMs);
      const problem = options.fail?.(windows.length);
      if (problem) throw problem;
      const canary = options.traffic?.(window) ?? { requests: 5 };
      return {
        start: window.start,
        end: window.end,
        colors: { green: colorSample(canary), blue: colorSample({ requests: 40 }) },
      };
    },
  };
}

const analysis = (yaml = ''): CanaryAnalysis =>
  new CanaryAnalysis(parsePolicy(yaml), { canary: 'green', stable: 'blue', start: START });

describe('runAnalysis', () => {
  it('samples back-to-back windows on the clock until the end of the duration', async () => {
    const clock = new FakeClock(START);
    const source = fakeSource({});
    const seen: Array<[number, string]> = [];
    const result = await runAnalysis(source, analysis(), {
      clock,
      intervalMs: 5000,
      onSample: (sample, current) => seen.push([sample.end, current.verdict]),
    });
    expect(result).toMatchObject({ verdict: 'success', decidedAt: START + 300_000, elapsedSeconds: 300 });
    expect(clock.now()).toBe(START + 300_000);
    expect(source.windows).toHaveLength(60);
    expect(source.windows[0]).toEqual({ start: START, end: START + 5000 });
    expect(
      source.windows.every(
        (window, index) => window.start === START + index * 5000 && window.end === window.start + 5000,
      ),
    ).toBe(true);
    expect(clock.sleeps.every((ms) => ms === 5000)).toBe(true);
    expect(seen).toHaveLength(60);
    expect(seen[0]).toEqual([START + 5000, 'inconclusive']);
    expect(seen[59]).toEqual([START + 300_000, 'success']);
  });

  it('starting from the switch, in the past: the first window reaches the next boundary after now and holds everything since', async () => {
    // The deploy switched at START; the monitor starts 12 s later.
    const clock = new FakeClock(START + 12_000);
    const source = fakeSource({});
    await runAnalysis(source, analysis('duration: 30'), { clock, intervalMs: 5000 });
    expect(source.windows[0]).toEqual({ start: START, end: START + 15_000 });
    expect(source.windows[1]).toEqual({ start: START + 15_000, end: START + 20_000 });
    expect(clock.sleeps[0]).toBe(3000);
  });

  it('returns as soon as a bad canary is failed', async () => {
    const clock = new FakeClock(START);
    const source = fakeSource({ traffic: () => ({ requests: 5, errors: 2 }) });
    const result = await runAnalysis(source, analysis(), { clock, intervalMs: 5000 });
    expect(result).toMatchObject({ verdict: 'failure', earlyDecision: true, elapsedSeconds: 10 });
    expect(source.windows).toHaveLength(2);
  });

  it('gives the error verdict when the source keeps throwing', async () => {
    const clock = new FakeClock(START);
    const source = fakeSource({ fail: () => new Error('ssh: connect ECONNREFUSED') });
    const result = await runAnalysis(source, analysis(), { clock, intervalMs: 5000 });
    expect(result).toMatchObject({ verdict: 'error', decidedAt: START + 15_000, canaryRequests: 0 });
    expect(result.reason).toBe('metric source failed 3 times in a row: ssh: connect ECONNREFUSED');
    // A failed window is covered again by the next one.
    expect(source.windows).toEqual([
      { start: START, end: START + 5000 },
      { start: START, end: START + 10_000 },
      { start: START, end: START + 15_000 },
    ]);
  });

  it('recovers from a failed sample by sampling the missed interval with the next', async () => {
    const clock = new FakeClock(START);
    const source = fakeSource({ fail: (call) => (call === 2 || call === 3 ? new Error('timeout') : null) });
    const result = await runAnalysis(source, analysis(), { clock, intervalMs: 5000 });
    expect(result).toMatchObject({ verdict: 'success', elapsedSeconds: 300 });
    expect(source.windows[3]).toEqual({ start: START + 5000, end: START + 20_000 });
    expect(source.windows[4]).toEqual({ start: START + 20_000, end: START + 25_000 });
    expect(result.warnings).toContain('the metric source failed 2 times (last: timeout)');
  });

  it('keeps the schedule when the source is slow', async () => {
    const clock = new FakeClock(START);
    // Each sample takes 7 s of a 5-s interval: windows stay on the 5-s grid and grow to catch up.
    const source = fakeSource({ clock, takesMs: 7000, traffic: () => ({ requests: 10 }) });
    const result = await runAnalysis(source, analysis('duration: 30'), { clock, intervalMs: 5000 });
    expect(result).toMatchObject({ verdict: 'success', elapsedSeconds: 30, canaryRequests: 50 });
    expect(source.windows.map((window) => [window.start - START, window.end - START])).toEqual([
      [0, 5000],
      [5000, 10_000],
      [10_000, 15_000],
      [15_000, 25_000],
      [25_000, 30_000],
    ]);
    expect(clock.sleeps).toEqual([5000]);
  });

  it('stops with the figures so far when aborted', async () => {
    const clock = new FakeClock(START);
    const controller = new AbortController();
    const source = fakeSource({});
    let samples = 0;
    const onSample = (): void => {
      if (++samples === 4) controller.abort();
    };
    const result: AnalysisResult = await runAnalysis(source, analysis(), {
      clock,
      intervalMs: 5000,
      onSample,
      signal: controller.signal,
    });
    expect(result).toMatchObject({ verdict: 'inconclusive', elapsedSeconds: 20, canaryRequests: 20 });
    expect(result.reason).toBe('stopped after 20 s, before a decision (20 canary requests so far)');
    expect(source.windows).toHaveLength(4);
  });

  it('wakes up from a sleep when aborted', async () => {
    const controller = new AbortController();
    const neverWakes = { now: () => START, sleep: () => new Promise<void>(() => undefined) };
    const running = runAnalysis(fakeSource({}), analysis(), {
      clock: neverWakes,
      intervalMs: 5000,
      signal: controller.signal,
    });
    controller.abort();
    await expect(running).resolves.toMatchObject({ verdict: 'inconclusive', elapsedSeconds: 0 });
  });
});
