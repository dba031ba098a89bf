/**
 * The analysis policy's shape: the metrics a rule can watch, a rule, the sequential test's
 * settings and the policy itself. The YAML document it is written in is policy-document.ts, its
 * defaults policy-defaults.ts, and how a document becomes a Policy policy.ts.
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
