import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareMetrics,
  comparisonSummary,
  failureMessage,
  readMetricsFile,
  WORKSPACE_PATH,
  type MetricComparison,
} from '../src/pipeline';
import { ConfigurationError } from '../src/action';
import { describeRule } from '../src/pipeline/compare';
import { lookupMetric, parseMetricsJson } from '../src/pipeline/metric-reports';
import { resolveMetricRules, type MetricRule } from '../src/pipeline/metric-rules';

const rule = (fields: Partial<MetricRule> & Pick<MetricRule, 'metric'>): MetricRule => ({
  direction: null,
  maxRegression: null,
  maxRegressionPercent: null,
  min: null,
  max: null,
  ...fields,
});
const higher = (metric: string, fields: Partial<MetricRule> = {}) =>
  rule({ metric, direction: 'higher-is-better', ...fields });
const lower = (metric: string, fields: Partial<MetricRule> = {}) =>
  rule({ metric, direction: 'lower-is-better', ...fields });

/** One metric compared: candidate and baseline given as values at `m`. */
function one(metricRule: MetricRule, candidate: unknown, baseline: unknown, failOnMissing = true): MetricComparison {
  const wrap = (value: unknown) => (value === undefined ? {} : { [metricRule.metric]: value });
  return compareMetrics(wrap(candidate), wrap(baseline), [metricRule], { failOnMissing }).metrics[0]!;
}

describe('compareMetrics: regressions', () => {
  it('higher-is-better with an absolute limit: a small drop passes, a larger one fails', () => {
    expect(one(higher('accuracy', { maxRegression: 0.01 }), 0.895, 0.9)).toMatchObject({
      verdict: 'pass',
      baseline: 0.9,
      candidate: 0.895,
      delta: -0.005,
      detail: '',
    });
    expect(one(higher('accuracy', { maxRegression: 0.01 }), 0.88, 0.9)).toMatchObject({
      verdict: 'fail',
      delta: -0.02,
      detail: 'drop of 0.02 exceeds max-regression 0.01',
    });
  });

  it('a regression exactly at the limit passes despite float noise', () => {
    expect(0.9 - 0.89).not.toBe(0.01);
    expect(one(higher('accuracy', { maxRegression: 0.01 }), 0.89, 0.9).verdict).toBe('pass');
    expect(one(lower('latency_ms', { maxRegressionPercent: 5 }), 210, 200)).toMatchObject({
      verdict: 'pass',
      delta: 10,
      deltaPercent: 5,
    });
  });

  it('lower-is-better in percent: a rise over the limit fails, a fall never does', () => {
    expect(one(lower('latency_ms', { maxRegressionPercent: 5 }), 220, 200)).toMatchObject({
      verdict: 'fail',
      deltaPercent: 10,
      detail: 'rise of 10% exceeds max-regression-percent 5%',
    });
    expect(one(lower('latency_ms', { maxRegressionPercent: 5, maxRegression: 1 }), 120, 200)).toMatchObject({
      verdict: 'pass',
      delta: -80,
      deltaPercent: -40,
    });
  });

  it('both limits apply; each failure is named', () => {
    const result = one(higher('f1', { maxRegression: 0.01, maxRegressionPercent: 1 }), 0.7, 0.8);
    expect(result.verdict).toBe('fail');
    expect(result.detail).toBe(
      'drop of 0.1 exceeds max-regression 0.01; drop of 12.5% exceeds max-regression-percent 1%',
    );
  });

  it('a negative baseline takes its magnitude for percentages', () => {
    expect(one(higher('log_likelihood', { maxRegressionPercent: 10 }), -2.1, -2.0)).toMatchObject({
      verdict: 'pass',
      delta: -0.1,
      deltaPercent: -5,
    });
    expect(one(higher('log_likelihood', { maxRegressionPercent: 4 }), -2.1, -2.0).verdict).toBe('fail');
  });
});

describe('compareMetrics: bounds', () => {
  it('min and max bound the candidate, with or without a direction', () => {
    expect(one(rule({ metric: 'accuracy', min: 0.8 }), 0.79, 0.9)).toMatchObject({
      verdict: 'fail',
      detail: '0.79 is below min 0.8',
    });
    expect(one(rule({ metric: 'p95_ms', max: 250 }), 251, 100)).toMatchObject({
      verdict: 'fail',
      detail: '251 is above max 250',
    });
    expect(one(rule({ metric: 'p95_ms', min: 0, max: 250 }), 250, 100).verdict).toBe('pass');
  });
});

describe('compareMetrics: edge cases', () => {
  it('a zero baseline has no delta percent; with only a percent limit any regression fails', () => {
    expect(one(lower('toxicity_rate', { maxRegressionPercent: 10 }), 0, 0)).toMatchObject({
      verdict: 'pass',
      delta: 0,
      deltaPercent: null,
    });
    expect(one(lower('toxicity_rate', { maxRegressionPercent: 10 }), 0.001, 0)).toMatchObject({
      verdict: 'fail',
      deltaPercent: null,
      detail: 'baseline is 0, so any rise exceeds max-regression-percent (add max-regression for an absolute limit)',
    });
    expect(one(lower('toxicity_rate', { maxRegressionPercent: 10, maxRegression: 0.002 }), 0.001, 0).verdict).toBe(
      'pass',
    );
    expect(one(lower('toxicity_rate', { maxRegressionPercent: 10, maxRegression: 0.002 }), 0.003, 0).verdict).toBe(
      'fail',
    );
    expect(one(higher('recall', { maxRegressionPercent: 10 }), 0.5, 0).verdict).toBe('pass');
  });

  it('a metric missing from the candidate fails by default, and is skipped when fail-on-missing is false', () => {
    expect(one(higher('accuracy', { maxRegression: 0.01 }), undefined, 0.9)).toMatchObject({
      verdict: 'missing',
      candidate: null,
      baseline: 0.9,
      detail: 'not in the candidate report',
    });
    expect(one(higher('accuracy', { maxRegression: 0.01 }), undefined, 0.9, false)).toMatchObject({
      verdict: 'skipped',
    });
    expect(one(higher('accuracy', { maxRegression: 0.01 }), undefined, undefined)).toMatchObject({
      verdict: 'missing',
      detail: 'in neither report',
    });
  });

  it('a metric missing from the baseline: missing by default; otherwise only min and max are checked', () => {
    expect(one(higher('accuracy', { maxRegression: 0.01, min: 0.8 }), 0.85, undefined)).toMatchObject({
      verdict: 'missing',
      detail: 'not in the baseline report',
    });
    expect(one(higher('accuracy', { maxRegression: 0.01, min: 0.8 }), 0.85, undefined, false)).toMatchObject({
      verdict: 'pass',
      delta: null,
      detail: 'no baseline: only min and max checked',
    });
    expect(one(higher('accuracy', { maxRegression: 0.01, min: 0.8 }), 0.75, undefined, false)).toMatchObject({
      verdict: 'fail',
      detail: '0.75 is below min 0.8',
    });
    expect(one(higher('accuracy', { maxRegression: 0.01 }), 0.85, undefined, false)).toMatchObject({
      verdict: 'skipped',
      detail: 'not in the baseline report',
    });
  });

  it('NaN, Infinity, null or a string always fails, whatever fail-on-missing says', () => {
    const report = parseMetricsJson(
      '{"accuracy": NaN, "loss": Infinity, "drift": -Infinity, "note": "NaN stays a string", "f1": null, "auc": "0.9"}',
    ) as Record<string, unknown>;
    const baseline = { accuracy: 0.9, loss: 0.3, drift: 0.1, f1: 0.8, auc: 0.91 };
    const rules = ['accuracy', 'loss', 'drift', 'f1', 'auc'].map((metric) => higher(metric, { maxRegression: 1 }));
    const result = compareMetrics(report, baseline, rules, { failOnMissing: false });
    expect(result.passed).toBe(false);
    expect(result.metrics.map((metric) => [metric.verdict, metric.detail])).toEqual([
      ['fail', 'candidate is NaN, not a number'],
      ['fail', 'candidate is Infinity, not a number'],
      ['fail', 'candidate is -Infinity, not a number'],
      ['fail', 'candidate is null, not a number'],
      ['fail', "candidate is '0.9', not a number"],
    ]);
    expect(report.note).toBe('NaN stays a string');
    expect(one(higher('accuracy', { maxRegression: 1 }), 0.9, 'NaN', false)).toMatchObject({
      verdict: 'fail',
      detail: 'baseline is NaN, not a number',
    });
  });

  it('passed is false when any metric fails or is missing, true when the rest pass or are skipped', () => {
    const rules = [
      higher('accuracy', { maxRegression: 0.01 }),
      lower('latency_ms', { max: 300 }),
      higher('bleu', { min: 0.1 }),
    ];
    expect(
      compareMetrics({ accuracy: 0.9, latency_ms: 200 }, { accuracy: 0.9, latency_ms: 210 }, rules, {
        failOnMissing: false,
      }),
    ).toMatchObject({ passed: true, failing: [] });
    const failing = compareMetrics({ accuracy: 0.9, latency_ms: 200 }, { accuracy: 0.9, latency_ms: 210 }, rules, {
      failOnMissing: true,
    });
    expect(failing.passed).toBe(false);
    expect(failing.failing.map((metric) => metric.metric)).toEqual(['bleu']);
  });
});

describe('lookupMetric', () => {
  it('finds flat keys, nested paths, and keys that contain dots', () => {
    const report = {
      accuracy: 0.9,
      eval: { accuracy: 0.8, 'f1.macro': 0.7, by_class: { cat: 0.6 } },
      'eval.loss': 0.5,
      list: [0.4],
    };
    expect(lookupMetric(report, 'accuracy')).toEqual({ kind: 'number', value: 0.9 });
    expect(lookupMetric(report, 'eval.accuracy')).toEqual({ kind: 'number', value: 0.8 });
    expect(lookupMetric(report, 'eval.f1.macro')).toEqual({ kind: 'number', value: 0.7 });
    expect(lookupMetric(report, 'eval.by_class.cat')).toEqual({ kind: 'number', value: 0.6 });
    expect(lookupMetric(report, 'eval.loss')).toEqual({ kind: 'number', value: 0.5 });
    expect(lookupMetric(report, 'list.0')).toEqual({ kind: 'number', value: 0.4 });
    expect(lookupMetric(report, 'eval.missing')).toEqual({ kind: 'missing' });
    expect(lookupMetric(report, 'eval')).toEqual({ kind: 'invalid', what: 'a mapping' });
  });

  it('reads own keys only, never the prototype', () => {
    for (const path of ['constructor', 'toString', '__proto__', 'eval.constructor', 'hasOwnProperty'])
      expect(lookupMetric({ eval: {} }, path)).toEqual({ kind: 'missing' });
  });
});

describe('parseMetricsJson', () => {
  it("reads plain JSON, and Python's bare NaN and Infinity outside strings", () => {
    expect(parseMetricsJson('{"a": 1}')).toEqual({ a: 1 });
    expect(parseMetricsJson('{"a": NaN, "b": [Infinity, -Infinity], "c": "x NaN \\" NaN"}')).toEqual({
      a: 'NaN',
      b: ['Infinity', '-Infinity'],
      c: 'x NaN " NaN',
    });
    expect(parseMetricsJson('{"NaNo": 1, "a": 2}')).toEqual({ NaNo: 1, a: 2 });
  });

  it('still refuses what is not JSON', () => {
    expect(() => parseMetricsJson('{"a": NaNa}')).toThrow(SyntaxError);
    expect(() => parseMetricsJson('accuracy: 0.9')).toThrow(SyntaxError);
  });
});

describe('resolveMetricRules', () => {
  const problems = (document: unknown) => resolveMetricRules(document).problems;

  it('reads the kebab-case rule fields', () => {
    expect(
      resolveMetricRules([
        {
          metric: 'eval.accuracy',
          direction: 'higher-is-better',
          'max-regression': 0.01,
          'max-regression-percent': 2,
          min: 0.8,
          max: 1,
        },
      ]),
    ).toEqual({
      rules: [
        {
          metric: 'eval.accuracy',
          direction: 'higher-is-better',
          maxRegression: 0.01,
          maxRegressionPercent: 2,
          min: 0.8,
          max: 1,
        },
      ],
      problems: [],
    });
    expect(resolveMetricRules([{ metric: 'p95_ms', max: 250 }]).rules[0]).toEqual(rule({ metric: 'p95_ms', max: 250 }));
  });

  it('names each problem and where it is', () => {
    expect(problems(null)).toEqual(['expected at least one rule, got nothing']);
    expect(problems({ metric: 'a' })).toEqual(['expected a list of rules, got a mapping']);
    expect(problems([])).toEqual(['expected at least one rule, got an empty list']);
    expect(problems(['accuracy'])).toEqual(["rules[0]: expected a mapping {metric, direction, …}, got 'accuracy'"]);
    expect(problems([{ metric: 'a', direction: 'up', 'max-regression': 1 }])).toEqual([
      "rules[0].direction: expected higher-is-better or lower-is-better, got 'up'",
    ]);
    expect(problems([{ metric: 'a', 'max-regression': 1 }])).toEqual([
      'rules[0].direction: required with max-regression or max-regression-percent; expected higher-is-better or lower-is-better',
    ]);
    expect(problems([{ metric: 'a', direction: 'higher-is-better' }])).toEqual([
      'rules[0]: give at least one of max-regression, max-regression-percent, min, max',
    ]);
    expect(problems([{ metric: 'a', min: 2, max: 1 }])).toEqual(['rules[0]: min (2) is above max (1)']);
    expect(problems([{ metric: 'a', direction: 'higher-is-better', max_regression: 1, 'max-regression': 1 }])).toEqual([
      "rules[0]: unknown key 'max_regression'; expected metric, direction, max-regression, max-regression-percent, min, max",
    ]);
    expect(problems([{ metric: 'a', direction: 'higher-is-better', 'max-regression': -1 }])).toEqual([
      'rules[0].max-regression: expected a number of at least 0, got -1',
    ]);
    expect(problems([{ metric: 'a', min: '0.8' }])).toEqual(["rules[0].min: expected a number, got '0.8'"]);
    expect(problems([{ metric: 'a..b', max: 1 }, { metric: 'x y', max: 1 }, { max: 1 }])).toEqual([
      "rules[0].metric: expected a metric name or dotted path such as eval.accuracy, got 'a..b'",
      "rules[1].metric: expected a metric name or dotted path such as eval.accuracy, got 'x y'",
      'rules[2].metric: expected a metric name or dotted path such as eval.accuracy, got nothing',
    ]);
    expect(
      problems([
        { metric: 'a', max: 1 },
        { metric: 'a', min: 0 },
      ]),
    ).toEqual(["rules[1].metric: 'a' already has a rule (rules[0])"]);
  });
});

describe('summary and message', () => {
  const result = compareMetrics(
    { eval: { accuracy: 0.85 }, latency_ms: 180 },
    { eval: { accuracy: 0.9 }, latency_ms: 200 },
    [
      higher('eval.accuracy', { maxRegression: 0.01 }),
      lower('latency_ms', { maxRegressionPercent: 5, max: 250 }),
      rule({ metric: 'bleu', min: 0.2 }),
    ],
    { failOnMissing: true },
  );

  it('describes rules in words', () => {
    expect(describeRule(higher('a', { maxRegression: 0.01, maxRegressionPercent: 2, min: 0.8 }))).toBe(
      'higher is better: drop ≤ 0.01, drop ≤ 2%, ≥ 0.8',
    );
    expect(describeRule(lower('a', { maxRegressionPercent: 5, max: 250 }))).toBe('lower is better: rise ≤ 5%, ≤ 250');
    expect(describeRule(rule({ metric: 'a', min: 0 }))).toBe('≥ 0');
  });

  it('tabulates metric | baseline | candidate | Δ | Δ% | rule | verdict and names the failures', () => {
    const summary = comparisonSummary(result);
    const lines = summary.split('\n');
    expect(lines[0]).toBe('### ❌ Candidate model fails on eval.accuracy, bleu');
    expect(lines[2]).toBe('| metric | baseline | candidate | Δ | Δ% | rule | verdict |');
    expect(lines[4]).toBe(
      '| eval.accuracy | 0.9 | 0.85 | -0.05 | -5.56% | higher is better: drop ≤ 0.01 | ❌ fail: drop of 0.05 exceeds max-regression 0.01 |',
    );
    expect(lines[5]).toBe('| latency_ms | 200 | 180 | -20 | -10% | lower is better: rise ≤ 5%, ≤ 250 | ✅ pass |');
    expect(lines[6]).toBe('| bleu | — | — | — | — | ≥ 0.2 | ❌ missing: in neither report |');
    expect(failureMessage(result)).toBe(
      'Candidate model fails on 2 metric(s): eval.accuracy (drop of 0.05 exceeds max-regression 0.01); bleu (in neither report)',
    );
    expect(
      comparisonSummary(
        compareMetrics({ a: 1 }, { a: 1 }, [rule({ metric: 'a', max: 1 })], { failOnMissing: true }),
      ).split('\n')[0],
    ).toBe('### ✅ Candidate model passes the A/B comparison');
  });
});

describe('readMetricsFile', () => {
  let workspace: string;
  let outside: string;
  beforeAll(() => {
    workspace = mkdtempSync(join(tmpdir(), 'al-compare-ws-'));
    outside = mkdtempSync(join(tmpdir(), 'al-compare-out-'));
    mkdirSync(join(workspace, 'metrics'));
    writeFileSync(join(workspace, 'metrics', 'candidate.json'), '{"eval": {"accuracy": 0.93}}');
    writeFileSync(join(workspace, 'list.json'), '[0.9]');
    writeFileSync(join(workspace, 'bad.json'), '{"accuracy": 0.9,');
    writeFileSync(join(outside, 'secret.json'), '{"token": 1}');
    symlinkSync(join(outside, 'secret.json'), join(workspace, 'link.json'));
  });
  afterAll(() => {
    rmSync(workspace, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });
  const error = (path: string): string => {
    try {
      readMetricsFile(workspace, path, 'candidate');
      return '';
    } catch (caught) {
      expect(caught).toBeInstanceOf(ConfigurationError);
      return (caught as Error).message;
    }
  };

  it('reads a JSON object from the workspace', () => {
    expect(readMetricsFile(workspace, 'metrics/candidate.json', 'candidate')).toEqual({ eval: { accuracy: 0.93 } });
  });

  it('names the input and says what is wrong', () => {
    expect(error('metrics/none.json')).toBe(
      "Input 'candidate': no file at metrics/none.json in the workspace; expected the path of a JSON metrics report relative to the workspace",
    );
    expect(error('link.json')).toBe(
      "Input 'candidate': link.json leads outside the workspace; expected a file in the workspace",
    );
    expect(error('metrics')).toBe("Input 'candidate': metrics is not a file; expected a JSON metrics report");
    expect(error('list.json')).toBe(
      'Input \'candidate\': list.json holds a list; expected a JSON object of metrics such as {"accuracy": 0.93}',
    );
    expect(error('bad.json')).toMatch(
      /^Input 'candidate': bad.json is not valid JSON \(.+\); expected a JSON object of metrics$/,
    );
  });

  it('the path pattern refuses .., absolute paths and home paths', () => {
    for (const good of ['metrics/candidate.json', 'candidate.json', './a/b.json', 'a..b.json'])
      expect(WORKSPACE_PATH.test(good)).toBe(true);
    for (const bad of [
      '../secret.json',
      'metrics/../../x.json',
      '..',
      '/etc/passwd',
      '~/x.json',
      'a b.json',
      'x.json;rm',
      '$(id).json',
    ])
      expect(WORKSPACE_PATH.test(bad)).toBe(false);
  });
});
