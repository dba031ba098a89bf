import { ConfigurationError, getJson } from '../../action';
import type { MetricSource, Sample, TimeWindow } from '..';
import { COLORS, type Color } from '../../domain';
import { colorSample, parseQueryResponse, type PromSeries } from './prometheus-answer';
import {
  checkQueryTemplate,
  DEFAULT_PROMETHEUS_QUERIES,
  promDuration,
  renderQuery,
  type PrometheusQueries,
  type Query,
} from './promql';

/**
 * Requests, errors, latencies and gauges per color from Prometheus's HTTP API: one instant query
 * per template (`/api/v1/query` at the window's end), with `{app}`, `{color}`, `{version}` and
 * `{window}` filled in. Counts come from `increase()`, which Prometheus extrapolates to the window,
 * so they need not be whole numbers; a window shorter than two scrape intervals has no data.
 * The templates are promql.ts, the answers read in prometheus-answer.ts.
 */

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
