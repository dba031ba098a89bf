import { readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { z } from 'zod';
import { ConfigurationError, show, table } from '../action';
import { docField, documentPath, documentProblems, type DocumentNames } from '../vocabulary';

/**
 * A/B validation of a model: a candidate's metrics report against the current model's, one rule
 * per metric. Pure, except `readMetricsFile`, the one place that reads a report from the workspace.
 *
 * A rule bounds how much the candidate may regress (absolute or in percent of the baseline, in the
 * metric's direction) and where it must lie (min, max). Reports are JSON objects, flat or nested;
 * a metric is named by a dotted path (`eval.accuracy`).
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

/** `pass`; `fail` (a limit is exceeded, or a value is not a number); `missing` (a report lacks the metric: a failure); `skipped` (lacks it, and fail-on-missing is false). */
export type MetricVerdict = 'pass' | 'fail' | 'missing' | 'skipped';

export interface MetricComparison {
  metric: string;
  baseline: number | null;
  candidate: number | null;
  /** candidate − baseline. */
  delta: number | null;
  /** delta in percent of |baseline|; null when the baseline is 0 or missing. */
  deltaPercent: number | null;
  /** The rule in words. */
  rule: string;
  verdict: MetricVerdict;
  /** Why it failed, was skipped, or passed with a caveat; '' for a plain pass. */
  detail: string;
}

export interface ComparisonResult {
  passed: boolean;
  metrics: MetricComparison[];
  /** The metrics whose verdict is fail or missing. */
  failing: MetricComparison[];
}

// ------------------------------------------------------------------------------------ rules

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

/** Checks a parsed YAML document; every problem is listed, with where it is (`rules[1].direction: …`). What must hold between a rule's fields, or between rules, is checked once the fields themselves are valid. */
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

// ------------------------------------------------------------------------------------ reports

/**
 * Parses a metrics report. Python's `json.dump` writes bare NaN and Infinity, which JSON does not
 * allow: those tokens (outside strings) are read as the strings "NaN", "Infinity", "-Infinity",
 * so the metric is reported as not a number instead of the whole file being refused.
 */
export function parseMetricsJson(source: string): unknown {
  try {
    return JSON.parse(source);
  } catch (error) {
    const rewritten = quoteNonFinite(source);
    if (rewritten === source) throw error;
    try {
      return JSON.parse(rewritten);
    } catch {
      throw error;
    }
  }
}

function quoteNonFinite(source: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < source.length; i++) {
    const char = source[i] as string;
    if (inString) {
      out += char;
      if (char === '\\') out += source[++i] ?? '';
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') {
      inString = true;
      out += char;
      continue;
    }
    const token = ['-Infinity', 'Infinity', 'NaN'].find(
      (word) => source.startsWith(word, i) && !/[A-Za-z0-9_]/.test(source[i + word.length] ?? ''),
    );
    if (token && !/[A-Za-z0-9_]/.test(source[i - 1] ?? '')) {
      out += `"${token}"`;
      i += token.length - 1;
      continue;
    }
    out += char;
  }
  return out;
}

type Lookup = { kind: 'number'; value: number } | { kind: 'missing' } | { kind: 'invalid'; what: string };

/** The value at a dotted path. An exact key wins over a nested path, so `{"eval.accuracy": 0.9}` and `{"eval": {"accuracy": 0.9}}` both work. Own keys only. */
export function lookupMetric(report: unknown, path: string): Lookup {
  const found = find(report, path);
  if (found === undefined) return { kind: 'missing' };
  if (typeof found === 'number' && Number.isFinite(found)) return { kind: 'number', value: found };
  if (found === 'NaN' || found === 'Infinity' || found === '-Infinity') return { kind: 'invalid', what: found };
  return { kind: 'invalid', what: found === null ? 'null' : show(found) };
}

function find(value: unknown, path: string): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  if (Object.hasOwn(record, path)) return record[path];
  for (let dot = path.indexOf('.'); dot > 0; dot = path.indexOf('.', dot + 1)) {
    const head = path.slice(0, dot);
    if (!Object.hasOwn(record, head)) continue;
    const inner = find(record[head], path.slice(dot + 1));
    if (inner !== undefined) return inner;
  }
  return undefined;
}

// ------------------------------------------------------------------------------------ comparison

/** Float noise (0.93 − 0.91 = 0.020000000000000018) must not decide a verdict at a limit. */
const round = (value: number): number => Number(value.toPrecision(12));

export function formatNumber(
  value: number | null,
  options: { sign?: boolean; suffix?: string; decimals?: number } = {},
): string {
  if (value === null) return '—';
  const digits = Number.isInteger(value)
    ? String(value)
    : options.decimals !== undefined
      ? String(Number(value.toFixed(options.decimals)))
      : String(Number(value.toPrecision(6)));
  return `${options.sign && value > 0 ? '+' : ''}${digits}${options.suffix ?? ''}`;
}

export function describeRule(rule: MetricRule): string {
  const worse = rule.direction === 'lower-is-better' ? 'rise' : 'drop';
  const parts: string[] = [];
  if (rule.maxRegression !== null) parts.push(`${worse} ≤ ${formatNumber(rule.maxRegression)}`);
  if (rule.maxRegressionPercent !== null) parts.push(`${worse} ≤ ${formatNumber(rule.maxRegressionPercent)}%`);
  if (rule.min !== null) parts.push(`≥ ${formatNumber(rule.min)}`);
  if (rule.max !== null) parts.push(`≤ ${formatNumber(rule.max)}`);
  const direction = rule.direction === null ? '' : `${rule.direction.replaceAll('-', ' ')}: `;
  return `${direction}${parts.join(', ')}`;
}

function compareOne(
  rule: MetricRule,
  candidateReport: unknown,
  baselineReport: unknown,
  failOnMissing: boolean,
): MetricComparison {
  const candidate = lookupMetric(candidateReport, rule.metric);
  const baseline = lookupMetric(baselineReport, rule.metric);
  const result: MetricComparison = {
    metric: rule.metric,
    baseline: baseline.kind === 'number' ? baseline.value : null,
    candidate: candidate.kind === 'number' ? candidate.value : null,
    delta: null,
    deltaPercent: null,
    rule: describeRule(rule),
    verdict: 'pass',
    detail: '',
  };
  const verdict = (value: MetricVerdict, reasons: string[]): MetricComparison => ({
    ...result,
    verdict: value,
    detail: reasons.join('; '),
  });

  // A value that is there but not a number means the evaluation broke: always a failure.
  const broken = [
    ...(candidate.kind === 'invalid' ? [`candidate is ${candidate.what}, not a number`] : []),
    ...(baseline.kind === 'invalid' ? [`baseline is ${baseline.what}, not a number`] : []),
  ];
  if (broken.length > 0) return verdict('fail', broken);
  if (candidate.kind !== 'number') {
    const where = baseline.kind === 'missing' ? 'in neither report' : 'not in the candidate report';
    return verdict(failOnMissing ? 'missing' : 'skipped', [where]);
  }

  const reasons: string[] = [];
  if (rule.min !== null && candidate.value < rule.min)
    reasons.push(`${formatNumber(candidate.value)} is below min ${formatNumber(rule.min)}`);
  if (rule.max !== null && candidate.value > rule.max)
    reasons.push(`${formatNumber(candidate.value)} is above max ${formatNumber(rule.max)}`);
  if (baseline.kind !== 'number') {
    if (failOnMissing) return verdict('missing', ['not in the baseline report', ...reasons]);
    if (reasons.length > 0) return verdict('fail', reasons);
    const bounded = rule.min !== null || rule.max !== null;
    return verdict(bounded ? 'pass' : 'skipped', [
      bounded ? 'no baseline: only min and max checked' : 'not in the baseline report',
    ]);
  }

  const delta = round(candidate.value - baseline.value);
  result.delta = delta;
  result.deltaPercent = baseline.value === 0 ? null : round((delta / Math.abs(baseline.value)) * 100);
  const worse = rule.direction === 'lower-is-better' ? 'rise' : 'drop';
  const regression = rule.direction === 'lower-is-better' ? delta : -delta;
  if (rule.maxRegression !== null && regression > rule.maxRegression) {
    reasons.push(`${worse} of ${formatNumber(regression)} exceeds max-regression ${formatNumber(rule.maxRegression)}`);
  }
  if (rule.maxRegressionPercent !== null && regression > 0) {
    if (baseline.value !== 0) {
      const percent = round((regression / Math.abs(baseline.value)) * 100);
      if (percent > rule.maxRegressionPercent)
        reasons.push(
          `${worse} of ${formatNumber(percent)}% exceeds max-regression-percent ${formatNumber(rule.maxRegressionPercent)}%`,
        );
    } else if (rule.maxRegression === null) {
      // No percentage of 0 exists; without an absolute limit, any regression from 0 is too much.
      reasons.push(
        `baseline is 0, so any ${worse} exceeds max-regression-percent (add max-regression for an absolute limit)`,
      );
    }
  }
  return verdict(reasons.length > 0 ? 'fail' : 'pass', reasons);
}

/** Compares the candidate report with the baseline, one rule per metric, in the rules' order. */
export function compareMetrics(
  candidate: unknown,
  baseline: unknown,
  rules: readonly MetricRule[],
  options: { failOnMissing: boolean },
): ComparisonResult {
  const metrics = rules.map((rule) => compareOne(rule, candidate, baseline, options.failOnMissing));
  const failing = metrics.filter((metric) => metric.verdict === 'fail' || metric.verdict === 'missing');
  return { passed: failing.length === 0, metrics, failing };
}

const VERDICT_CELL: Record<MetricVerdict, string> = {
  pass: '✅ pass',
  fail: '❌ fail',
  missing: '❌ missing',
  skipped: '⏭️ skipped',
};

/** Step summary: one table row per metric (pure). */
export function comparisonSummary(result: ComparisonResult): string {
  const title = result.passed
    ? '### ✅ Candidate model passes the A/B comparison'
    : `### ❌ Candidate model fails on ${result.failing.map((metric) => metric.metric).join(', ')}`;
  const rows = result.metrics.map((metric) => [
    metric.metric,
    formatNumber(metric.baseline),
    formatNumber(metric.candidate),
    formatNumber(metric.delta, { sign: true }),
    formatNumber(metric.deltaPercent, { sign: true, suffix: '%', decimals: 2 }),
    metric.rule,
    `${VERDICT_CELL[metric.verdict]}${metric.detail ? `: ${metric.detail}` : ''}`,
  ]);
  return [title, '', table(['metric', 'baseline', 'candidate', 'Δ', 'Δ%', 'rule', 'verdict'], rows), ''].join('\n');
}

/** The message a failed step ends with: the failing metrics, each with why. */
export function failureMessage(result: ComparisonResult): string {
  return `Candidate model fails on ${result.failing.length} metric(s): ${result.failing.map((metric) => `${metric.metric} (${metric.detail})`).join('; ')}`;
}

// ------------------------------------------------------------------------------------ reading

/** A path relative to the workspace, without `..` segments. */
export const WORKSPACE_PATH = /^(?![/~])(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/+@-]+$/;
const MAX_REPORT_BYTES = 10 * 1024 * 1024;

/** Reads a metrics report (a JSON object) from the workspace; a link that leads outside it is refused. Errors name the input. */
export function readMetricsFile(workspace: string, path: string, input: string): Record<string, unknown> {
  const fail = (message: string): never => {
    throw new ConfigurationError(`Input '${input}': ${message}`);
  };
  let real: string;
  try {
    real = realpathSync(join(workspace, path));
  } catch {
    return fail(
      `no file at ${path} in the workspace; expected the path of a JSON metrics report relative to the workspace`,
    );
  }
  const inside = relative(realpathSync(workspace), real);
  if (inside === '' || inside === '..' || inside.startsWith('../') || isAbsolute(inside))
    return fail(`${path} leads outside the workspace; expected a file in the workspace`);
  const stat = statSync(real);
  if (!stat.isFile()) return fail(`${path} is not a file; expected a JSON metrics report`);
  if (stat.size > MAX_REPORT_BYTES) return fail(`${path} is ${stat.size} bytes; at most ${MAX_REPORT_BYTES} are read`);
  let document: unknown;
  try {
    document = parseMetricsJson(readFileSync(real, 'utf8'));
  } catch (error) {
    return fail(
      `${path} is not valid JSON (${(error as Error).message.split('\n')[0]}); expected a JSON object of metrics`,
    );
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document))
    return fail(`${path} holds ${show(document)}; expected a JSON object of metrics such as {"accuracy": 0.93}`);
  return document as Record<string, unknown>;
}
