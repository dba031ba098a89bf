import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_POLICY, parsePolicy, type Rule } from '@agent-loop/shared/analysis';

/**
 * The analysis policy's defaults are written once, in DEFAULT_POLICY; canary-monitor's action.yml
 * and the README repeat them in words. Each figure they state is checked against the code's, so a
 * default changed in one place and not the other fails here.
 */

const root = join(import.meta.dirname, '..');
const defaults = parsePolicy('');
const rule = (name: string): Rule => {
  const found = defaults.rules.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no default rule ${name}`);
  return found;
};
const percent = (share: number): string => `${Number((share * 100).toPrecision(6))}%`;
const minutes = (seconds: number): string => `${seconds / 60} min`;
const TIMES = ['never', 'once', 'twice'];

const errorRate = rule('error-rate');
const latency = rule('latency-p95');
const errorsSustained = rule('error-rate-sustained');
const latencySustained = rule('latency-p95-sustained');
const health = rule('health-checks');
const memory = rule('memory');
const drift = rule('model-drift');

describe('actions/canary-monitor/action.yml', () => {
  const action = parse(readFileSync(join(root, 'actions', 'canary-monitor', 'action.yml'), 'utf8')) as {
    inputs: Record<string, { description: string }>;
  };
  const description = (input: string): string => action.inputs[input]?.description ?? '';

  it("policy: the default it describes is the code's", () => {
    expect(description('policy')).toContain(
      `Default: the procedure (error rate <= ${percent(errorRate.threshold)} and P95 <= ${latency.threshold} ms over ${defaults.durationSeconds} s; ` +
        `rollback on error rate > ${percent(errorsSustained.threshold)} for ${minutes(errorsSustained.forSeconds)}, ` +
        `P95 > ${latencySustained.threshold / 1000} s for ${minutes(latencySustained.forSeconds)}, ` +
        `more than ${health.threshold} failed health checks in a row, ` +
        `memory > ${percent(memory.threshold)} for ${minutes(memory.forSeconds)}, ` +
        `drift > ${drift.threshold} for ${minutes(drift.forSeconds)} for models)`,
    );
  });

  it.each([
    ['duration', defaults.durationSeconds],
    ['interval', defaults.intervalSeconds],
  ])("%s: the policy's value it names is the code's", (input, seconds) => {
    const stated = [...description(input).matchAll(/policy's \((\d+)\)/g)].map((match) => Number(match[1]));
    expect(stated).toEqual(stated.map(() => seconds));
    if (input === 'interval') expect(stated).toEqual([seconds]);
  });
});

describe('docs/deploying.md, canary monitor', () => {
  const readme = readFileSync(join(root, 'docs', 'deploying.md'), 'utf8');
  /** The page's line that holds `marker` (a failure then shows one line, not the whole file). */
  const line = (marker: string): string =>
    readme.split('\n').find((candidate) => candidate.includes(marker)) ?? `(no line with ${marker})`;

  it("names the procedure's triggers with the code's figures", () => {
    expect(line('its triggers (')).toContain(
      `its triggers (error rate over ${percent(errorsSustained.threshold)} for ${minutes(errorsSustained.forSeconds)}, ` +
        `P95 over ${latencySustained.threshold / 1000} s for ${minutes(latencySustained.forSeconds)}, ` +
        `more than ${health.threshold} health failures in a row, ` +
        `memory over ${percent(memory.threshold)} for ${minutes(memory.forSeconds)}, ` +
        `drift over ${drift.threshold} for ${minutes(drift.forSeconds)})`,
    );
  });

  it("names the levels, the extension and the traffic needed with the code's figures", () => {
    expect(line('`end-alpha`')).toContain(`(p ≤ \`end-alpha\`, ${percent(defaults.sprt.endAlpha)})`);
    expect(line('`end-alpha`')).toContain(`(p ≤ \`extension-alpha\`, ${percent(defaults.sprt.extensionAlpha)}:`);
    expect(line('`end-alpha`')).toContain(`the analysis extends ${TIMES[defaults.maxExtensions]} (\`max-extensions\`)`);
    expect(line('`end-alpha`')).toContain(`(\`on-undecided: ${defaults.onUndecided}\`)`);
    expect(line('`end-alpha`')).toContain(`within the ${defaults.durationSeconds}-s window`);
    expect(line('**Low or no traffic.**')).toContain(
      `Fewer than \`min-requests\` (${defaults.minRequests}) canary requests`,
    );
    expect(line('**Low or no traffic.**')).toContain(
      `canary requests in ${defaults.durationSeconds * (1 + defaults.maxExtensions)} s, ${defaults.minRequests} needed`,
    );
  });

  it('shows the default policy: every key, and it reads as the defaults', () => {
    const block = /Defaults = the deployment procedure:\n\n```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const document = parse(block ?? '') as Record<string, unknown>;
    expect(Object.keys(document)).toEqual(expect.arrayContaining(Object.keys(DEFAULT_POLICY)));
    expect(document.sprt).toEqual(DEFAULT_POLICY.sprt);
    expect(parsePolicy(document)).toEqual(defaults);
  });
});
