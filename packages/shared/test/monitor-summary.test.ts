import { describe, expect, it } from 'vitest';
import { CanaryAnalysis, parsePolicy, type AnalysisResult } from '../src/analysis';
import type { MonitorResult } from '../src/procedures';
import { monitorSummary } from '../src/report';
import { mermaidBlocks, parseMermaid } from '../../../test/support/mermaid';
import { sample } from './analysis/samples';
import { rampTimeline } from '../src/report/charts';

/** An analysis fed `count` intervals of 5 s (green: canary, blue: stable). */
function analyse(count: number, canaryErrors: (index: number) => number): AnalysisResult {
  const analysis = new CanaryAnalysis(parsePolicy(''), { canary: 'green', stable: 'blue', start: 0 });
  let result: AnalysisResult | null = null;
  for (let index = 0; index < count; index++) {
    const next = sample(index, index === 1 ? null : { requests: 10, errors: canaryErrors(index) }, { requests: 40 });
    result = analysis.add(next) ?? analysis.current(next.end);
    if (result.verdict !== 'inconclusive' && result.decidedAt !== null) break;
  }
  return result as AnalysisResult;
}

const base = (analysis: AnalysisResult, overrides: Partial<MonitorResult> = {}): MonitorResult => ({
  verdict: analysis.verdict,
  reason: analysis.reason,
  analysis,
  steps: [{ percent: null, analysis }],
  canaryColor: 'green',
  stableColor: 'blue',
  canaryVersion: 'v2',
  stableVersion: 'v1',
  rollback: null,
  rollbackMs: null,
  ...overrides,
});

describe('the canary summary an on-call engineer reads', () => {
  it('starts with the verdict, what was done, the incident and what to do next; charts come last and parse', async () => {
    const failed = analyse(12, () => 3);
    const rollback = {
      ok: true,
      phase: 'rollback' as const,
      activeColor: 'blue' as const,
      previousColor: 'green' as const,
      version: 'v1',
      previousVersion: 'v2',
      canaryPercent: 100,
      switchMs: 30,
      durationMs: 500,
      hosts: [],
      noop: false,
      restoredMs: 410,
      failedVersion: 'v2',
      candidates: ['v1'],
      abortedMonitorMs: null,
    };
    const markdown = monitorSummary(
      'shop',
      base(failed, { rollback, rollbackMs: 410 }),
      'https://github.com/o/r/issues/9',
    );
    const lines = markdown.split('\n');
    expect(lines[0]).toBe('### ❌ shop: canary v2 failed; rolled back to v1');
    expect(lines[2]).toMatch(/^- \*\*Verdict:\*\* ❌ failure: error-rate: canary 30% errors/);
    expect(lines[3]).toBe(
      '- **Done:** all traffic back on v1 (blue) 0.4 s after the decision; v2 stopped unless keep-failed',
    );
    expect(lines[4]).toBe('- **Incident:** [https\\://github.com/o/r/issues/9](https://github.com/o/r/issues/9)');
    expect(lines[5]).toMatch(/^- \*\*Next:\*\* /);
    expect(markdown.indexOf('```mermaid')).toBeGreaterThan(markdown.indexOf('| rule | kind |'));
    expect(await parseMermaid(markdown)).toEqual(['xychart', 'xychart']);
  });

  it('charts a ramp over its whole length: the traffic share and each color, one timeline', async () => {
    const steps = [10, 50, 100].map((percent) => ({ percent, analysis: analyse(4, () => 0) }));
    const last = steps[2]!.analysis;
    const result = base(last, { steps, verdict: 'success' });
    const timeline = rampTimeline(result);
    expect(timeline.seconds).toBe(steps.reduce((sum, step) => sum + step.analysis.elapsedSeconds, 0));
    expect(Math.max(...timeline.series.map((point) => point.t))).toBe(timeline.seconds);
    const markdown = monitorSummary('shop', result);
    expect(markdown.split('\n')[0]).toBe('### ✅ shop: v2 ramped to all traffic');
    // The verdict speaks for the whole ramp, not for its last step.
    expect(markdown.split('\n')[2]).toBe(
      '- **Verdict:** ✅ success: every step passed its analysis (10% → 50% → 100%)',
    );
    expect(markdown).toContain(`over ${timeline.seconds.toFixed(0)} s in 3 steps`);
    const blocks = mermaidBlocks(markdown);
    expect(blocks).toHaveLength(3);
    expect(blocks[0]).toContain('title "Share of traffic (%)"');
    // The canary's share climbs step by step; the stable line is its complement.
    const [stableShare, canaryShare] = [...blocks[0]!.matchAll(/line \[([^\]]*)\]/g)].map((match) =>
      match[1]!.split(', ').map(Number),
    );
    expect(new Set(canaryShare)).toEqual(new Set([10, 50, 100]));
    expect(canaryShare!.map((share, index) => share + stableShare![index]!)).toEqual(canaryShare!.map(() => 100));
    expect(await parseMermaid(markdown)).toEqual(['xychart', 'xychart', 'xychart']);
  });

  it('after a ramp to all traffic, says that promote comes next (the canary is not the live release yet)', () => {
    const steps = [10, 100].map((percent) => ({ percent, analysis: analyse(4, () => 0) }));
    const lines = monitorSummary('shop', base(steps[1]!.analysis, { steps, verdict: 'success' })).split('\n');
    expect(lines[3]).toBe(
      '- **Done:** every step passed its analysis; v2 serves all traffic as the canary, v1 still runs beside it',
    );
    expect(lines[4]).toBe(
      '- **Next:** Promote it (blue-green phase: promote): v2 becomes the live release and v1 is stopped unless keep-previous.',
    );
  });

  it("a failed ramp's verdict names the step it stopped at and the steps before it", () => {
    const steps = [
      { percent: 10, analysis: analyse(4, () => 0) },
      { percent: 50, analysis: analyse(12, () => 3) },
    ];
    const failed = steps[1]!.analysis;
    const markdown = monitorSummary('shop', base(failed, { steps }));
    expect(markdown.split('\n')[2]).toMatch(
      /^- \*\*Verdict:\*\* ❌ failure: at step 2, 50% \(10% → 50%\): error-rate: canary 30% errors/,
    );
  });

  it('the Mermaid check fails on a block GitHub could not render', async () => {
    await expect(parseMermaid('```mermaid\nxychart-beta\n  title "cut\n  line [1,,2]\n```\n')).rejects.toThrow(
      /a Mermaid block GitHub could not render/,
    );
  });
});
