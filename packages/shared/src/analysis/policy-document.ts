import { z } from 'zod';
import { docField, documentPath, type DocumentNames } from '../vocabulary';
import { METRICS, ON_INCONCLUSIVE, ON_UNDECIDED, RULE_KINDS, type Metric } from './policy-types';

/**
 * The policy as a YAML document: its keys (kebab-case) and the form of each, checked with the
 * vocabulary's document fields. policy.ts resolves a document against the defaults (policy-defaults.ts).
 */

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

export const policyInput = mapping({
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

export type RuleDocument = z.output<typeof ruleInput>;
export type SprtDocument = z.output<typeof sprtInput>;
type Given<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };
/** A policy document that gives every key (but replace-default-rules): the shape of the defaults. */
export type PolicyDefaults = Given<Omit<z.output<typeof policyInput>, 'sprt' | 'rules' | 'replace-default-rules'>> & {
  sprt: Given<SprtDocument>;
  rules: RuleDocument[];
};

export const POLICY_NAMES: DocumentNames = { root: 'policy' };

/** `rules[2].metric` from zod's ['rules', 2, 'metric']; the policy itself is `policy`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return documentPath(path, POLICY_NAMES);
}
