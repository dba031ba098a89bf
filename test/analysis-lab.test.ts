import { readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, monitor, parsePolicy, type AppState, type HostSpec } from '@agent-loop/shared';
import { startLab, type Lab } from './lab/index';
import { sendTraffic, startTraffic } from './lab/traffic';
import { deploySettings, labHosts, monitorSettings } from './support/deploy-settings';

/**
 * What the nginx-log source judges, through the lab's real nginx: latency from the upstream (a
 * client cannot inflate it), and the canary from its first request (the deploy's log mark).
 */

let lab: Lab;
let hosts: HostSpec[];

beforeAll(async () => {
  lab = await startLab({ hosts: 1 });
  hosts = labHosts(lab);
  expect((await deploy(hosts, deploySettings(lab, 'v1', { smokeRequests: [] }))).ok).toBe(true);
  await lab.enableSite();
});

afterAll(async () => {
  await lab?.stop();
});

/** One request whose headers (GET) or body (POST) reach nginx over `spreadMs`, a few bytes at a time; resolves with the status. */
function trickledRequest(port: number, kind: 'headers' | 'body', spreadMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const body = 'x'.repeat(10);
    const head =
      kind === 'headers'
        ? 'GET /trickle HTTP/1.1\r\nHost: lab\r\n'
        : `POST /trickle HTTP/1.1\r\nHost: lab\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n`;
    const pieces =
      kind === 'headers'
        ? ['X-Slow-1: a\r\n', 'X-Slow-2: b\r\n', 'X-Slow-3: c\r\n', 'X-Slow-4: d\r\n', 'Connection: close\r\n\r\n']
        : (body.match(/.{1,2}/g) ?? []);
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
    socket.on('connect', () => {
      socket.write(head);
      pieces.forEach((piece, index) => setTimeout(() => socket.write(piece), ((index + 1) * spreadMs) / pieces.length));
      if (kind === 'body') setTimeout(() => socket.end(), spreadMs + 50);
    });
  });
}

interface LogLine {
  upstream: string;
  request_time: number;
  upstream_time: string;
}

const logLines = (): LogLine[] =>
  readFileSync(lab.hosts[0]!.accessLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogLine);

describe('the nginx-log source on the lab', () => {
  it("judges the upstream time: clients trickling headers and bodies at a healthy canary cause no rollback, and the P95 reported is the app's", async () => {
    await lab.setKnobs('v2', { latencyMs: 20 });
    expect(
      (
        await deploy(
          hosts,
          deploySettings(lab, 'v2', { canaryPercent: 50, splitKey: '$request_id', smokeRequests: [] }),
        )
      ).ok,
    ).toBe(true);
    const linesBefore = logLines().length;
    const port = lab.hosts[0]!.proxyPort;
    let trickling = true;
    const statuses: number[] = [];
    const trickle = Array.from({ length: 6 }, (_, index) =>
      (async () => {
        for (let round = 0; trickling; round++)
          statuses.push(await trickledRequest(port, (index + round) % 2 === 0 ? 'headers' : 'body', 2500));
      })(),
    );
    const traffic = startTraffic({
      url: lab.hosts[0]!.proxyUrl,
      concurrency: 2,
      durationMs: 30_000,
      ratePerSecond: 10,
    });
    const result = await monitor(
      hosts,
      monitorSettings(lab, parsePolicy({ duration: 15, interval: 1, 'min-requests': 20 })),
    );
    trickling = false;
    await Promise.all(trickle);
    await traffic.stop();

    // The attack was real: nginx's request_time put a share of the canary's requests over 2 s.
    const green = logLines()
      .slice(linesBefore)
      .filter((line) => line.upstream.endsWith('_green'));
    const slowByRequestTime = green.filter((line) => line.request_time >= 2).length;
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThanOrEqual(10);
    expect(slowByRequestTime / green.length).toBeGreaterThan(0.05);
    expect(green.every((line) => Number(line.upstream_time.split(',')[0]) < 1)).toBe(true);

    expect(result.verdict).toBe('success');
    expect(result.rollback).toBeNull();
    const p95 = result.analysis.rules.find((rule) => rule.name === 'latency-p95');
    // The app answers in 20 ms (+ scheduling): its P95, not the clients' 2.5 s.
    expect(p95?.observed).toBeGreaterThan(10);
    expect(p95?.observed).toBeLessThan(250);
  }, 90_000);

  it("counts every canary request from the switch to the monitor's start, and none from before the switch", async () => {
    // Green served v2 until now: its lines before the switch must not count.
    await lab.setKnobs('v3', {});
    expect(
      (
        await deploy(
          hosts,
          deploySettings(lab, 'v3', { canaryPercent: 50, splitKey: '$request_id', smokeRequests: [] }),
        )
      ).ok,
    ).toBe(true);
    const state = JSON.parse(readFileSync(`${lab.hosts[0]!.stateDir}/${lab.app}/state.json`, 'utf8')) as AppState;
    expect(state.canary?.logMark).toMatchObject({
      path: lab.hosts[0]!.accessLog,
      offset: expect.any(Number) as number,
    });
    // Requests after the switch, all before the monitor starts.
    const sent = await sendTraffic({ url: lab.hosts[0]!.proxyUrl, maxRequests: 120, concurrency: 4 });
    const onCanary = sent.byVersion.v3 ?? 0;
    expect(onCanary).toBeGreaterThan(20);
    await sleep(1500);
    const result = await monitor(
      hosts,
      monitorSettings(lab, parsePolicy({ duration: 10, interval: 1, 'min-requests': 0 }), { autoRollback: false }),
    );
    expect(result.analysis.canaryRequests).toBe(onCanary);
    expect(result.analysis.stableRequests).toBe(sent.byVersion.v1 ?? 0);
    // Judged from the switch: the analysis ran 10 s from the switch, not 10 s from the monitor's start.
    expect(result.analysis.elapsedSeconds).toBeGreaterThanOrEqual(10);
    expect(result.analysis.series[0]?.requests).toBeGreaterThan(0);
  }, 90_000);
});
