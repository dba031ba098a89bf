import { z } from 'zod';
import { docField, documentPath, documentProblems, type DocumentNames } from '../vocabulary';

/**
 * The rules of an A/B validation (pure): one rule per metric, read from the YAML a workflow author
 * writes. A rule bounds how much the candidate may regress (absolute or in percent of the
 * baseline, in the metric's direction) and where it must lie (min, max); a metric is named by a
 * dotted path into the report (`eval.accuracy`).
 */

export const DIRECTIONS = ['higher-is-better', 'lower-is-better'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export interface MetricRule {
  /** Dotted path into the report, e.g. `eval.accuracy`; a key that itself contains dots is found too. */
  metric: string;
  /** Needed with the regression limits: which way is worse. */
  direction: Direction | null;
  /** Largest regression allowed, in the metric's unit. */
  maxRegression: number | null;
  /** Largest regression allowed, in percent of the baseline's magnitude. */
  maxRegressionPercent: number | null;
  /** The candidate must be at least this. */
  min: number | null;
  /** The candidate must be at most this. */
  max: number | null;
}

export const RULES_FORM =
  'a YAML list of rules {metric, direction: higher-is-better|lower-is-better, max-regression, max-regression-percent, min, max}';
/** Dot-separated segments of letters, digits and _ : @ / + -. */
export const METRIC_PATH = /^[A-Za-z0-9_:@/+-]+(?:\.[A-Za-z0-9_:@/+-]+)*$/;

const { text, choice, number, mapping, list } = docField;
const DIRECTION_FORM = DIRECTIONS.join(' or ');
/** The document is the list of rules: its items are `rules[0]`, `rules[1]`, … */
const RULES_NAMES: DocumentNames = { items: 'rules' };

/** One rule, with what must hold between its fields. An empty limit (`min:`, null) counts as given but sets nothing. */
const ruleInput = mapping(
  {
    metric: text('a metric name or dotted path such as eval.accuracy', METRIC_PATH, 200),
    direction: choice(DIRECTIONS, DIRECTION_FORM).optional(),
    'max-regression': number({ min: 0 }).nullish(),
    'max-regression-percent': number({ min: 0 }).nullish(),
    min: number().nullish(),
    max: number().nullish(),
  },
  'a mapping {metric, direction, …}',
).transform((fields, ctx): MetricRule => {
  const regression = fields['max-regression'] !== undefined || fields['max-regression-percent'] !== undefined;
  if (regression && fields.direction === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['direction'],
      message: `required with max-regression or max-regression-percent; expected ${DIRECTION_FORM}`,
    });
  if (!regression && fields.min === undefined && fields.max === undefined)
    ctx.addIssue({ code: 'custom', message: 'give at least one of max-regression, max-regression-percent, min, max' });
  const rule: MetricRule = {
    metric: fields.metric,
    direction: fields.direction ?? null,
    maxRegression: fields['max-regression'] ?? null,
    maxRegressionPercent: fields['max-regression-percent'] ?? null,
    min: fields.min ?? null,
    max: fields.max ?? null,
  };
  if (rule.min !== null && rule.max !== null && rule.min > rule.max)
    ctx.addIssue({ code: 'custom', message: `min (${rule.min}) is above max (${rule.max})` });
  return rule;
});

/** The rules, one per metric. */
const rulesInput = list(ruleInput, { max: 200, noun: 'rules', form: 'a list of rules' }).transform(
  (rules, ctx): MetricRule[] => {
    const seen = new Map<string, number>();
    rules.forEach((rule, index) => {
      const twice = seen.get(rule.metric);
      if (twice !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [index, 'metric'],
          message: `'${rule.metric}' already has a rule (${documentPath([twice], RULES_NAMES)})`,
        });
      seen.set(rule.metric, index);
    });
    return rules;
  },
);

/**
 * Checks a parsed YAML document; every problem is listed, with where it is (`rules[1].direction: …`).
 * What must hold between a rule's fields, or between rules, is checked once the fields themselves
 * are valid.
 */
export function resolveMetricRules(document: unknown): { rules: MetricRule[]; problems: string[] } {
  if (document === undefined || document === null)
    return { rules: [], problems: ['expected at least one rule, got nothing'] };
  if (Array.isArray(document) && document.length === 0)
    return { rules: [], problems: ['expected at least one rule, got an empty list'] };
  const parsed = rulesInput.safeParse(document);
  return parsed.success
    ? { rules: parsed.data, problems: [] }
    : { rules: [], problems: documentProblems(parsed.error, RULES_NAMES) };
}

/** For `field.yaml(metricRulesSchema, { form: RULES_FORM, default: '' })`. */
export const metricRulesSchema: z.ZodType<MetricRule[], unknown> = z
  .unknown()
  .transform((document, ctx): MetricRule[] => {
    const { rules, problems } = resolveMetricRules(document);
    if (problems.length === 0) return rules;
    ctx.addIssue({ code: 'custom', message: problems.join('; ') });
    return z.NEVER;
  });
