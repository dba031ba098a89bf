import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_PROMETHEUS_QUERIES,
  errorRatioQuery,
  PrometheusSource,
  promDuration,
} from '../../src/analysis/sources';
import { LATENCY_BOUNDS_MS } from '../../src/analysis';
import { histogramFromCumulative, parseQueryResponse } from '../../src/analysis/sources/prometheus-answer';
import { renderQuery } from '../../src/analysis/sources/promql';

const bucketIndex = (ms: number) => LATENCY_BOUNDS_MS.indexOf(ms as (typeof LATENCY_BOUNDS_MS)[number]);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe('renderQuery', () => {
  it('fills the placeholders of the default templates', () => {
    expect(renderQuery(DEFAULT_PROMETHEUS_QUERIES.errors, { app: 'agent-loop', color: 'green', window: '30s' })).toBe(
      'sum(increase(http_requests_total{app="agent-loop",color="green",status=~"5.."}[30s]))',
    );
    expect(renderQuery('x{version="{version}"}', { version: 'v1.2.3+build.7' })).toBe('x{version="v1.2.3+build.7"}');
  });

  it('rejects a value that could change the query', () => {
    for (const value of ['a"} or vector(1) #', "a'", 'a}', 'a{', 'a\\', 'a\nb', '', '-x', 'a b']) {
      expect(() => renderQuery('x{app="{app}"}', { app: value }), value).toThrow(/refusing/);
    }
  });

  it('rejects unknown placeholders and missing values', () => {
    expect(() => renderQuery('x{app="{ap}"}', { app: 'a' })).toThrow(/unknown placeholder \{ap\}/);
    expect(() => renderQuery('x{version="{version}"}', { app: 'a' })).toThrow(/no value for \{version\}/);
  });
});

describe('errorRatioQuery and promDuration', () => {
  it('divides the sums, not the series', () => {
    expect(errorRatioQuery('agentloop', 'green', '1m')).toBe(
      'sum(rate(http_requests_total{app="agentloop",color="green",status=~"5.."}[1m])) / sum(rate(http_requests_total{app="agentloop",color="green"}[1m]))',
    );
    expect(() => errorRatioQuery('agentloop', 'green', '1m]) or vector(1')).toThrow(/duration/);
    expect(() => errorRatioQuery('agent"loop', 'green', '1m')).toThrow(/refusing/);
  });

  it('turns a window length into whole seconds', () => {
    expect(promDuration(30_000)).toBe('30s');
    expect(promDuration(29_600)).toBe('30s');
    expect(promDuration(200)).toBe('1s');
    expect(() => promDuration(-1)).toThrow();
  });
});

describe('histogramFromCumulative', () => {
  // The lab app's buckets (seconds): 2 s is not one of them.
  const le = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

  it('maps exact bounds exactly and ends with what is slower than 10 s', () => {
    const cumulative = [10, 20, 30, 40, 50, 60, 70, 80, 80, 90, 95];
    const histogram = histogramFromCumulative([
      ...le.map((bound, i) => ({ le: bound, count: cumulative[i]! })),
      { le: Infinity, count: 100 },
    ]);
    expect(histogram).toHaveLength(LATENCY_BOUNDS_MS.length + 1);
    expect(histogram.slice(0, 8)).toEqual([10, 10, 10, 10, 10, 10, 10, 10]);
    expect(histogram[bucketIndex(2000)]).toBe(0);
    expect(histogram[bucketIndex(2500)]).toBe(0);
    expect(histogram[bucketIndex(5000)]).toBe(10);
    expect(histogram[bucketIndex(10000)]).toBe(5);
    expect(histogram.at(-1)).toBe(5);
    expect(sum(histogram)).toBe(100);
  });

  it('interpolates a bound that Prometheus does not have (2 s between 1 s and 2.5 s)', () => {
    const cumulative = [0, 0, 0, 0, 0, 0, 0, 0, 30, 30, 30];
    const histogram = histogramFromCumulative([
      ...le.map((bound, i) => ({ le: bound, count: cumulative[i]! })),
      { le: Infinity, count: 30 },
    ]);
    expect(histogram[bucketIndex(2000)]).toBeCloseTo(20, 9);
    expect(histogram[bucketIndex(2500)]).toBeCloseTo(10, 9);
    expect(sum(histogram)).toBeCloseTo(30, 9);
  });

  it('interpolates from 0 below the first bucket and puts what is above the last finite bucket in the overflow', () => {
    const histogram = histogramFromCumulative([
      { le: 0.1, count: 10 },
      { le: 1, count: 20 },
      { le: Infinity, count: 25 },
    ]);
    expect(histogram[0]).toBeCloseTo(0.5, 9); // 5 ms of 100 ms
    expect(histogram.slice(0, bucketIndex(100) + 1).reduce((a, b) => a + b, 0)).toBeCloseTo(10, 9);
    expect(histogram[bucketIndex(2000)]).toBe(0);
    expect(histogram.at(-1)).toBe(5);
  });

  it('never gives a negative count when extrapolated buckets dip, and is empty without buckets', () => {
    const histogram = histogramFromCumulative([
      { le: 0.05, count: 10.2 },
      { le: 0.1, count: 9.9 },
      { le: Infinity, count: 10 },
    ]);
    expect(histogram.every((count) => count >= 0)).toBe(true);
    expect(sum(histogram)).toBeCloseTo(10.2, 9);
    expect(histogramFromCumulative([])).toEqual([]);
  });
});

describe('parseQueryResponse', () => {
  it('reads vectors, scalars and special values', () => {
    const vector = JSON.stringify({
      status: 'success',
      data: {
        resultType: 'vector',
        result: [
          { metric: { le: '+Inf' }, value: [1, '3.5'] },
          { metric: {}, value: [1, 'NaN'] },
        ],
      },
    });
    const parsed = parseQueryResponse(200, vector);
    expect(parsed[0]).toEqual({ labels: { le: '+Inf' }, value: 3.5 });
    expect(parsed[1]?.value).toBeNaN();
    expect(
      parseQueryResponse(
        200,
        JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: [1, '+Inf'] } }),
      ),
    ).toEqual([{ labels: {}, value: Infinity }]);
  });

  it("throws with Prometheus's own message", () => {
    expect(() =>
      parseQueryResponse(
        400,
        JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error at char 5' }),
      ),
    ).toThrow(/HTTP 400: bad_data: parse error at char 5/);
    expect(() => parseQueryResponse(404, '<html>')).toThrow(/not a Prometheus answer/);
  });
});

describe('PrometheusSource against a stand-in API', () => {
  let server: http.Server;
  let url: string;
  const seen: Array<{ query: string; time: string }> = [];

  const vector = (result: Array<{ metric?: Record<string, string>; value: string }>) =>
    JSON.stringify({
      status: 'success',
      data: { resultType: 'vector', result: result.map((r) => ({ metric: r.metric ?? {}, value: [0, r.value] })) },
    });

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const params = new URL(req.url ?? '/', 'http://x').searchParams;
      if (req.url === '/-/ready') return res.end('Prometheus Server is Ready.\n');
      const query = params.get('query') ?? '';
      seen.push({ query, time: params.get('time') ?? '' });
      res.setHeader('content-type', 'application/json');
      if (query.includes('color="blue"')) return res.end(vector([]));
      if (query.startsWith('sum by (le)'))
        return res.end(
          vector([
            { metric: { le: '0.05' }, value: '40' },
            { metric: { le: '+Inf' }, value: '50' },
            { metric: { le: '0.025' }, value: '10' },
          ]),
        );
      if (query.includes('status=~')) return res.end(vector([{ value: '5' }]));
      if (query.startsWith('sum(increase')) return res.end(vector([{ value: '50' }]));
      if (query.includes('memory')) return res.end(vector([{ value: '0.97' }]));
      if (query.includes('drift')) return res.end(vector([{ value: '0.3' }]));
      if (query.includes('queue_depth')) return res.end(vector([{ value: '3' }, { value: '7' }]));
      res.statusCode = 400;
      res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'no such thing' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('queries at the window end with the window as a duration, and leaves out a color without series', async () => {
    const source = new PrometheusSource({
      url,
      app: 'agentloop',
      gauges: { queue: 'max(queue_depth{app="{app}",color="{color}",version="{version}"})' },
      versions: { blue: 'v1', green: 'v2' },
    });
    expect(await source.reachable()).toBe(true);
    const sample = await source.sample({ start: 1_700_000_000_000, end: 1_700_000_030_000 });
    expect(sample.colors.blue).toBeUndefined();
    const green = sample.colors.green!;
    expect(green).toMatchObject({ requests: 50, errors: 5, memoryRatio: 0.97, driftScore: 0.3, gauges: { queue: 7 } });
    // Below the first Prometheus bucket (25 ms) the 10 requests are spread from 0: 2 + 2 + 6.
    expect(green.latency.slice(0, bucketIndex(25) + 1)).toEqual([2, 2, 6]);
    expect(green.latency[bucketIndex(50)]).toBe(30);
    expect(green.latency.at(-1)).toBe(10);
    expect(seen.every((s) => s.time === '1700000030.000')).toBe(true);
    expect(seen.map((s) => s.query)).toContain(
      'sum(increase(http_requests_total{app="agentloop",color="green"}[30s]))',
    );
    expect(seen.map((s) => s.query)).toContain('max(queue_depth{app="agentloop",color="green",version="v2"})');
  });

  it('throws a clear error for a query Prometheus refuses, or a Prometheus that is not there', async () => {
    const source = new PrometheusSource({
      url,
      app: 'agentloop',
      colors: ['green'],
      queries: { drift: 'nonsense{app="{app}"}' },
    });
    await expect(source.sample({ start: 0, end: 10_000 })).rejects.toThrow(
      /Prometheus query nonsense\{app="agentloop"\} failed: HTTP 400: bad_data: no such thing/,
    );
    const gone = new PrometheusSource({ url: 'http://127.0.0.1:9', app: 'agentloop', timeoutMs: 1000 });
    expect(await gone.reachable()).toBe(false);
    await expect(gone.query('up', 0)).rejects.toThrow(/Prometheus at http:\/\/127.0.0.1:9 could not be read/);
  }, 10_000);

  it('checks templates and values when it is built', () => {
    expect(() => new PrometheusSource({ url, app: 'agent"loop' })).toThrow(/refusing/);
    expect(() => new PrometheusSource({ url, app: 'a', queries: { requests: 'x{app="{application}"}' } })).toThrow(
      /the requests query: unknown placeholder \{application\}/,
    );
    expect(
      () => new PrometheusSource({ url, app: 'a', gauges: { q: 'x{version="{version}"}' }, versions: { blue: 'v1' } }),
    ).toThrow(/no version is known for green/);
    expect(() => new PrometheusSource({ url, app: 'a', versions: { blue: 'v1"' } })).toThrow(/refusing/);
    expect(() => new PrometheusSource({ url: 'prometheus:9090', app: 'a' })).toThrow(/invalid Prometheus URL/);
    expect(() => new PrometheusSource({ url, app: 'a', queries: { memory: null, drift: null } })).not.toThrow();
  });
});
