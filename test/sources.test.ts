import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, deploy, splitWords, type HostSpec, type Remote } from '@agent-loop/shared';
import {
  HostSource,
  NginxLogSource,
  ProbeSource,
  PrometheusSource,
  errorRatioQuery,
  promDuration,
} from '../packages/shared/src/analysis/sources';
import { latencyBucket, type ColorSample, type Sample } from '../packages/shared/src/analysis';
import { startLab, type Knobs, type Lab, type LabHost } from './lab/index';
import { sendTraffic, type TrafficResult } from './lab/traffic';
import { deploySettings, labHosts } from './support/deploy-settings';
import { startPrometheus, type RunningPrometheus } from './support/prometheus';
import { freePort } from '../packages/shared/test/support/local-remote';

/**
 * The metric sources against the lab: real sshd, nginx writing its JSON access log, app processes
 * with /metrics, and a real Prometheus scraping them. v1 runs on blue, the v2 canary on green at
 * 50%, split per request.
 */

let lab: Lab;
let host: LabHost;
let hosts: HostSpec[];
let remote: Remote;
let prometheus: RunningPrometheus | undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 50 ms until it returns something other than false/undefined. */
async function until<T>(what: string, check: () => Promise<T | false | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== false && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

function metricValue(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

let knobGeneration = 0;
/**
 * Sets v2's knobs (green) and waits until the app runs with them. The app re-reads its knobs every
 * 200 ms; a driftScore unique to this call (unless the test sets one) shows in /metrics when it has.
 */
async function greenKnobs(knobs: Knobs): Promise<void> {
  knobGeneration += 1;
  const marker = knobs.driftScore ?? knobGeneration / 1000;
  await lab.setKnobs('v2', { ...knobs, driftScore: marker });
  await until(
    'green to use its new knobs',
    async () => metricValue(await metricsText(host.greenPort), 'agent_loop_model_drift_score') === marker,
  );
}

function lineCount(file: string): number {
  if (!existsSync(file)) return 0;
  return readFileSync(file).reduce((count, byte) => count + (byte === 0x0a ? 1 : 0), 0);
}

/** Lines in the access log and its rotated predecessor. */
const logLines = (): number => lineCount(host.accessLog) + lineCount(`${host.accessLog}.1`);

/** Traffic through nginx; returns once nginx has logged every request of it. */
async function burst(requests: number): Promise<TrafficResult> {
  const before = logLines();
  const result = await sendTraffic({ url: host.proxyUrl, maxRequests: requests, concurrency: 8 });
  expect(result.failed).toBe(0);
  expect(result.byColor.unknown).toBeUndefined();
  await until(`nginx to log ${result.sent} requests`, async () => logLines() >= before + result.sent);
  return result;
}

function addCounts(...results: TrafficResult[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const result of results)
    for (const [color, count] of Object.entries(result.byColor)) total[color] = (total[color] ?? 0) + count;
  return total;
}

const requestsByColor = (sample: Sample): Record<string, number> =>
  Object.fromEntries(
    Object.entries(sample.colors).map(([color, colorSample]) => [color, (colorSample as ColorSample).requests]),
  );

let clockMs = Date.now();
/** Consecutive windows, as the analysis loop would ask for them. */
function nextWindow(): { start: number; end: number } {
  const start = clockMs;
  clockMs = Math.max(Date.now(), start + 1);
  return { start, end: clockMs };
}

beforeAll(async () => {
  lab = await startLab({ hosts: 1 });
  host = lab.hosts[0]!;
  hosts = labHosts(lab);
  prometheus = await startPrometheus([
    { port: host.bluePort, labels: { app: lab.app, color: 'blue' } },
    { port: host.greenPort, labels: { app: lab.app, color: 'green' } },
  ]);
  const first = await deploy(hosts, deploySettings(lab, 'v1'));
  expect(first.error).toBeUndefined();
  const canary = await deploy(hosts, deploySettings(lab, 'v2', { canaryPercent: 50, splitKey: '$request_id' }));
  expect(canary.error).toBeUndefined();
  expect(canary).toMatchObject({ ok: true, activeColor: 'green', canaryPercent: 50 });
  await lab.enableSite();
  remote = await connect(hosts[0]!.target, {
    privateKey: lab.clientKey,
    knownHosts: lab.knownHosts,
    insecureSkipHostKeyCheck: false,
    connectTimeoutMs: 10_000,
  });
});

afterAll(async () => {
  remote?.close();
  await prometheus?.stop();
  await lab?.stop();
});

describe('NginxLogSource on the lab', () => {
  let source: NginxLogSource;

  beforeAll(async () => {
    source = new NginxLogSource([{ remote, accessLog: host.accessLog, app: lab.app }]);
    // The first sample only finds where the log ends.
    expect((await source.sample(nextWindow())).colors).toEqual({});
  });

  it('counts per color exactly what clients got, over two consecutive samples', async () => {
    for (const requests of [300, 200]) {
      const traffic = await burst(requests);
      expect(Object.keys(traffic.byColor).sort()).toEqual(['blue', 'green']);
      const sample = await source.sample(nextWindow());
      expect(requestsByColor(sample)).toEqual(traffic.byColor);
      for (const colorSample of Object.values(sample.colors)) {
        expect(colorSample.errors).toBe(0);
        expect(colorSample.latency.reduce((a, b) => a + b, 0)).toBe(colorSample.requests);
      }
    }
    expect(source.skipped).toBe(0);
  });

  it("counts a color's 5xx as errors", async () => {
    await greenKnobs({ errorRate: 1 });
    try {
      const traffic = await burst(200);
      const sample = await source.sample(nextWindow());
      expect(requestsByColor(sample)).toEqual(traffic.byColor);
      expect(sample.colors.green?.errors).toBe(traffic.byColor.green);
      expect(sample.colors.green?.errors).toBe(traffic.statuses['500']);
      expect(sample.colors.blue?.errors).toBe(0);
    } finally {
      await greenKnobs({});
    }
  });

  it('loses no line when the log is rotated (mv + nginx -s reopen) between bursts', async () => {
    const reopen = [...splitWords(host.nginxCommand), '-s', 'reopen'];
    const run = async (argv: string[]) => expect((await remote.run(argv)).code).toBe(0);

    // Moved, not reopened yet: nginx writes on into access.log.1, which the source follows.
    const first = await burst(120);
    await run(['mv', host.accessLog, `${host.accessLog}.1`]);
    const stillOld = await burst(80);
    expect(requestsByColor(await source.sample(nextWindow()))).toEqual(addCounts(first, stillOld));

    // Reopened: the new file is read from its start.
    await run(reopen);
    const afterReopen = await burst(100);
    expect(existsSync(host.accessLog)).toBe(true);
    expect(requestsByColor(await source.sample(nextWindow()))).toEqual(afterReopen.byColor);

    // Rotated and reopened between two samples: the old file's unread rest, then the new file.
    const beforeRotation = await burst(150);
    await run(['mv', host.accessLog, `${host.accessLog}.1`]);
    await run(reopen);
    const afterRotation = await burst(150);
    expect(requestsByColor(await source.sample(nextWindow()))).toEqual(addCounts(beforeRotation, afterRotation));
    expect(source.rotations).toEqual({ followed: 2, lost: 0, truncated: 0 });
  });

  it('keeps a partial last line until its newline arrives', async () => {
    const entry = {
      time: Date.now() / 1000,
      status: 503,
      request_time: 0.042,
      upstream: `agent_loop_${lab.app}_green`,
      upstream_addr: '',
      upstream_status: '503',
      upstream_time: '0.042',
      method: 'GET',
      uri: '/',
    };
    const line = `${JSON.stringify(entry)}\n`;
    await fs.appendFile(host.accessLog, line.slice(0, 50));
    expect((await source.sample(nextWindow())).colors).toEqual({});
    await fs.appendFile(host.accessLog, line.slice(50));
    const sample = await source.sample(nextWindow());
    expect(sample.colors).toEqual({ green: expect.objectContaining({ requests: 1, errors: 1 }) });
    expect(sample.colors.green?.latency[latencyBucket(42)]).toBe(1);
    expect(source.skipped).toBe(0);
  });
});

describe('PrometheusSource with a real Prometheus', () => {
  it('gives error ratio, latency histogram and gauges per color; the ratio needs sums before the division', async () => {
    const source = new PrometheusSource({
      url: prometheus!.url,
      app: lab.app,
      versions: { blue: 'v1', green: 'v2' },
      gauges: { info: 'max(agent_loop_info{color="{color}",version="{version}"})' },
    });
    expect(await until('Prometheus to be ready', () => source.reachable())).toBe(true);
    await greenKnobs({ errorRate: 0.2, latencyMs: 30, memoryPercent: 97, driftScore: 0.3 });
    try {
      const green = `http://127.0.0.1:${host.greenPort}`;
      const counted = `sum(http_requests_total{app="${lab.app}",color="green"})`;
      const scraped = async (): Promise<void> => {
        const total = (await metricsText(host.greenPort))
          .split('\n')
          .filter((line) => line.startsWith('http_requests_total{'))
          .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
        await until(
          `Prometheus to scrape green's ${total} requests`,
          async () => ((await source.query(counted, Date.now()))[0]?.value ?? -1) >= total,
        );
      };

      // Every series the traffic touches exists and is scraped before the measured window: a series'
      // first increments are not in increase() (it starts at its first scraped value).
      await sendTraffic({ url: green, maxRequests: 60, concurrency: 4 });
      await scraped();
      const start = Date.now();
      const traffic = await sendTraffic({ url: green, durationMs: 2500, concurrency: 4 });
      await scraped();
      const end = Date.now();
      const sample = await source.sample({ start: start - 1000, end });

      const greenSample = sample.colors.green!;
      // increase() scales what the scrapes inside the window saw up to the whole window: with 1 s
      // scrapes and a window of a few seconds, that over-counts by up to W / (W - 2 s).
      expect(greenSample.requests).toBeGreaterThan(traffic.sent * 0.9);
      expect(greenSample.requests).toBeLessThan(traffic.sent * 2);
      const ratio = greenSample.errors / greenSample.requests;
      expect(ratio).toBeGreaterThanOrEqual(0.1);
      expect(ratio).toBeLessThanOrEqual(0.3);
      // 30 ms per request: nearly all in the (25 ms, 50 ms] bucket, and the histogram adds up to the requests.
      const histogramTotal = greenSample.latency.reduce((a, b) => a + b, 0);
      expect(greenSample.latency).toHaveLength(13);
      expect(histogramTotal / greenSample.requests).toBeCloseTo(1, 1);
      expect(greenSample.latency[latencyBucket(30)]! / histogramTotal).toBeGreaterThan(0.8);
      expect(greenSample.memoryRatio).toBeCloseTo(0.97, 6);
      expect(greenSample.driftScore).toBeCloseTo(0.3, 6);
      expect(greenSample.gauges).toEqual({ info: 1 });
      expect(sample.colors.blue).toMatchObject({ errors: 0, driftScore: 0, gauges: { info: 1 } });
      expect(sample.colors.blue?.memoryRatio).toBeLessThan(0.5);

      // One expression for the ratio: sums first, then the division. Dividing series by series
      // matches each 5xx series only with itself and answers 1.
      const window = promDuration(end - (start - 1000));
      const [oneExpression] = await source.query(errorRatioQuery(lab.app, 'green', window), end);
      expect(oneExpression?.value).toBeCloseTo(ratio, 6);
      const matchers = `app="${lab.app}",color="green"`;
      const perSeries = await source.query(
        `rate(http_requests_total{${matchers},status=~"5.."}[${window}]) / rate(http_requests_total{${matchers}}[${window}])`,
        end,
      );
      expect(perSeries.length).toBeGreaterThan(0);
      for (const series of perSeries) expect(series.value).toBe(1);
    } finally {
      await greenKnobs({});
    }
  });

  it('throws a clear error when Prometheus cannot be read', async () => {
    const source = new PrometheusSource({ url: `http://127.0.0.1:${await freePort()}`, app: lab.app, timeoutMs: 1000 });
    expect(await source.reachable()).toBe(false);
    await expect(source.sample(nextWindow())).rejects.toThrow(
      /Prometheus at http:\/\/127\.0\.0\.1:\d+ could not be read/,
    );
  });
});

describe('ProbeSource on the lab', () => {
  it("counts its own requests to each color's port, errors included", async () => {
    const source = new ProbeSource({
      remote,
      ports: { blue: host.bluePort, green: host.greenPort },
      colors: ['blue', 'green'],
      path: '/run-agent',
      requestsPerSample: 10,
    });
    const healthy = await source.sample(nextWindow());
    expect(healthy.colors).toEqual({
      blue: expect.objectContaining({ requests: 10, errors: 0 }),
      green: expect.objectContaining({ requests: 10, errors: 0 }),
    });
    expect(healthy.colors.green?.latency.reduce((a, b) => a + b, 0)).toBe(10);

    await greenKnobs({ errorRate: 1 });
    try {
      const failing = await source.sample(nextWindow());
      expect(failing.colors).toEqual({
        blue: expect.objectContaining({ requests: 10, errors: 0 }),
        green: expect.objectContaining({ requests: 10, errors: 10 }),
      });
    } finally {
      await greenKnobs({});
    }

    // A port where nothing answers: every request is an error (no answer).
    const nowhere = new ProbeSource({
      remote,
      ports: { blue: await freePort(), green: host.greenPort },
      colors: ['blue'],
      path: '/',
      requestsPerSample: 3,
      timeoutSeconds: 2,
    });
    expect((await nowhere.sample(nextWindow())).colors.blue).toMatchObject({ requests: 3, errors: 3 });
  });
});

describe('HostSource on the lab', () => {
  it('reports host memory and counts failed health checks in a row, reset by a success', async () => {
    const source = new HostSource({
      remote,
      ports: { blue: host.bluePort, green: host.greenPort },
      colors: ['blue', 'green'],
    });
    const first = await source.sample(nextWindow());
    const memory = first.colors.blue?.memoryRatio ?? -1;
    expect(memory).toBeGreaterThan(0);
    expect(memory).toBeLessThan(1);
    expect(first.colors.green?.memoryRatio).toBe(memory);
    expect(first.colors.green?.healthFailuresInRow).toBe(0);

    await greenKnobs({ healthStatus: 500 });
    const rows: Array<[number | undefined, number | undefined]> = [];
    for (let i = 0; i < 3; i++) {
      const sample = await source.sample(nextWindow());
      rows.push([sample.colors.blue?.healthFailuresInRow, sample.colors.green?.healthFailuresInRow]);
    }
    expect(rows).toEqual([
      [0, 1],
      [0, 2],
      [0, 3],
    ]);
    await greenKnobs({});
    expect((await source.sample(nextWindow())).colors.green?.healthFailuresInRow).toBe(0);
  });
});
