import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigurationError } from '../action';
import { documentProblems } from '../vocabulary';
import { DEFAULT_POLICY, sprtSettings } from './policy-defaults';
import { POLICY_NAMES, policyInput, type RuleDocument } from './policy-document';
import { METRICS, PERCENTILE_METRICS, type Metric, type Policy, type Rule } from './policy-types';

/**
 * The analysis policy: how long to watch the canary, how often to sample, and which rules decide.
 * Written in YAML with kebab-case keys; every key has a default, and the defaults are the deployment
 * procedure (error rate ≤ 1 % and P95 ≤ 2 s over 300 s; rollback on sustained errors, slow
 * responses, failing health checks, memory pressure and model drift), written once as the policy
 * document DEFAULT_POLICY.
 *
 * A policy is validated in one place, `resolvePolicy`, which reports every problem with where it
 * is, e.g. `rules[2].metric: expected one of error_rate, …, got 'latency'`.
 *
 * The policy's shape is policy-types.ts, its YAML document policy-document.ts, and its defaults
 * policy-defaults.ts.
 */

export const POLICY_FORM =
  'an analysis policy: a YAML mapping with duration, interval, min-requests, on-inconclusive, on-undecided, ' +
  'max-extensions, max-source-errors, early-decision, sprt and rules';

// ------------------------------------------------------------------------------------ resolution

function isCountMetric(name: Metric): boolean {
  return name === 'error_rate' || name in PERCENTILE_METRICS;
}

/** Merges the rules given over the default rules (over none with replace-default-rules). */
function resolveRules(
  given: readonly RuleDocument[],
  replaceDefaults: boolean,
  durationSeconds: number,
  problems: string[],
): Rule[] {
  const defaults = replaceDefaults ? [] : mergeRules([], DEFAULT_POLICY.rules, durationSeconds, problems);
  const rules = mergeRules(defaults, given, durationSeconds, problems);
  if (rules.length === 0) problems.push('rules: no rules left (replace-default-rules: true needs at least one rule)');
  return rules;
}

/** Each rule given replaces the one of its name (changing only the fields it gives) or is added; checks what must hold between fields. */
function mergeRules(
  over: readonly Rule[],
  given: readonly RuleDocument[],
  durationSeconds: number,
  problems: string[],
): Rule[] {
  const rules = [...over];
  const seen = new Map<string, number>();
  given.forEach((input, index) => {
    const where = `rules[${index}]`;
    const twice = seen.get(input.name);
    if (twice !== undefined) {
      problems.push(`${where}.name: '${input.name}' is given twice (also rules[${twice}])`);
      return;
    }
    seen.set(input.name, index);
    if (input.max !== undefined && input.min !== undefined) {
      problems.push(`${where}: give either max or min, not both`);
      return;
    }
    const base = rules.find((rule) => rule.name === input.name);
    const metricName = input.metric ?? base?.metric;
    if (metricName === undefined) {
      problems.push(
        `${where}.metric: required for the new rule '${input.name}'; expected one of ${METRICS.join(', ')}, gauge:<name>`,
      );
      return;
    }
    const limit = input.max !== undefined ? 'max' : input.min !== undefined ? 'min' : base?.limit;
    const threshold = input.max ?? input.min ?? base?.threshold;
    if (limit === undefined || threshold === undefined) {
      problems.push(`${where}: expected max (violated above) or min (violated below) for the new rule '${input.name}'`);
      return;
    }
    const kind = input.kind ?? base?.kind ?? 'gate';
    const compare =
      input.compare === undefined ? (base?.compare ?? null) : input.compare === 'stable' ? 'stable' : null;
    const rule: Rule = {
      name: input.name,
      metric: metricName,
      limit,
      threshold,
      kind,
      windowSeconds:
        input.window ?? (base && base.kind === kind ? base.windowSeconds : kind === 'gate' ? durationSeconds : 0),
      forSeconds: input.for ?? (base && base.kind === kind ? base.forSeconds : 0),
      compare,
      margin: input.margin ?? base?.margin ?? 0,
      modelsOnly: input['models-only'] ?? base?.modelsOnly ?? false,
    };
    if (rule.kind === 'gate' && rule.forSeconds > 0)
      problems.push(`${where}.for: only triggers take for; a gate is judged over its whole window`);
    if (
      rule.compare === null &&
      (rule.metric === 'error_rate' || rule.metric === 'memory_ratio') &&
      (threshold < 0 || threshold > 1)
    ) {
      problems.push(`${where}.${limit}: expected a share from 0 to 1 for ${rule.metric}, got ${threshold}`);
    }
    if (rule.compare === null && rule.metric in PERCENTILE_METRICS && threshold <= 0)
      problems.push(`${where}.${limit}: expected a latency above 0 ms, got ${threshold}`);
    if (rule.kind === 'gate' && rule.windowSeconds === 0 && isCountMetric(rule.metric))
      problems.push(`${where}.window: a gate on ${rule.metric} needs a window above 0 seconds`);
    const existing = rules.findIndex((candidate) => candidate.name === rule.name);
    if (existing === -1) rules.push(rule);
    else rules[existing] = rule;
  });
  return rules;
}

/** Checks a parsed document and applies the defaults; problems are collected, not thrown. */
export function resolvePolicy(
  document: unknown,
): { policy: Policy; problems: string[] } | { policy: null; problems: string[] } {
  const parsed = policyInput.safeParse(document ?? {});
  if (!parsed.success) return { policy: null, problems: documentProblems(parsed.error, POLICY_NAMES) };
  const input = parsed.data;
  const defaults = DEFAULT_POLICY;
  const problems: string[] = [];
  const durationSeconds = input.duration ?? defaults.duration;
  const intervalSeconds = input.interval ?? defaults.interval;
  if (intervalSeconds > durationSeconds)
    problems.push(`interval: ${intervalSeconds} seconds is longer than the duration (${durationSeconds} seconds)`);
  const rules = resolveRules(input.rules ?? [], input['replace-default-rules'] ?? false, durationSeconds, problems);
  const policy: Policy = {
    durationSeconds,
    intervalSeconds,
    minRequests: input['min-requests'] ?? defaults['min-requests'],
    onInconclusive: input['on-inconclusive'] ?? defaults['on-inconclusive'],
    onUndecided: input['on-undecided'] ?? defaults['on-undecided'],
    maxExtensions: input['max-extensions'] ?? defaults['max-extensions'],
    maxSourceErrors: input['max-source-errors'] ?? defaults['max-source-errors'],
    earlyDecision: input['early-decision'] ?? defaults['early-decision'],
    sprt: sprtSettings(input.sprt),
    rules,
  };
  return problems.length > 0 ? { policy: null, problems } : { policy, problems };
}

/** For `field.yaml(policySchema, { form: POLICY_FORM, default: DEFAULT_POLICY_YAML })`: the parsed YAML document in, a Policy out. */
export const policySchema: z.ZodType<Policy, unknown> = z.unknown().transform((document, ctx): Policy => {
  const { policy, problems } = resolvePolicy(document);
  if (policy) return policy;
  for (const message of problems) ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
});

/** A policy from YAML text (empty = the defaults) or from an already parsed document. Throws ConfigurationError naming every problem. */
export function parsePolicy(yamlOrObject: unknown): Policy {
  let document = yamlOrObject;
  if (typeof yamlOrObject === 'string') {
    try {
      document = parseYaml(yamlOrObject);
    } catch (error) {
      throw new ConfigurationError(
        `analysis policy is not valid YAML (${(error as Error).message.split('\n')[0]}); expected ${POLICY_FORM}`,
      );
    }
  }
  const { policy, problems } = resolvePolicy(document);
  if (!policy) throw new ConfigurationError(`analysis policy: ${problems.join('; ')}`);
  return policy;
}

/** The rules that apply to one analysis. */
export function activeRules(policy: Policy, options: { model?: boolean; mode?: 'canary' | 'post-promotion' }): Rule[] {
  return policy.rules.filter(
    (rule) =>
      (!rule.modelsOnly || options.model === true) && (options.mode !== 'post-promotion' || rule.kind === 'trigger'),
  );
}
