import { describe, expect, it } from 'vitest';
import { CanaryAnalysis, parsePolicy } from '../../src/analysis';
import { progressLine } from '../../src/report';
import { sample } from './samples';
import { xyChart } from '../../src/report/charts';

describe('charts: no data is a gap, not a zero', () => {
  it('leaves an instant without data off the axis and names it under the chart', () => {
    const series = [
      { t: 5, color: 'blue' as const, requests: 0, errorRate: null, p95Ms: null },
      { t: 5, color: 'green' as const, requests: 0, errorRate: null, p95Ms: null },
      { t: 10, color: 'blue' as const, requests: 40, errorRate: 0.025, p95Ms: 120 },
      { t: 10, color: 'green' as const, requests: 4, errorRate: 0, p95Ms: 90 },
      { t: 15, color: 'blue' as const, requests: 38, errorRate: 0, p95Ms: 110 },
      { t: 15, color: 'green' as const, requests: 0, errorRate: null, p95Ms: null },
      { t: 20, color: 'blue' as const, requests: 41, errorRate: 0, p95Ms: 100 },
      { t: 20, color: 'green' as const, requests: 5, errorRate: 0.2, p95Ms: 300 },
    ];
    const lines = [
      { color: 'blue' as const, label: 'blue = stable' },
      { color: 'green' as const, label: 'green = canary' },
    ];
    const chart = xyChart('P95 latency (ms)', 'ms', series, (point) => point.p95Ms, lines);
    expect(chart).toContain('x-axis "seconds" [10, 20]');
    expect(chart).toContain('  line [120, 100]');
    expect(chart).toContain('  line [90, 300]');
    expect(chart).not.toMatch(/line \[[^\]]*\b0\b/);
    expect(chart).toContain(
      'P95 latency (ms): blue line = blue = stable, green line = green = canary. No data (left out, not drawn as 0) for blue at 5 s; green at 5, 15 s.',
    );
    // Each line in its color's own color, in the order the lines are drawn; a short title.
    expect(chart).toContain('%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "#0969da, #1a7f37"}}}}%%');
    expect(chart).toContain('  title "P95 latency (ms)"');
    expect(xyChart('x', 'ms', series, (point) => point.p95Ms, [...lines].reverse())).toContain(
      '"plotColorPalette": "#1a7f37, #0969da"',
    );
    expect(xyChart('Error rate (%)', '%', series.slice(0, 2), (point) => point.errorRate, lines)).toBe(
      'Error rate (%): no sample had data for every line. No data (left out, not drawn as 0) for blue at 5 s; green at 5 s.',
    );
  });
});

describe('progress lines', () => {
  it('name requests, error rate and P95 per color for the interval and so far, and the rules watching', () => {
    const analysis = new CanaryAnalysis(parsePolicy(''), { canary: 'green', stable: 'blue', start: 0 });
    const first = sample(0, { requests: 5 }, { requests: 40, errors: 1 });
    expect(progressLine(first, analysis.add(first) ?? analysis.current(first.end), 'green', 'blue')).toBe(
      't=5s canary green: 5 req, 0% errors, P95 98 ms (so far 5 req, 0% errors, P95 98 ms); ' +
        'stable blue: 40 req, 2.5% errors, P95 98 ms (so far 40 req, 2.5% errors, P95 98 ms); all rules pass so far',
    );
    const second = sample(1, { requests: 5, errors: 1 }, { requests: 0 });
    const line = progressLine(second, analysis.add(second) ?? analysis.current(second.end), 'green', 'blue');
    expect(line).toMatch(
      new RegExp(
        String.raw`^t=10s canary green: 5 req, 20% errors, P95 98 ms \(so far 10 req, 10% errors, P95 98 ms\); ` +
          String.raw`stable blue: 0 req, n\/a errors, P95 n\/a \(so far 40 req, 2\.5% errors, P95 98 ms\); `,
      ),
    );
    expect(line).toMatch(/error-rate: watching/);
  });
});
