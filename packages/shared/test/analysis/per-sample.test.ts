import { describe, expect, it } from 'vitest';
import { CanaryAnalysis, parsePolicy, type MetricSource } from '../../src/analysis';
import { sample } from './samples';
import { CombinedSource, combineSources } from '../../src/analysis/sources';

// What runs once per sample: the running result (`current`) and the monitor's source.

describe('a running result', () => {
  it('shows its figures as they stood when it was made, whenever they are read', () => {
    const analysis = new CanaryAnalysis(parsePolicy(''), { canary: 'green', stable: 'blue', start: 0 });
    for (let index = 0; index < 4; index++) analysis.add(sample(index, { requests: 5, errors: index === 3 ? 1 : 0 }));
    const readLater = analysis.current(20_000);
    const readNow = JSON.stringify(analysis.current(20_000));
    for (let index = 4; index < 10; index++)
      analysis.add(sample(index, { requests: 5, errors: 2, slow: 3, slowMs: 8000 }));

    expect(JSON.stringify(readLater)).toBe(readNow);
    expect(readLater.series).toHaveLength(8);
    expect(readLater.rules.find((rule) => rule.name === 'error-rate')).toMatchObject({
      status: 'watching',
      observed: 0.05,
    });
  });

  it('reads like plain data: the keys in order, spread and assigned as ever', () => {
    const analysis = new CanaryAnalysis(parsePolicy('duration: 10'), { canary: 'green', stable: 'blue', start: 0 });
    const running = analysis.current(0);
    const decided = analysis.add(sample(0, { requests: 30 })) ?? analysis.add(sample(1, { requests: 30 }));
    expect(Object.keys(running)).toEqual(Object.keys(decided ?? {}));
    expect({ ...running, reason: 'stopped' }).toEqual({ ...JSON.parse(JSON.stringify(running)), reason: 'stopped' });
    running.rules = [];
    expect(running.rules).toEqual([]);
  });
});

describe('the monitor source', () => {
  const source = (name: string): MetricSource => ({ name, sample: async (window) => ({ ...window, colors: {} }) });

  it('reads a single source as it is, and combines several', () => {
    const only = source('nginx-log');
    expect(combineSources([only])).toBe(only);
    const both = combineSources([only, source('host')]);
    expect(both).toBeInstanceOf(CombinedSource);
    expect(both.name).toBe('nginx-log+host');
  });
});
