import { ConfigurationError } from '../../action';
import type { Color } from '../../domain';

/**
 * The PromQL the prometheus source sends: its query templates with their placeholders (`{app}`,
 * `{color}`, `{version}`, `{window}`), how a template is checked and filled, and the error ratio
 * other parts of the core ask Prometheus for.
 */

export interface PrometheusQueries {
  /** Requests answered in the window (summed over the result's series). */
  requests: string;
  /** Of which errors. */
  errors: string;
  /** Cumulative histogram buckets in seconds, one series per `le` label. */
  latencyBuckets: string;
  /** Share of memory in use, 0..1 (largest series). */
  memory: string;
  /** Model drift score (largest series). */
  drift: string;
}

/** Defaults matching the Agent Loop service's own metrics. */
export const DEFAULT_PROMETHEUS_QUERIES: PrometheusQueries = {
  requests: 'sum(increase(http_requests_total{app="{app}",color="{color}"}[{window}]))',
  errors: 'sum(increase(http_requests_total{app="{app}",color="{color}",status=~"5.."}[{window}]))',
  latencyBuckets: 'sum by (le) (increase(http_request_duration_seconds_bucket{app="{app}",color="{color}"}[{window}]))',
  memory: 'max(agent_loop_memory_usage_ratio{app="{app}",color="{color}"})',
  drift: 'max(agent_loop_model_drift_score{app="{app}",color="{color}"})',
};

export const PROMQL_PLACEHOLDERS = ['app', 'color', 'version', 'window'] as const;
type PromqlPlaceholder = (typeof PROMQL_PLACEHOLDERS)[number];

/**
 * A value put into a query. Templates place values inside label matchers (`app="{app}"`), so a
 * quote, brace, backslash or newline could end the string and change the query: only plain
 * characters are accepted.
 */
const SAFE_VALUE = /^[A-Za-z0-9][A-Za-z0-9_.:@+/-]*$/;

export function checkQueryTemplate(template: string, what: string): void {
  for (const match of template.matchAll(/\{([a-z_]+)\}/g)) {
    if (!(PROMQL_PLACEHOLDERS as readonly string[]).includes(match[1] as string)) {
      throw new ConfigurationError(
        `${what}: unknown placeholder ${match[0]}; known: ${PROMQL_PLACEHOLDERS.map((key) => `{${key}}`).join(' ')}`,
      );
    }
  }
}

/** Fills a template (pure). Throws on a value that is not plain, or a placeholder without a value. */
export function renderQuery(template: string, values: Partial<Record<PromqlPlaceholder, string>>): string {
  return template.replace(/\{([a-z_]+)\}/g, (match, key: string) => {
    if (!(PROMQL_PLACEHOLDERS as readonly string[]).includes(key))
      throw new ConfigurationError(`unknown placeholder ${match} in the query ${template}`);
    const value = values[key as PromqlPlaceholder];
    if (value === undefined) throw new ConfigurationError(`no value for ${match} in the query ${template}`);
    if (!SAFE_VALUE.test(value))
      throw new ConfigurationError(
        `refusing ${JSON.stringify(value)} as ${match}: a query value may only contain letters, digits and _ . : @ + / -`,
      );
    return value;
  });
}

/** A window length as a PromQL duration, in whole seconds (at least 1 s). */
export function promDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`invalid window length ${ms} ms`);
  return `${Math.max(1, Math.round(ms / 1000))}s`;
}

/**
 * The error ratio of a color as one PromQL expression. The sums come before the division: dividing
 * `rate(x{status=~"5.."})` by `rate(x)` series by series only matches the 5xx series with themselves
 * and answers 1.
 */
export function errorRatioQuery(app: string, color: Color, window: string): string {
  if (!/^\d+(ms|s|m|h|d|w|y)$/.test(window))
    throw new ConfigurationError(`invalid PromQL duration ${JSON.stringify(window)}`);
  const matchers = renderQuery('app="{app}",color="{color}"', { app, color });
  return `sum(rate(http_requests_total{${matchers},status=~"5.."}[${window}])) / sum(rate(http_requests_total{${matchers}}[${window}]))`;
}

/** One query of the source: a template of PrometheusQueries, or a named custom gauge. */
export type Query =
  { key: keyof PrometheusQueries; template: string } | { key: 'gauge'; name: string; template: string };
