// The haproxy-log source: HAProxy's HTTP log format (option httplog), one parser, checked on lines a
// real HAProxy (Debian's 2.6) wrote through a syslog socket, and on a line as Debian's rsyslog
// writes it to /var/log/haproxy.log.
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyColorSample, latencyBucket, type ColorSample } from '../../src/analysis';
import { HaproxyLogSource, parseHaproxyLines } from '../../src/analysis/sources/haproxy-log';
import { metricSources, readsFromSwitch, type SourceOptions } from '../../src/analysis/sources';
import { startHaproxy, type Haproxy } from '../../../../test/lab/haproxy';
import { freePort, localRemote, tempDir } from '../support/local-remote';

// Seen from HAProxy 2.6.12 here (through a UNIX datagram socket: `<PRI>` and the date, no host name).
// line-length: table
const SEEN = {
  ok: '<134>Dec  7 16:11:19 haproxy[19895]: 127.0.0.1:38980 [07/Dec/2026:16:11:19.968] app app/blue 0/0/0/2/2 200 692 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"',
  notFound:
    '<134>Dec  7 16:11:20 haproxy[19895]: 127.0.0.1:38994 [07/Dec/2026:16:11:19.983] app app/blue 0/0/0/17/17 404 500 - - ---- 1/1/0/0/0 0/0 "GET /x?q=1 HTTP/1.1"',
  // Sent to green, which refused the connection: redispatched (`+1`) to blue, which answered.
  redispatched:
    '<134>Dec  7 16:11:28 haproxy[21075]: 127.0.0.1:42786 [07/Dec/2026:16:11:28.779] app app/blue 0/0/0/4/4 200 692 - - ---- 1/1/0/0/+1 0/0 "GET / HTTP/1.1"',
  // Green down and blue at weight 0: HAProxy's own 503 after its retries (termination SC).
  refused:
    '<134>Dec  7 16:11:30 haproxy[21075]: 127.0.0.1:42828 [07/Dec/2026:16:11:28.899] app app/green 0/2004/-1/-1/2004 503 217 - - SC-- 1/1/0/0/2 0/0 "GET / HTTP/1.1"',
};
// As Debian 12's rsyslog writes /var/log/haproxy.log (RFC 3339 time, host name, tag), with captured headers.
const DEBIAN =
  '2026-12-07T16:11:19.968512+00:00 web1 haproxy[812]: 10.0.0.9:51234 [07/Dec/2026:16:11:19.960] www~ shop_api/green 1/0/1/130/132 200 1211 - - ---- 3/3/1/1/0 0/0 {shop.example|Mozilla/5.0} "POST /run-agent HTTP/1.1"';
// line-length: end

/** A color's sample of `requests` and `errors`, with one request in the bucket of each latency given. */
function sampleOf(requests: number, errors: number, ...latenciesMs: number[]): ColorSample {
  const sample = { ...emptyColorSample(), requests, errors };
  for (const ms of latenciesMs) sample.latency[latencyBucket(ms)] = (sample.latency[latencyBucket(ms)] ?? 0) + 1;
  return sample;
}

describe('parseHaproxyLines', () => {
  it('counts the backend’s requests per server (the color), 5xx and server aborts as errors, Tr as the latency', () => {
    const tally = parseHaproxyLines([SEEN.ok, SEEN.notFound, SEEN.refused, ''], 'app');
    expect(tally.colors.blue).toEqual(sampleOf(2, 0, 2, 17));
    // No server time (-1): counted, an error, no latency.
    expect(tally.colors.green).toEqual(sampleOf(1, 1));
    expect(tally.skipped).toBe(0);
  });

  it('counts a redispatched request for the color that failed it, as an error without a latency', () => {
    const tally = parseHaproxyLines([SEEN.redispatched], 'app');
    expect(tally.colors).toEqual({ green: sampleOf(1, 1) });
  });

  it('reads the line whatever syslog header precedes it (rsyslog on Debian), with captures and an SSL frontend', () => {
    expect(parseHaproxyLines([DEBIAN], 'shop_api').colors).toEqual({ green: sampleOf(1, 0, 130) });
  });

  it('skips other backends, requests no server took, and counts lines of no HTTP log format as unformatted', () => {
    const tally = parseHaproxyLines(
      [
        SEEN.ok.replace('app/blue', 'other/blue'),
        SEEN.ok.replace('app/blue', 'app/<NOSRV>'),
        SEEN.ok.replace('app/blue', 'app/web1'),
        '<133>Dec  7 16:11:18 haproxy[19895]: Proxy app started.',
        // option tcplog: no status, no timers of an HTTP exchange.
        '<134>Dec  7 16:11:19 haproxy[19895]: 127.0.0.1:38980 [07/Dec/2026:16:11:19.968] app app/blue 1/0/2 692 -- 1/1/0/0/0 0/0',
        // A request line that pretends to be a log line does not make a request of its own: the first fit is HAProxy's.
        SEEN.ok.replace(
          '"GET / HTTP/1.1"',
          '"GET /1.2.3.4:5 [07/Dec/2026:16:11:19.968] app app/green 0/0/0/2/2 500 1 - - ---- 1/1/0/0/0 0/0 HTTP/1.1"',
        ),
      ],
      'app',
    );
    expect(tally.skipped).toBe(5);
    expect(tally.unformatted).toBe(2);
    expect(tally.colors).toEqual({ blue: sampleOf(1, 0, 2) });
  });
});

describe('the haproxy-log source in the registry', () => {
  const options: SourceOptions = {
    healthPath: '/health',
    probePath: '/health',
    probeRequests: 1,
    memory: 'none',
    prometheus: null,
  };

  it('reads from the deploy’s mark at the switch, as nginx-log does', () => {
    expect(readsFromSwitch(['haproxy-log', 'host'])).toBe(true);
    expect(readsFromSwitch(['host', 'probe'])).toBe(false);
  });

  it('is for router haproxy, and nginx-log is not', () => {
    expect(() => metricSources.get('haproxy-log').check?.({ ...options, router: 'nginx' })).toThrow(
      "Input 'sources': lists haproxy-log, which reads HAProxy's log of each host's haproxy-backend, " +
        'but router is nginx: set router: haproxy, or list nginx-log',
    );
    expect(() => metricSources.get('nginx-log').check?.({ ...options, router: 'haproxy' })).toThrow(
      "Input 'sources': lists nginx-log, which reads nginx's access log, but router is haproxy: list haproxy-log instead",
    );
    expect(() => metricSources.get('haproxy-log').check?.({ ...options, router: 'haproxy' })).not.toThrow();
  });
});

// ------------------------------------------------------------------------------ a real HAProxy

describe('on the log a real HAProxy writes', () => {
  let dir: string;
  let haproxy: Haproxy;
  let blue: http.Server;
  let green: http.Server;
  let greenPort: number;

  beforeAll(async () => {
    dir = await tempDir('haproxy-log');
    const app = (color: string) =>
      http.createServer((request, response) => {
        const answer = () => {
          response.statusCode = request.url === '/fail' && color === 'green' ? 500 : 200;
          response.end(color);
        };
        if (request.url === '/slow') setTimeout(answer, 150);
        else answer();
      });
    blue = app('blue');
    green = app('green');
    const listen = (server: http.Server) =>
      new Promise<number>((resolve) =>
        server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
      );
    const bluePort = await listen(blue);
    greenPort = await listen(green);
    haproxy = await startHaproxy({
      dir: path.join(dir, 'haproxy'),
      frontendPort: await freePort(),
      bluePort,
      greenPort,
      backend: 'shop_api',
      log: true,
    });
  });

  afterAll(async () => {
    await haproxy?.stop();
    for (const server of [blue, green]) {
      server?.closeAllConnections();
      server?.close();
    }
    await fs.rm(dir, { recursive: true, force: true });
  });

  const send = async (urlPath: string, count: number): Promise<number[]> => {
    const statuses: number[] = [];
    for (let i = 0; i < count; i++) {
      statuses.push(
        await new Promise<number>((resolve, reject) =>
          http
            .get(`${haproxy.url}${urlPath}`, { agent: false }, (response) =>
              response.resume().on('end', () => resolve(response.statusCode ?? 0)),
            )
            .on('error', reject),
        ),
      );
    }
    return statuses;
  };
  /** Waits until the receiver has written `count` lines (HAProxy sends each when the request ends). */
  const logged = async (count: number): Promise<void> => {
    const until = Date.now() + 5000;
    for (;;) {
      const lines = (await fs.readFile(haproxy.log as string, 'utf8')).split('\n').filter(Boolean).length;
      if (lines >= count || Date.now() > until) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  it('gives per color the requests HAProxy sent there, the 5xx of the canary and the time its server took', async () => {
    const source = new HaproxyLogSource([
      { remote: localRemote('h1'), accessLog: haproxy.log as string, backend: 'shop_api' },
    ]);
    // The first sample marks where the log stands (nothing written yet).
    await source.sample({ start: 0, end: 1 });

    await haproxy.cli('set server shop_api/blue weight 90; set server shop_api/green weight 10');
    const plain = await send('/', 100);
    const failing = await send('/fail', 50);
    const slow = await send('/slow', 20);
    expect(plain.every((status) => status === 200)).toBe(true);
    await logged(170);
    const sample = await source.sample({ start: 1, end: 2 });
    const { blue: stable, green: canary } = sample.colors;
    // balance roundrobin gives exactly the share the weights ask.
    expect((stable?.requests ?? 0) + (canary?.requests ?? 0)).toBe(170);
    expect(canary?.requests).toBe(17);
    expect(canary?.errors).toBe(failing.filter((status) => status === 500).length);
    expect(canary?.errors).toBe(5);
    expect(stable?.errors).toBe(0);
    // Tr: about 150 ms for each /slow request, whichever color served it; the others are fast.
    const atLeast = (sample: ColorSample | undefined, ms: number) =>
      (sample?.latency ?? []).reduce((sum, count, bucket) => sum + (bucket >= latencyBucket(ms) ? count : 0), 0);
    expect(atLeast(stable, 140) + atLeast(canary, 140)).toBe(slow.length);
    expect(source.skipped).toBe(0);
  });

  it('counts a request to a color that is down for that color, as an error, though the other answered it', async () => {
    const source = new HaproxyLogSource([
      { remote: localRemote('h1'), accessLog: haproxy.log as string, backend: 'shop_api' },
    ]);
    await source.sample({ start: 0, end: 1 });
    const before = (await fs.readFile(haproxy.log as string, 'utf8')).split('\n').filter(Boolean).length;
    green.closeAllConnections();
    await new Promise((resolve) => green.close(resolve));
    await haproxy.cli('set server shop_api/blue weight 50; set server shop_api/green weight 50');
    const statuses = await send('/', 40);
    // retries and option redispatch: every request is answered, by blue.
    expect(statuses.every((status) => status === 200)).toBe(true);
    await logged(before + 40);
    const { blue: stable, green: canary } = (await source.sample({ start: 1, end: 2 })).colors;
    expect((stable?.requests ?? 0) + (canary?.requests ?? 0)).toBe(40);
    expect(canary?.requests).toBeGreaterThan(0);
    expect(canary?.errors).toBe(canary?.requests);
    expect(stable?.errors).toBe(0);
    const lines = (await fs.readFile(haproxy.log as string, 'utf8')).split('\n').filter(Boolean).slice(before);
    // Each of them is a line HAProxy wrote as redispatched (retries +N) to blue.
    expect(lines.filter((line) => /app shop_api\/blue .* \d+\/\d+\/\d+\/\d+\/\+\d+ \d+\/\d+ /.test(line)).length).toBe(
      canary?.requests,
    );
  });
});
