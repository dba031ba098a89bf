import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * prometheus/rules/deployment_alerts.yml: promtool accepts it and its unit tests pass, every alert
 * carries what on-call needs, and every error ratio divides sums of rates, never series by series.
 * Needs `promtool` (Debian's `prometheus` package; scripts/setup.sh installs it).
 */

const root = join(import.meta.dirname, '..');
const rulesDir = join(root, 'prometheus', 'rules');
const RULES = 'prometheus/rules/deployment_alerts.yml';
const TESTS = 'prometheus/rules/deployment_alerts.test.yml';
const RUNBOOK = 'https://github.com/org/agent-loop-actions/blob/main/docs/runbook.md#first-look-and-go-back-fast';
const ALERTS = [
  'DeploymentFailed',
  'HighErrorRateAfterDeployment',
  'ModelDriftDetected',
  'RollbackErrorRate',
  'RollbackLatencyP95',
  'RollbackHealthChecks',
  'RollbackMemory',
];

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: Array<{ name: string; interval?: string; rules: Rule[] }>;
}
interface RuleTestFile {
  rule_files: string[];
  tests: Array<{
    name: string;
    alert_rule_test?: Array<{ eval_time: string; alertname: string; exp_alerts: unknown[] }>;
  }>;
}

/** Runs promtool; a non-zero exit is returned, not thrown. Output is stdout then stderr. */
function promtool(args: string[], cwd = root): { status: number; output: string } {
  try {
    const stdout = execFileSync('promtool', args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
    return { status: 0, output: stdout };
  } catch (err) {
    const e = err as { status?: number | null; stdout?: string; stderr?: string; message?: string };
    if (typeof e.status !== 'number') throw err; // promtool missing or killed: not a test result
    return { status: e.status, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** Blanks the insides of quoted strings so operators in label values ("/run-agent") are not seen. */
function blankStrings(expr: string): string {
  return expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, (s) => s[0] + ' '.repeat(s.length - 2) + s[0]);
}

const OPEN = '([{';
const CLOSE = ')]}';
const OPERATOR = /^(?:==|!=|>=|<=|>|<|\+|-|\*|\/|%|\^|\band\b|\bor\b|\bunless\b)/;

/**
 * Every division in a PromQL expression, as [left operand, right operand]: the text between the
 * `/` and the nearest binary operator on either side at the same nesting level. Nested groups are
 * searched too. A simple structural reading, not a PromQL parser.
 */
function divisions(expr: string): Array<[string, string]> {
  const text = blankStrings(expr);
  const found: Array<[string, string]> = [];
  const scan = (from: number, to: number): void => {
    // Operators at this level, and the inner groups to search afterwards.
    const ops: Array<{ at: number; len: number; slash: boolean }> = [];
    const groups: Array<[number, number]> = [];
    let depth = 0;
    let start = -1;
    for (let i = from; i < to; i++) {
      const c = text[i] ?? '';
      if (OPEN.includes(c)) {
        if (depth === 0) start = i + 1;
        depth++;
      } else if (CLOSE.includes(c)) {
        depth--;
        if (depth === 0) groups.push([start, i]);
      } else if (depth === 0) {
        const m = OPERATOR.exec(text.slice(i, to));
        // A word operator must start a word (not "…band").
        if (m && (!/\w/.test(m[0][0] ?? '') || !/\w/.test(text[i - 1] ?? ''))) {
          ops.push({ at: i, len: m[0].length, slash: m[0] === '/' });
          i += m[0].length - 1;
        }
      }
    }
    ops.forEach((op, k) => {
      if (!op.slash) return;
      const prev = ops[k - 1];
      const next = ops[k + 1];
      const left = expr.slice(prev ? prev.at + prev.len : from, op.at).trim();
      const right = expr.slice(op.at + 1, next ? next.at : to).trim();
      found.push([left, right]);
    });
    for (const [a, b] of groups) scan(a, b);
  };
  scan(0, text.length);
  return found;
}

const SUM_BY = /^sum\s+by\s*\(([^)]*)\)/;
const RATE = /\b(?:rate|irate|increase)\s*\(/;

/** Problems with the divisions of rate() results in `expr`: each side must be `sum by (same labels) (…)`. */
function ratioProblems(expr: string): string[] {
  const problems: string[] = [];
  for (const [left, right] of divisions(expr)) {
    if (!RATE.test(left) && !RATE.test(right)) continue;
    const l = SUM_BY.exec(left);
    const r = SUM_BY.exec(right);
    if (!l || !r) {
      problems.push(`divides rate() results that are not sum by (…) aggregates: ${left} / ${right}`);
      continue;
    }
    const labels = (m: RegExpExecArray): string =>
      (m[1] ?? '')
        .split(',')
        .map((s) => s.trim())
        .sort()
        .join(',');
    if (labels(l) !== labels(r)) problems.push(`sums by different labels: (${labels(l)}) / (${labels(r)})`);
  }
  return problems;
}

const rulesText = readFileSync(join(root, RULES), 'utf8');
const rules = parse(rulesText) as RuleFile;
const allRules = rules.groups.flatMap((g) => g.rules);
const alerts = allRules.filter((r): r is Rule & { alert: string } => typeof r.alert === 'string');

describe('promtool', () => {
  it('check rules accepts the rules file', () => {
    const { status, output } = promtool(['check', 'rules', RULES]);
    expect(output).toContain('SUCCESS: 10 rules found');
    expect(status).toBe(0);
  });

  it('test rules passes every unit test', () => {
    const { status, output } = promtool(['test', 'rules', TESTS]);
    expect(output).toContain('SUCCESS');
    expect(output).not.toContain('FAILED');
    expect(status).toBe(0);
  });
});

describe('rules file', () => {
  it('has the expected alerts in group agent-loop-deployment', () => {
    const group = rules.groups.find((g) => g.name === 'agent-loop-deployment');
    expect(group?.rules.map((r) => r.alert)).toEqual(ALERTS);
    expect(alerts.map((a) => a.alert)).toEqual(ALERTS); // no alert elsewhere
  });

  it.each(ALERTS)('%s has a severity, summary, description with the value and runbook_url', (name) => {
    const rule = alerts.find((a) => a.alert === name);
    expect(rule).toBeDefined();
    expect(['critical', 'warning']).toContain(rule?.labels?.severity);
    expect(rule?.annotations?.summary).toMatch(/\{\{ \$labels\.app \}\}/);
    expect(rule?.annotations?.description).toMatch(/\{\{ \$value/);
    expect(rule?.annotations?.runbook_url).toBe(RUNBOOK);
    expect(rule?.for, 'for').toMatch(/^\d+[smh]$/);
  });

  it('keeps the app label: every aggregation groups by app', () => {
    for (const rule of allRules) {
      for (const m of blankStrings(rule.expr).matchAll(/\b(by|without)\s*\(([^)]*)\)/g)) {
        const [, kind, labels = ''] = m;
        expect(kind, rule.alert ?? rule.record).toBe('by');
        expect(
          labels.split(',').map((s) => s.trim()),
          rule.alert ?? rule.record,
        ).toContain('app');
      }
    }
  });

  it('divides rate() results only as sum by (…) / sum by (…) over the same labels', () => {
    let ratios = 0;
    for (const rule of allRules) {
      expect(ratioProblems(rule.expr), rule.alert ?? rule.record).toEqual([]);
      ratios += divisions(rule.expr).length;
    }
    expect(ratios).toBe(2); // the two error ratios; the check is not vacuous
    const errorRatio = allRules.find((r) => r.record === 'app_color:http_requests:error_ratio_rate1m');
    expect(errorRatio?.expr.replace(/\s+/g, ' ').trim()).toBe(
      'sum by (app, color) (rate(http_requests_total{status=~"5.."}[1m])) / sum by (app, color) (rate(http_requests_total[1m]))',
    );
  });

  it('the structural check rejects per-series and mismatched divisions', () => {
    expect(ratioProblems('rate(x{status=~"5.."}[1m]) / rate(x[1m]) > 0.01')).toHaveLength(1);
    expect(ratioProblems('sum by (app) (rate(x{status=~"5.."}[1m]) / rate(x[1m]))')).toHaveLength(1);
    expect(ratioProblems('sum by (app, path) (rate(x[1m])) / sum by (app) (rate(x[1m]))')).toHaveLength(1);
    expect(
      ratioProblems('up == 0 and sum by (app) (rate(x{path="/a/b"}[1m])) / sum by (app) (rate(x[1m])) > 0.01'),
    ).toEqual([]);
    expect(divisions('a{path="/x"} / b')).toEqual([['a{path="/x"}', 'b']]);
  });

  it('the unit tests have, for every alert, a case that fires and a case that must not', () => {
    const tests = parse(readFileSync(join(root, TESTS), 'utf8')) as RuleTestFile;
    expect(tests.rule_files).toEqual(['deployment_alerts.yml']);
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    const firing = new Set(cases.filter((c) => c.exp_alerts.length > 0).map((c) => c.alertname));
    const silent = new Set(cases.filter((c) => c.exp_alerts.length === 0).map((c) => c.alertname));
    expect([...firing].sort()).toEqual([...ALERTS].sort());
    expect([...silent].sort()).toEqual([...ALERTS].sort());
  });
});

describe('the unit tests catch a broken rule', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Copies rules and tests to a temp dir with `from` replaced by `to` in the rules, runs the tests. */
  function testMutant(from: string, to: string): { status: number; output: string } {
    expect(rulesText.split(from).length - 1, `"${from}" occurs once`).toBe(1);
    const dir = mkdtempSync(join(tmpdir(), 'alert-rules-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'deployment_alerts.yml'), rulesText.replace(from, to));
    copyFileSync(join(rulesDir, 'deployment_alerts.test.yml'), join(dir, 'deployment_alerts.test.yml'));
    expect(promtool(['check', 'rules', 'deployment_alerts.yml'], dir).status).toBe(0); // still valid rules
    return promtool(['test', 'rules', 'deployment_alerts.test.yml'], dir);
  }

  it('RollbackMemory threshold 0.95 → 0.98', () => {
    const { status, output } = testMutant(
      '(agent_loop_memory_usage_ratio) > 0.95',
      '(agent_loop_memory_usage_ratio) > 0.98',
    );
    expect(status).not.toBe(0);
    expect(output).toContain('FAILED');
    expect(output).toContain('alertname: RollbackMemory');
  });

  it('RollbackHealthChecks waiting for a 5th failed scrape (for: 1m)', () => {
    const expr = 'expr: max by (app, color, instance) (up{app!="", color=~"blue|green"}) == 0\n        ';
    const { status, output } = testMutant(`${expr}for: 45s`, `${expr}for: 1m`);
    expect(status).not.toBe(0);
    expect(output).toContain('alertname: RollbackHealthChecks');
  });

  it('error ratio divided per path instead of over the color', () => {
    const { status, output } = testMutant(
      `sum by (app, color) (rate(http_requests_total{status=~"5.."}[1m]))
            /
          sum by (app, color) (rate(http_requests_total[1m]))`,
      `max by (app, color) (
            sum by (app, color, path) (rate(http_requests_total{status=~"5.."}[1m]))
              /
            sum by (app, color, path) (rate(http_requests_total[1m])))`,
    );
    expect(status).not.toBe(0);
    expect(output).toContain('name: error ratio is a ratio of sums');
    expect(output).toContain('alertname: RollbackErrorRate');
  });

  it('"after a deployment" written as changes(agent_loop_info[30m]) > 0', () => {
    const { status, output } = testMutant(
      'group by (app) (agent_loop_info unless agent_loop_info offset 30m)',
      'group by (app) (changes(agent_loop_info[30m]) > 0)',
    );
    expect(status).not.toBe(0);
    expect(output).toContain('alertname: HighErrorRateAfterDeployment');
  });
});
