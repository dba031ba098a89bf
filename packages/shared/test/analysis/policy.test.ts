import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/action';
import { field, readInputs } from '../../src/inputs';
import { DEFAULT_POLICY_YAML, parsePolicy, type Policy, type Rule } from '../../src/analysis';
import { activeRules, POLICY_FORM, policySchema } from '../../src/analysis/policy';
import { DEFAULT_SPRT } from '../../src/analysis/policy-defaults';
import { formatPath } from '../../src/analysis/policy-document';

function problem(input: unknown): string {
  try {
    parsePolicy(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('expected the policy to be rejected');
}

const rule = (policy: Policy, name: string): Rule => {
  const found = policy.rules.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no rule ${name}`);
  return found;
};

describe('parsePolicy defaults', () => {
  it('is the deployment procedure', () => {
    const policy = parsePolicy('');
    expect(policy).toMatchObject({
      durationSeconds: 300,
      intervalSeconds: 5,
      minRequests: 50,
      onInconclusive: 'extend',
      maxExtensions: 1,
      maxSourceErrors: 3,
      earlyDecision: true,
    });
    expect(policy.sprt).toEqual(DEFAULT_SPRT);
    expect(
      policy.rules.map((r) => [
        r.name,
        r.kind,
        r.metric,
        r.limit,
        r.threshold,
        r.windowSeconds,
        r.forSeconds,
        r.modelsOnly,
      ]),
    ).toEqual([
      ['error-rate', 'gate', 'error_rate', 'max', 0.01, 300, 0, false],
      ['latency-p95', 'gate', 'p95_ms', 'max', 2000, 300, 0, false],
      ['error-rate-sustained', 'trigger', 'error_rate', 'max', 0.01, 30, 120, false],
      ['latency-p95-sustained', 'trigger', 'p95_ms', 'max', 5000, 30, 60, false],
      ['health-checks', 'trigger', 'health_failures_in_row', 'max', 3, 0, 0, false],
      ['memory', 'trigger', 'memory_ratio', 'max', 0.95, 0, 60, false],
      ['model-drift', 'trigger', 'drift_score', 'max', 0.1, 0, 300, true],
    ]);
  });

  it('reads the same from DEFAULT_POLICY_YAML, an empty mapping and null', () => {
    const defaults = parsePolicy('');
    expect(parsePolicy(DEFAULT_POLICY_YAML)).toEqual(defaults);
    expect(parsePolicy({})).toEqual(defaults);
    expect(parsePolicy(null)).toEqual(defaults);
  });

  it('gives the default gates the policy duration as their window', () => {
    const policy = parsePolicy('duration: 600');
    expect(rule(policy, 'error-rate').windowSeconds).toBe(600);
    expect(rule(policy, 'error-rate-sustained').windowSeconds).toBe(30);
  });
});

describe('parsePolicy rules', () => {
  it('changes only the given fields of a rule named like a default', () => {
    const policy = parsePolicy('rules:\n  - name: error-rate\n    max: 0.02\n');
    expect(rule(policy, 'error-rate')).toMatchObject({
      metric: 'error_rate',
      kind: 'gate',
      limit: 'max',
      threshold: 0.02,
      windowSeconds: 300,
    });
    expect(policy.rules).toHaveLength(7);
  });

  it('adds rules with new names and keeps the defaults', () => {
    const policy = parsePolicy({
      rules: [{ name: 'queue-depth', metric: 'gauge:queue_depth', max: 100, kind: 'trigger', for: 30 }],
    });
    expect(policy.rules).toHaveLength(8);
    expect(rule(policy, 'queue-depth')).toEqual({
      name: 'queue-depth',
      metric: 'gauge:queue_depth',
      limit: 'max',
      threshold: 100,
      windowSeconds: 0,
      forSeconds: 30,
      kind: 'trigger',
      compare: null,
      margin: 0,
      modelsOnly: false,
    });
  });

  it('replaces the defaults when asked', () => {
    const policy = parsePolicy({ 'replace-default-rules': true, rules: [{ name: 'p99', metric: 'p99_ms', max: 800 }] });
    expect(policy.rules.map((r) => r.name)).toEqual(['p99']);
    expect(rule(policy, 'p99')).toMatchObject({ kind: 'gate', windowSeconds: 300, limit: 'max' });
  });

  it('reads min limits and compare: stable', () => {
    const policy = parsePolicy({
      rules: [
        { name: 'error-rate', compare: 'stable', margin: 0.005 },
        { name: 'throughput', metric: 'gauge:rps', min: 5, kind: 'trigger' },
      ],
    });
    expect(rule(policy, 'error-rate')).toMatchObject({ compare: 'stable', margin: 0.005, threshold: 0.01 });
    expect(rule(policy, 'throughput')).toMatchObject({ limit: 'min', threshold: 5 });
  });

  it('selects the rules of a mode and of model deploys', () => {
    const policy = parsePolicy('');
    expect(activeRules(policy, {}).map((r) => r.name)).not.toContain('model-drift');
    expect(activeRules(policy, { model: true }).map((r) => r.name)).toContain('model-drift');
    expect(activeRules(policy, { mode: 'post-promotion' }).every((r) => r.kind === 'trigger')).toBe(true);
    expect(activeRules(policy, { mode: 'post-promotion' })).toHaveLength(4);
  });
});

describe('parsePolicy validation', () => {
  it('names the rule and field of a bad metric', () => {
    const message = problem(
      'rules:\n  - name: a\n    metric: error_rate\n    max: 0.1\n  - name: b\n    metric: p95_ms\n    max: 10\n  - name: c\n    metric: latency\n    max: 1\n',
    );
    expect(message).toContain(
      'rules[2].metric: expected one of error_rate, p50_ms, p90_ms, p95_ms, p99_ms, health_failures_in_row, ' +
        "memory_ratio, drift_score, gauge:<name>, got 'latency'",
    );
  });

  it.each([
    [{ interval: 0 }, 'interval: expected a number from 1 to 3600 (seconds), got 0'],
    [{ duration: 'long' }, "duration: expected a number from 10 to 86400 (seconds), got 'long'"],
    [{ 'on-inconclusive': 'retry' }, "on-inconclusive: expected one of extend, fail, pass, got 'retry'"],
    [{ 'early-decision': 'yes' }, "early-decision: expected true or false, got 'yes'"],
    [{ sprt: { alpha: 0 } }, 'sprt.alpha: expected a number above 0 and at most 0.5, got 0'],
    [{ sprt: { 'min-failures': 2.5 } }, 'sprt.min-failures: expected a whole number from 1 to 1000, got 2.5'],
    [
      { sprt: { gamma: 1 } },
      "sprt: unknown key 'gamma'; expected alpha, end-alpha, extension-alpha, beta, error-multiplier, latency-multiplier, min-failures",
    ],
    [{ durration: 300 }, "policy: unknown key 'durration'"],
    [{ rules: { name: 'x' } }, 'rules: expected a list, got a mapping'],
    [{ rules: [{ name: 'error-rate', maxx: 1 }] }, "rules[0]: unknown key 'maxx'"],
    [{ rules: [{ name: 'x', metric: 'error_rate', max: 0.1, min: 0 }] }, 'rules[0]: give either max or min, not both'],
    [{ rules: [{ name: 'x', max: 0.1 }] }, "rules[0].metric: required for the new rule 'x'"],
    [
      { rules: [{ name: 'x', metric: 'error_rate' }] },
      "rules[0]: expected max (violated above) or min (violated below) for the new rule 'x'",
    ],
    [
      { rules: [{ name: 'x', metric: 'error_rate', max: 2 }] },
      'rules[0].max: expected a share from 0 to 1 for error_rate, got 2',
    ],
    [{ rules: [{ name: 'error-rate', for: 60 }] }, 'rules[0].for: only triggers take for'],
    [
      {
        rules: [
          { name: 'x', metric: 'memory_ratio', max: 0.9 },
          { name: 'x', metric: 'memory_ratio', max: 0.8 },
        ],
      },
      "rules[1].name: 'x' is given twice (also rules[0])",
    ],
    [
      { rules: [{ name: 'Bad Name', metric: 'memory_ratio', max: 0.9 }] },
      "rules[0].name: expected a rule name of lower-case letters, digits and hyphens (at most 64), got 'Bad Name'",
    ],
    [
      { rules: [{ name: 'x', metric: 'error_rate', max: 0.1, window: -1 }] },
      'rules[0].window: expected a number from 0 to 86400 (seconds), got -1',
    ],
    [{ interval: 60, duration: 30 }, 'interval: 60 seconds is longer than the duration (30 seconds)'],
    [{ 'replace-default-rules': true }, 'rules: no rules left'],
    ['[1, 2]', 'policy: expected a mapping, got a list'],
  ])('rejects %j', (input, expected) => {
    expect(problem(input)).toContain(expected);
  });

  it('reports every problem at once', () => {
    const message = problem({ interval: 0, rules: [{ name: 'x', metric: 'nope', max: 1 }] });
    expect(message).toContain('interval:');
    expect(message).toContain('rules[0].metric:');
  });

  it('rejects YAML that does not parse', () => {
    expect(problem('duration: [300')).toMatch(/^analysis policy is not valid YAML/);
  });

  it('formats zod paths', () => {
    expect(formatPath(['rules', 2, 'metric'])).toBe('rules[2].metric');
    expect(formatPath(['sprt', 'error-multiplier'])).toBe('sprt.error-multiplier');
    expect(formatPath([])).toBe('policy');
  });
});

describe('policySchema as an action input', () => {
  const fields = { 'analysis-policy': field.yaml(policySchema, { form: POLICY_FORM, default: DEFAULT_POLICY_YAML }) };

  it('defaults to the procedure when the input is empty', () => {
    const inputs = readInputs(fields, () => '');
    expect(inputs['analysis-policy']).toEqual(parsePolicy(''));
  });

  it('names the rule and field in the input error', () => {
    expect(() => readInputs(fields, () => 'rules:\n  - name: x\n    metric: cpu\n    max: 1\n')).toThrow(
      /Input 'analysis-policy': rules\[0\]\.metric: expected one of .*got 'cpu'; expected an analysis policy/,
    );
  });
});
