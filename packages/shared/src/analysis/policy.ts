import { Document, isMap, isNode, isPair, isScalar, parse as parseYaml, visit } from 'yaml';
import { z } from 'zod';
import { ConfigurationError } from '../action';
import { docField, documentPath, documentProblems, type DocumentNames } from '../vocabulary';

/**
 * The analysis policy: how long to watch the canary, how often to sample, and which rules decide.
 * Written in YAML with kebab-case keys; every key has a default, and the defaults are the deployment
 * procedure (error rate ≤ 1 % and P95 ≤ 2 s over 300 s; rollback on sustained errors, slow
 * responses, failing health checks, memory pressure and model drift), written once as the policy
 * document DEFAULT_POLICY.
 *
 * A policy is validated in one place, `resolvePolicy`, which reports every problem with where it
 * is, e.g. `rules[2].metric: expected one of error_rate, …, got 'latency'`.
 */

/** Metrics a rule can watch. Percentiles come from the latency histogram; the others are point values the source reports. */
export const METRICS = [
  'error_rate',
  'p50_ms',
  'p90_ms',
  'p95_ms',
  'p99_ms',
  'health_failures_in_row',
  'memory_ratio',
  'drift_score',
] as const;
export type Metric = (typeof METRICS)[number] | `gauge:${string}`;

/** Percentile metrics and the quantile each stands for. */
export const PERCENTILE_METRICS: Readonly<Record<string, number>> = {
  p50_ms: 0.5,
  p90_ms: 0.9,
  p95_ms: 0.95,
  p99_ms: 0.99,
};

export const ON_INCONCLUSIVE = ['extend', 'fail', 'pass'] as const;
export type OnInconclusive = (typeof ON_INCONCLUSIVE)[number];
/** What a gate still above its limit without significance becomes once the extensions are used up. */
export const ON_UNDECIDED = ['pass', 'inconclusive', 'fail'] as const;
export type OnUndecided = (typeof ON_UNDECIDED)[number];
export const RULE_KINDS = ['gate', 'trigger'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export interface Rule {
  name: string;
  metric: Metric;
  /** `max`: violated when the value is above the threshold; `min`: when below. */
  limit: 'max' | 'min';
  /** The configured bound; with `compare: 'stable'` the bound is stable's value plus (or, for `min`, minus) `margin`. */
  threshold: number;
  /** Seconds over which the value is computed: sums of intervals for counts, the latest value for point metrics. 0 = the latest sample. */
  windowSeconds: number;
  /** Triggers only: seconds the rule must stay violated before it rolls back. */
  forSeconds: number;
  /** `gate`: judged at the end of the duration (and early by the sequential test). `trigger`: checked every interval. */
  kind: RuleKind;
  compare: 'stable' | null;
  margin: number;
  /** Applies only when the analysis is told it is a model deploy. */
  modelsOnly: boolean;
}

export interface SprtSettings {
  /** Accepted chance that the sequential test fails a canary exactly at the limit before the window ends. */
  alpha: number;
  /**
   * Level of the binomial test at the end of the window: a gate above its limit fails when its
   * p-value is at most this. Looser than alpha so that a 5 %-error canary is caught within the
   * window; the looks that follow spend less (extensionAlpha), which keeps the total chance of
   * rolling back a canary just under the limit small.
   */
  endAlpha: number;
  /** Level of the same test at the end of each extension. */
  extensionAlpha: number;
  /** Accepted chance of missing a canary at the alternative rate. */
  beta: number;
  /** Alternative error rate p1 = p0 × this. */
  errorMultiplier: number;
  /** Alternative share of slow requests p1 = p0 × this (p0 = 1 − quantile, 5 % for P95). */
  latencyMultiplier: number;
  /** Failures (errors, or slow requests) needed before the test may fail a canary early. */
  minFailures: number;
}

export interface Policy {
  durationSeconds: number;
  intervalSeconds: number;
  minRequests: number;
  onInconclusive: OnInconclusive;
  /**
   * After the extensions (on-inconclusive: extend): a gate above its limit that the test still
   * cannot call significant. `pass` (default): success with a warning; `inconclusive`; `fail`.
   * Too little traffic is never passed this way: it stays inconclusive.
   */
  onUndecided: OnUndecided;
  maxExtensions: number;
  maxSourceErrors: number;
  earlyDecision: boolean;
  sprt: SprtSettings;
  rules: Rule[];
}

// ------------------------------------------------------------------------------------ schema

const { leaf, number, choice, boolean, text, mapping, list } = docField;
const GAUGE = /^gauge:[A-Za-z_][A-Za-z0-9_.:-]{0,99}$/;
const metric = leaf(
  `one of ${METRICS.join(', ')}, gauge:<name>`,
  (value): value is Metric =>
    typeof value === 'string' && ((METRICS as readonly string[]).includes(value) || GAUGE.test(value)),
);
const ruleName = text(
  'a rule name of lower-case letters, digits and hyphens (at most 64)',
  /^[a-z0-9][a-z0-9-]{0,63}$/,
);
const seconds = number({ min: 0, max: 86400, unit: 'seconds' });

const ruleInput = mapping({
  name: ruleName,
  metric: metric.optional(),
  max: number().optional(),
  min: number().optional(),
  window: seconds.optional(),
  for: seconds.optional(),
  kind: choice(RULE_KINDS).optional(),
  compare: choice(['stable', 'none'] as const).optional(),
  margin: number({ min: 0 }).optional(),
  'models-only': boolean.optional(),
});

const sprtInput = mapping({
  alpha: number({ above: 0, max: 0.5 }).optional(),
  'end-alpha': number({ above: 0, max: 0.5 }).optional(),
  'extension-alpha': number({ above: 0, max: 0.5 }).optional(),
  beta: number({ above: 0, max: 0.5 }).optional(),
  'error-multiplier': number({ above: 1, max: 1000 }).optional(),
  'latency-multiplier': number({ above: 1, max: 1000 }).optional(),
  'min-failures': number({ min: 1, max: 1000, integer: true }).optional(),
});

const policyInput = mapping({
  duration: number({ min: 10, max: 86400, unit: 'seconds' }).optional(),
  interval: number({ min: 1, max: 3600, unit: 'seconds' }).optional(),
  'min-requests': number({ min: 0, max: 1e9, integer: true }).optional(),
  'on-inconclusive': choice(ON_INCONCLUSIVE).optional(),
  'on-undecided': choice(ON_UNDECIDED).optional(),
  'max-extensions': number({ min: 0, max: 10, integer: true }).optional(),
  'max-source-errors': number({ min: 1, max: 1000, integer: true }).optional(),
  'early-decision': boolean.optional(),
  sprt: sprtInput.optional(),
  'replace-default-rules': boolean.optional(),
  rules: list(ruleInput, { max: 100 }).optional(),
});

type RuleDocument = z.output<typeof ruleInput>;
type SprtDocument = z.output<typeof sprtInput>;
type Given<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };
/** A policy document that gives every key (but replace-default-rules): the shape of the defaults. */
export type PolicyDefaults = Given<Omit<z.output<typeof policyInput>, 'sprt' | 'rules' | 'replace-default-rules'>> & {
  sprt: Given<SprtDocument>;
  rules: RuleDocument[];
};

const POLICY_NAMES: DocumentNames = { root: 'policy' };

/** `rules[2].metric` from zod's ['rules', 2, 'metric']; the policy itself is `policy`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return documentPath(path, POLICY_NAMES);
}

// ------------------------------------------------------------------------------------ defaults

/**
 * The defaults: the deployment procedure, as a policy document. The one place they are written:
 * `resolvePolicy` takes every value a policy leaves out from here, DEFAULT_POLICY_YAML is printed
 * from it, and a test holds what action.yml and the README say to it. A gate's window is the
 * policy's duration unless given.
 */
export const DEFAULT_POLICY: PolicyDefaults = {
  duration: 300,
  interval: 5,
  'min-requests': 50,
  'on-inconclusive': 'extend',
  'max-extensions': 1,
  'on-undecided': 'pass',
  'max-source-errors': 3,
  'early-decision': true,
  // Tuned by simulation (`npm run bench:analysis -- --tune`, canary at 10 % of 500 requests per
  // minute; the reasons are at the top of bench/analysis.ts): a 20 %-error canary fails in a median
  // 20 s, and healthy canaries (0.5 % errors) are failed in about 0.1 % of runs.
  sprt: {
    alpha: 0.01,
    'end-alpha': 0.015,
    'extension-alpha': 0.005,
    beta: 0.01,
    'error-multiplier': 10,
    'latency-multiplier': 4,
    'min-failures': 3,
  },
  rules: [
    { name: 'error-rate', metric: 'error_rate', max: 0.01, kind: 'gate' },
    { name: 'latency-p95', metric: 'p95_ms', max: 2000, kind: 'gate' },
    { name: 'error-rate-sustained', metric: 'error_rate', max: 0.01, window: 30, for: 120, kind: 'trigger' },
    { name: 'latency-p95-sustained', metric: 'p95_ms', max: 5000, window: 30, for: 60, kind: 'trigger' },
    { name: 'health-checks', metric: 'health_failures_in_row', max: 3, kind: 'trigger' },
    { name: 'memory', metric: 'memory_ratio', max: 0.95, for: 60, kind: 'trigger' },
    { name: 'model-drift', metric: 'drift_score', max: 0.1, for: 300, kind: 'trigger', 'models-only': true },
  ],
};

/** The sequential test's settings: those given, the defaults' for the rest. */
function sprtSettings(given: SprtDocument = {}): SprtSettings {
  const defaults = DEFAULT_POLICY.sprt;
  return {
    alpha: given.alpha ?? defaults.alpha,
    endAlpha: given['end-alpha'] ?? defaults['end-alpha'],
    extensionAlpha: given['extension-alpha'] ?? defaults['extension-alpha'],
    beta: given.beta ?? defaults.beta,
    errorMultiplier: given['error-multiplier'] ?? defaults['error-multiplier'],
    latencyMultiplier: given['latency-multiplier'] ?? defaults['latency-multiplier'],
    minFailures: given['min-failures'] ?? defaults['min-failures'],
  };
}

/** The default policy's sequential-test settings. */
export const DEFAULT_SPRT: SprtSettings = sprtSettings();

/** What a default means, printed in DEFAULT_POLICY_YAML: beside a value, or above a mapping or list. Keys are dotted paths. */
const DEFAULT_POLICY_NOTES: Readonly<Record<string, string>> = {
  duration: 'seconds of canary analysis; the window of the gates',
  interval: 'seconds between samples',
  'min-requests': 'canary requests needed to judge the gates at the end',
  'on-inconclusive': 'extend | fail | pass (pass = success with a warning)',
  'max-extensions': 'how many times extend adds another duration',
  'on-undecided':
    'after the extensions, a gate above its limit without significance: pass (with a warning) | inconclusive | fail',
  'max-source-errors': 'consecutive failed samples before the verdict is error',
  'early-decision': 'the sequential test may fail a clearly bad canary before the window ends',
  'sprt.alpha': 'chance that the early test fails a canary exactly at the limit',
  'sprt.end-alpha': 'level of the test at the end of the window',
  'sprt.extension-alpha': 'level of the same test at the end of an extension',
  'sprt.beta': 'chance that the early test misses a canary at the alternative rate',
  'sprt.error-multiplier': 'alternative error rate = limit x this',
  'sprt.latency-multiplier': 'alternative share of slow requests = (1 - quantile) x this',
  'sprt.min-failures': 'errors (or slow requests) before an early failure',
  rules:
    'Rules named like a default change only the fields they give; other names add rules.\nreplace-default-rules: true drops the defaults.',
};

/** DEFAULT_POLICY as YAML, each value with its note, each rule on one line. */
function defaultPolicyYaml(): string {
  const document = new Document(DEFAULT_POLICY);
  if (isMap(document.contents))
    document.contents.commentBefore = ' Canary analysis policy (defaults = the deployment procedure).';
  visit(document, {
    Pair(_, pair, ancestors) {
      const key = [...ancestors.filter(isPair), pair]
        .map((each) => String(isScalar(each.key) ? each.key.value : each.key))
        .join('.');
      const note = DEFAULT_POLICY_NOTES[key];
      if (note === undefined || !isNode(pair.value) || !isNode(pair.key)) return;
      const comment = note.replace(/^/gm, ' ');
      if (isScalar(pair.value)) pair.value.comment = comment;
      else pair.key.commentBefore = comment;
    },
    Seq(_, seq) {
      for (const item of seq.items) if (isMap(item)) item.flow = true;
    },
  });
  return document.toString({ lineWidth: 0 });
}

export const DEFAULT_POLICY_YAML = defaultPolicyYaml();

export const POLICY_FORM =
  'an analysis policy: a YAML mapping with duration, interval, min-requests, on-inconclusive, on-undecided, max-extensions, max-source-errors, early-decision, sprt and rules';

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
