import { ConfigurationError, excerpt, getJson } from '../../action';
import {
  LATENCY_BOUNDS_MS,
  type ColorSample,
  type LatencyHistogram,
  type MetricSource,
  type Sample,
  type TimeWindow,
} from '..';
import { COLORS, type Color } from '../../domain';

/**
 * Requests, errors, latencies and gauges per color from Prometheus's HTTP API: one instant query
 * per template (`/api/v1/query` at the window's end), with `{app}`, `{color}`, `{version}` and
 * `{window}` filled in. Counts come from `increase()`, which Prometheus extrapolates to the window,
 * so they need not be whole numbers; a window shorter than two scrape intervals has no data.
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

export interface PrometheusSourceOptions {
  /** Base URL of Prometheus, e.g. `http://127.0.0.1:9090` (a path prefix is kept). */
  url: string;
  app: string;
  /** Colors to query; default both. */
  colors?: readonly Color[];
  /** The version running in each color, for templates that use `{version}`. */
  versions?: Partial<Record<Color, string>>;
  /** Replaces default templates; `null` leaves that value out. */
  queries?: Partial<Record<keyof PrometheusQueries, string | null>>;
  /** Named custom gauges (templates), reported in `ColorSample.gauges` (largest series). */
  gauges?: Record<string, string>;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

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

export interface PromSeries {
  labels: Record<string, string>;
  value: number;
}

/** Parses a Prometheus sample value: numbers, `NaN`, `+Inf`, `-Inf`. */
function promNumber(text: unknown): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return typeof text === 'string' ? Number(text) : Number.NaN;
}

/** Reads an `/api/v1/query` answer body into series (pure). Throws with Prometheus's own error message. */
export function parseQueryResponse(status: number, body: string): PromSeries[] {
  let parsed: { status?: string; error?: string; errorType?: string; data?: { resultType?: string; result?: unknown } };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    throw new Error(`HTTP ${status}, not a Prometheus answer: ${excerpt(body)}`);
  }
  if (parsed.status !== 'success' || !parsed.data) {
    throw new Error(`HTTP ${status}: ${excerpt(parsed.errorType ?? 'error', 40)}: ${excerpt(parsed.error ?? body)}`);
  }
  const { resultType, result } = parsed.data;
  if (resultType === 'scalar') return [{ labels: {}, value: promNumber((result as [number, string])[1]) }];
  if (resultType === 'vector') {
    return (result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((entry) => ({
      labels: entry.metric,
      value: promNumber(entry.value[1]),
    }));
  }
  throw new Error(`expected an instant vector or scalar, got a ${resultType}`);
}

/**
 * Maps Prometheus's cumulative buckets (`le` in seconds) onto LATENCY_BOUNDS_MS (pure). A bound
 * that is one of Prometheus's buckets is exact. A bound that is not is interpolated linearly
 * between the buckets around it (from 0 for a bound below the first bucket) — the same assumption
 * `histogram_quantile` makes: with the usual buckets 1 s and 2.5 s, two thirds of the requests
 * between 1 s and 2.5 s count as faster than 2 s. Requests above the largest finite bucket go to
 * the last (overflow) bucket. No buckets give an empty histogram.
 */
export function histogramFromCumulative(buckets: ReadonlyArray<{ le: number; count: number }>): LatencyHistogram {
  const valid = buckets.filter((bucket) => !Number.isNaN(bucket.le) && Number.isFinite(bucket.count));
  if (valid.length === 0) return [];
  const sorted = [...valid].sort((a, b) => a.le - b.le);
  // Counts of separately extrapolated series can dip; a cumulative histogram never does.
  let running = 0;
  const cumulative = sorted.map((bucket) => ({ le: bucket.le, count: (running = Math.max(running, bucket.count)) }));
  const finite = cumulative.filter((bucket) => Number.isFinite(bucket.le));
  const total = running;
  const atBound = (seconds: number): number => {
    let lower = { le: 0, count: 0 };
    for (const bucket of finite) {
      if (Math.abs(bucket.le - seconds) <= 1e-9 * seconds) return bucket.count;
      if (bucket.le > seconds)
        return lower.count + ((bucket.count - lower.count) * (seconds - lower.le)) / (bucket.le - lower.le);
      lower = bucket;
    }
    return lower.count;
  };
  const histogram: LatencyHistogram = [];
  let previous = 0;
  for (const bound of LATENCY_BOUNDS_MS) {
    const count = Math.min(total, Math.max(previous, atBound(bound / 1000)));
    histogram.push(count - previous);
    previous = count;
  }
  histogram.push(total - previous);
  return histogram;
}

type Query = { key: keyof PrometheusQueries; template: string } | { key: 'gauge'; name: string; template: string };

export class PrometheusSource implements MetricSource {
  readonly name = 'prometheus';
  private readonly base: string;
  private readonly colors: readonly Color[];
  private readonly queries: Query[];

  constructor(private readonly options: PrometheusSourceOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new ConfigurationError(
        `invalid Prometheus URL ${JSON.stringify(options.url)}; expected e.g. http://prometheus:9090`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new ConfigurationError(`invalid Prometheus URL ${options.url}: expected http or https`);
    this.base = options.url.replace(/\/+$/, '');
    this.colors = options.colors ?? COLORS;
    // Checked up front, so a bad value is a configuration error before the analysis starts.
    renderQuery('{app}', { app: options.app });
    for (const version of Object.values(options.versions ?? {}))
      if (version !== undefined) renderQuery('{version}', { version });

    this.queries = [];
    for (const key of Object.keys(DEFAULT_PROMETHEUS_QUERIES) as Array<keyof PrometheusQueries>) {
      const template = options.queries?.[key] === undefined ? DEFAULT_PROMETHEUS_QUERIES[key] : options.queries[key];
      if (template !== null) this.queries.push({ key, template });
    }
    for (const [name, template] of Object.entries(options.gauges ?? {})) {
      if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name))
        throw new ConfigurationError(`invalid gauge name ${JSON.stringify(name)}`);
      this.queries.push({ key: 'gauge', name, template });
    }
    for (const query of this.queries) {
      const what = query.key === 'gauge' ? `the gauge ${query.name}` : `the ${query.key} query`;
      checkQueryTemplate(query.template, what);
      if (query.template.includes('{version}')) {
        for (const color of this.colors) {
          if (options.versions?.[color] === undefined)
            throw new ConfigurationError(`${what} uses {version}, but no version is known for ${color}`);
        }
      }
    }
  }

  /** True when Prometheus answers `/-/ready`. */
  async reachable(): Promise<boolean> {
    try {
      const response = await getJson(`${this.base}/-/ready`, {
        headers: this.options.headers,
        timeoutMs: this.options.timeoutMs ?? 5000,
        attempts: 1,
      });
      return response.status === 200;
    } catch {
      return false;
    }
  }

  /** One instant query at `atMs` (ms since the epoch). */
  async query(expression: string, atMs: number): Promise<PromSeries[]> {
    const url = `${this.base}/api/v1/query?${new URLSearchParams({ query: expression, time: (atMs / 1000).toFixed(3) })}`;
    let response;
    try {
      response = await getJson(url, { headers: this.options.headers, timeoutMs: this.options.timeoutMs ?? 10_000 });
    } catch (error) {
      throw new Error(`Prometheus at ${this.base} could not be read: ${(error as Error).message}`);
    }
    try {
      return parseQueryResponse(response.status, response.body);
    } catch (error) {
      throw new Error(`Prometheus query ${expression} failed: ${(error as Error).message}`);
    }
  }

  async sample(window: TimeWindow): Promise<Sample> {
    const duration = promDuration(window.end - window.start);
    const colors: Sample['colors'] = {};
    await Promise.all(
      this.colors.map(async (color) => {
        const values = {
          app: this.options.app,
          color,
          window: duration,
          ...(this.options.versions?.[color] === undefined ? {} : { version: this.options.versions[color] }),
        };
        const answers = await Promise.all(
          this.queries.map(async (query) => ({
            query,
            series: await this.query(renderQuery(query.template, values), window.end),
          })),
        );
        const sample = colorSample(answers);
        if (sample) colors[color] = sample;
      }),
    );
    return { start: window.start, end: window.end, colors };
  }
}

/** A color's sample from its query answers; undefined when no query returned any series (pure). */
function colorSample(answers: ReadonlyArray<{ query: Query; series: PromSeries[] }>): ColorSample | undefined {
  if (answers.every((answer) => answer.series.length === 0)) return undefined;
  const count = (series: PromSeries[]) =>
    series.reduce((total, one) => total + (Number.isFinite(one.value) ? Math.max(0, one.value) : 0), 0);
  const largest = (series: PromSeries[]): number | undefined => {
    const finite = series.map((one) => one.value).filter((value) => Number.isFinite(value));
    return finite.length === 0 ? undefined : Math.max(...finite);
  };
  const sample: ColorSample = { requests: 0, errors: 0, latency: [] };
  const gauges: Record<string, number> = {};
  for (const { query, series } of answers) {
    if (query.key === 'requests') sample.requests = count(series);
    else if (query.key === 'errors') sample.errors = count(series);
    else if (query.key === 'latencyBuckets') {
      const byLe = new Map<number, number>();
      for (const one of series) {
        const le = one.labels.le === undefined ? Number.NaN : promNumber(one.labels.le);
        byLe.set(le, (byLe.get(le) ?? 0) + (Number.isFinite(one.value) ? one.value : 0));
      }
      sample.latency = histogramFromCumulative([...byLe].map(([le, bucketCount]) => ({ le, count: bucketCount })));
    } else {
      const value = largest(series);
      if (value === undefined) continue;
      if (query.key === 'memory') sample.memoryRatio = value;
      else if (query.key === 'drift') sample.driftScore = value;
      else if (query.key === 'gauge') gauges[query.name] = value;
    }
  }
  if (Object.keys(gauges).length > 0) sample.gauges = gauges;
  return sample;
}
