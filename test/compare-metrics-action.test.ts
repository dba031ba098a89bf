import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, type RunActionResult } from './lab/run-action';
import type { MetricComparison } from '@agent-loop/shared/pipeline';

/** The compare-metrics bundle as GitHub runs it: reports in the workspace, rules as YAML, outputs and summary in the runner's files. */

let workspace: string;
let outside: string;

const RULES = `
- { metric: eval.accuracy, direction: higher-is-better, max-regression: 0.01 }
- { metric: eval.f1, direction: higher-is-better, max-regression-percent: 2 }
- { metric: latency_p95_ms, direction: lower-is-better, max-regression-percent: 10, max: 2000 }
- { metric: toxicity_rate, direction: lower-is-better, max-regression: 0.001, max: 0.01 }
`;

beforeAll(() => {
  workspace = mkdtempSync(join(tmpdir(), 'al-compare-action-'));
  outside = mkdtempSync(join(tmpdir(), 'al-compare-outside-'));
  mkdirSync(join(workspace, 'metrics'));
  const write = (name: string, text: string) => writeFileSync(join(workspace, 'metrics', name), text);
  write(
    'baseline.json',
    JSON.stringify({ eval: { accuracy: 0.91, f1: 0.88 }, latency_p95_ms: 900, toxicity_rate: 0.002 }),
  );
  write(
    'better.json',
    JSON.stringify({ eval: { accuracy: 0.925, f1: 0.875 }, latency_p95_ms: 950, toxicity_rate: 0.0025 }),
  );
  write('worse.json', JSON.stringify({ eval: { accuracy: 0.87, f1: 0.8 }, latency_p95_ms: 980, toxicity_rate: 0.002 }));
  // Python's json.dump writes NaN bare; the metric fails, the file is still read.
  write('python.json', '{"eval": {"accuracy": NaN, "f1": 0.88}, "latency_p95_ms": 900, "toxicity_rate": 0.002}');
  write('partial.json', JSON.stringify({ eval: { accuracy: 0.92, f1: 0.88 }, latency_p95_ms: 900 }));
  writeFileSync(join(outside, 'secret.json'), '{"eval": {"accuracy": 1}}');
  symlinkSync(join(outside, 'secret.json'), join(workspace, 'metrics', 'escape.json'));
});

afterAll(() => {
  rmSync(workspace, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

function compare(inputs: Record<string, string>): Promise<RunActionResult> {
  return runAction({
    action: 'compare-metrics',
    inputs: { baseline: 'metrics/baseline.json', rules: RULES, ...inputs },
    env: { GITHUB_WORKSPACE: workspace },
  });
}

/** The report output: the comparison of each metric, as the core types it. */
type ReportRow = MetricComparison;

/** The step's error annotations, decoded as the runner decodes workflow commands. */
const errors = (result: RunActionResult): string[] =>
  result.stdout
    .split('\n')
    .filter((line) => line.startsWith('::error::'))
    .map((line) =>
      line.slice('::error::'.length).replaceAll('%0A', '\n').replaceAll('%0D', '\r').replaceAll('%25', '%'),
    );

const report = (result: RunActionResult): ReportRow[] => JSON.parse(result.outputs.report ?? 'null') as ReportRow[];

describe('compare-metrics bundle', () => {
  it('passes a candidate within every rule: outputs, table, exit 0', async () => {
    const result = await compare({ candidate: 'metrics/better.json' });
    expect(result.stdout.split('\n').filter((line) => line.startsWith('::error::'))).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.outputs.passed).toBe('true');
    expect(report(result).map((row) => [row.metric, row.verdict])).toEqual([
      ['eval.accuracy', 'pass'],
      ['eval.f1', 'pass'],
      ['latency_p95_ms', 'pass'],
      ['toxicity_rate', 'pass'],
    ]);
    expect(report(result)[0]).toEqual({
      metric: 'eval.accuracy',
      baseline: 0.91,
      candidate: 0.925,
      delta: 0.015,
      deltaPercent: 1.64835164835,
      rule: 'higher is better: drop ≤ 0.01',
      verdict: 'pass',
      detail: '',
    });
    expect(result.summary).toContain('### ✅ Candidate model passes the A/B comparison');
    expect(result.summary).toContain('| metric | baseline | candidate | Δ | Δ% | rule | verdict |');
    expect(result.summary).toContain(
      '| latency_p95_ms | 900 | 950 | +50 | +5.56% | lower is better: rise ≤ 10%, ≤ 2000 | ✅ pass |',
    );
  });

  it('fails a regressed candidate with a table and the failing metrics named, exit 1', async () => {
    const result = await compare({ candidate: 'metrics/worse.json' });
    expect(result.code).toBe(1);
    expect(result.outputs.passed).toBe('false');
    expect(report(result).map((row) => row.verdict)).toEqual(['fail', 'fail', 'pass', 'pass']);
    expect(errors(result)).toEqual([
      'Candidate model fails on 2 metric(s): eval.accuracy (drop of 0.04 exceeds max-regression 0.01); ' +
        'eval.f1 (drop of 9.09091% exceeds max-regression-percent 2%)',
    ]);
    expect(result.summary).toContain('### ❌ Candidate model fails on eval.accuracy, eval.f1');
    expect(result.summary).toContain(
      '| eval.accuracy | 0.91 | 0.87 | -0.04 | -4.4% | higher is better: drop ≤ 0.01 | ❌ fail: drop of 0.04 exceeds max-regression 0.01 |',
    );
  });

  it('a NaN in a Python-written report fails that metric', async () => {
    const result = await compare({ candidate: 'metrics/python.json' });
    expect(result.code).toBe(1);
    expect(report(result)[0]).toMatchObject({
      metric: 'eval.accuracy',
      candidate: null,
      verdict: 'fail',
      detail: 'candidate is NaN, not a number',
    });
    expect(errors(result)).toEqual([
      'Candidate model fails on 1 metric(s): eval.accuracy (candidate is NaN, not a number)',
    ]);
  });

  it('a missing metric fails by default and is skipped with fail-on-missing: false', async () => {
    const strict = await compare({ candidate: 'metrics/partial.json' });
    expect(strict.code).toBe(1);
    expect(errors(strict)).toEqual([
      'Candidate model fails on 1 metric(s): toxicity_rate (not in the candidate report)',
    ]);
    const lenient = await compare({ candidate: 'metrics/partial.json', 'fail-on-missing': 'false' });
    expect(lenient.code).toBe(0);
    expect(lenient.outputs.passed).toBe('true');
    expect(report(lenient)[3]).toMatchObject({ metric: 'toxicity_rate', verdict: 'skipped' });
    expect(lenient.summary).toContain('⏭️ skipped: not in the candidate report');
  });
});

describe('compare-metrics bundle: bad inputs fail before any report is read', () => {
  it.each([
    [
      { candidate: '../secret.json' },
      "::error::Input 'candidate': expected the path of a JSON metrics report relative to the workspace, without .., got '../secret.json'",
    ],
    [
      { candidate: 'metrics/../../x.json' },
      "::error::Input 'candidate': expected the path of a JSON metrics report relative to the workspace, without .., got 'metrics/../../x.json'",
    ],
    [
      { candidate: '/etc/passwd' },
      "::error::Input 'candidate': expected the path of a JSON metrics report relative to the workspace, without .., got '/etc/passwd'",
    ],
    [
      { candidate: '' },
      "::error::Input 'candidate': is required: the path of a JSON metrics report relative to the workspace, without ..",
    ],
    [
      { candidate: 'metrics/better.json', rules: '- { metric: a, max: [1' },
      "::error::Input 'rules': is not valid YAML",
    ],
    [
      { candidate: 'metrics/better.json', rules: '- { metric: eval.accuracy, direction: up, max-regression: 0.01 }' },
      "::error::Input 'rules': rules[0].direction: expected higher-is-better or lower-is-better, got 'up'; expected a YAML list of rules",
    ],
    [
      { candidate: 'metrics/better.json', rules: '' },
      "::error::Input 'rules': expected at least one rule, got nothing",
    ],
    [
      { candidate: 'metrics/better.json', 'fail-on-missing': 'maybe' },
      "::error::Input 'fail-on-missing': expected true or false, got 'maybe'",
    ],
    [
      { candidate: 'metrics/escape.json' },
      "::error::Input 'candidate': metrics/escape.json leads outside the workspace",
    ],
    [{ candidate: 'metrics/none.json' }, "::error::Input 'candidate': no file at metrics/none.json in the workspace"],
  ])('%j', async (inputs, message) => {
    const result = await compare(inputs);
    expect(result.code).toBe(1);
    expect(errors(result)).toHaveLength(1);
    expect(`::error::${errors(result)[0]}`).toContain(message);
    expect(result.outputs).toEqual({});
    // The summary says what stopped the step and what to do, and nothing else: no report was read.
    expect(result.summary).toMatch(/^### ❌ the step stopped\n\n```text\nInput '[a-z-]+': /);
    expect(result.summary).toContain('- **Next:** Do what the message says');
    expect(result.summary).not.toContain('| metric |');
  });
});
