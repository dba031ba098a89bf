import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HostError } from '../src/action';
import {
  DEFAULT_SMOKE_REQUESTS,
  PRE_TRAFFIC_SMOKE,
  requestBody,
  smoke,
  smokeBudgetMs,
  smokeChecksSchema,
  waitHealthy,
  type SmokeCheck,
} from '../src/runtime';
import { freePort, localRemote } from './support/local-remote';
import { probeCommand, waitHealthyCommand } from '../src/runtime/health';
import { smokeCheckSchema } from '../src/runtime/smoke';

const remote = localRemote('app-host');

interface Received {
  method: string;
  url: string;
  contentType: string | undefined;
  body: string;
}

/** A small app: fixed answers per path, and a record of every request it got. */
let server: http.Server;
let port: number;
let received: Received[] = [];
let flakyLeft = 0;

beforeAll(async () => {
  server = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      received.push({
        method: request.method ?? '',
        url: request.url ?? '',
        contentType: request.headers['content-type'],
        body,
      });
      const url = request.url ?? '';
      if (url === '/healthz' || url === '/ready') return void response.end('ok');
      if (url === '/hello')
        return void response.writeHead(200, { 'content-type': 'text/plain' }).end('hello from blue\n');
      if (url === '/fail') return void response.writeHead(500).end('boom');
      if (url === '/flaky')
        return void (flakyLeft-- > 0 ? response.writeHead(503).end('starting') : response.end('ok'));
      if (url === '/slow') return void setTimeout(() => response.end('late'), 400);
      if (url === '/run-agent')
        return void response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ echo: JSON.parse(body || 'null') }));
      response.writeHead(404).end('not found');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received = [];
});

const request = (fields: Record<string, unknown>): SmokeCheck => smokeCheckSchema.parse(fields);

describe('waitHealthy', () => {
  it('builds one URL per path on the color port, after the timeout', () => {
    expect(waitHealthyCommand(8001, ['/healthz', '/ready'], 30).slice(3)).toEqual([
      'al-wait',
      '30',
      'http://127.0.0.1:8001/healthz',
      'http://127.0.0.1:8001/ready',
    ]);
  });

  it('returns once every path answers 200', async () => {
    const ms = await waitHealthy(remote, port, ['/healthz', '/ready'], 5);
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(received.map((entry) => entry.url)).toEqual(['/healthz', '/ready']);
  });

  it('keeps asking until a starting app answers 200', async () => {
    flakyLeft = 2;
    await waitHealthy(remote, port, ['/flaky'], 5);
    expect(received.map((entry) => entry.url)).toEqual(['/flaky', '/flaky', '/flaky']);
  });

  it('gives up at the deadline, saying what the path answered', async () => {
    const error = await waitHealthy(remote, port, ['/healthz', '/fail'], 0).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HostError);
    expect((error as Error).message).toBe(
      `app-host: the new color on port ${port} did not become healthy within 0 s: http://127.0.0.1:${port}/fail answered 500`,
    );
  });

  it('says when nothing answers at all', async () => {
    const closed = await freePort();
    await expect(waitHealthy(remote, closed, ['/healthz'], 0)).rejects.toThrow(
      `http://127.0.0.1:${closed}/healthz answered 000`,
    );
  });
});

describe('probeCommand', () => {
  it('asks curl for the status and time after the body', () => {
    expect(probeCommand(8001, request({ path: '/healthz' }))).toEqual([
      'curl',
      '-sS',
      '-X',
      'GET',
      '--max-time',
      '12',
      '-w',
      '\\n%{http_code} %{time_total}',
      'http://127.0.0.1:8001/healthz',
    ]);
  });

  it('asks for a HEAD with --head, so curl does not wait for a body', () => {
    expect(probeCommand(8001, request({ method: 'HEAD', path: '/' })).slice(0, 4)).toEqual([
      'curl',
      '-sS',
      '--head',
      '--max-time',
    ]);
  });

  it('sends a body from stdin as JSON', () => {
    const argv = probeCommand(
      8002,
      request({ method: 'POST', path: '/run-agent', body: { a: 1 }, 'max-latency-ms': 30_000 }),
    );
    expect(argv).toEqual([
      'curl',
      '-sS',
      '-X',
      'POST',
      '--max-time',
      '40',
      '-w',
      '\\n%{http_code} %{time_total}',
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      '@-',
      'http://127.0.0.1:8002/run-agent',
    ]);
  });

  it('sends a body that is not JSON as text, as the runner does', () => {
    expect(probeCommand(8002, request({ method: 'POST', path: '/x', body: 'plain words' }))).toContain(
      'Content-Type: text/plain; charset=utf-8',
    );
  });

  it('turns a body into the text to send', () => {
    expect(requestBody(request({ path: '/', body: { instruction: 'hi' } }))).toBe('{"instruction":"hi"}');
    expect(requestBody(request({ path: '/', body: [1, 2] }))).toBe('[1,2]');
    expect(requestBody(request({ path: '/', body: 'raw text' }))).toBe('raw text');
    expect(requestBody(request({ path: '/' }))).toBeUndefined();
  });
});

describe('smoke, run with curl against a real server', () => {
  it('passes a 200 within the budget whose body contains the expected text', async () => {
    const result = await smoke(remote, port, request({ path: '/hello', contains: 'from blue' }));
    expect(result).toMatchObject({
      method: 'GET',
      path: '/hello',
      status: 200,
      expectedStatus: 200,
      maxLatencyMs: 2000,
      ok: true,
    });
    expect(result.problem).toBeUndefined();
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(result.latencyMs).toBeLessThan(2000);
  });

  it('fails a 500', async () => {
    const result = await smoke(remote, port, request({ path: '/fail' }));
    expect(result).toMatchObject({ status: 500, ok: false, problem: 'answered 500, expected 200' });
  });

  it('passes an expected non-200 status', async () => {
    expect(await smoke(remote, port, request({ path: '/fail', status: 500 }))).toMatchObject({ status: 500, ok: true });
  });

  it('fails an answer slower than its budget', async () => {
    const result = await smoke(remote, port, request({ path: '/slow', 'max-latency-ms': 150 }));
    expect(result.status).toBe(200);
    expect(result.ok).toBe(false);
    expect(result.latencyMs).toBeGreaterThanOrEqual(380);
    expect(result.problem).toBe(`took ${result.latencyMs} ms, budget 150 ms`);
  });

  it('fails a body that does not contain the expected text', async () => {
    const result = await smoke(remote, port, request({ path: '/hello', contains: 'from green' }));
    expect(result).toMatchObject({ status: 200, ok: false, problem: "the body does not contain 'from green'" });
  });

  it('delivers a POST body as JSON', async () => {
    const [spec] = smokeChecksSchema.parse(parseYaml(DEFAULT_SMOKE_REQUESTS));
    const result = await smoke(remote, port, spec as SmokeCheck);
    expect(result).toMatchObject({ method: 'POST', path: '/run-agent', status: 200, ok: true });
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ method: 'POST', url: '/run-agent', contentType: 'application/json' });
    expect(JSON.parse(received[0]?.body ?? '')).toEqual({ instruction: 'Hello test', use_ollama: true });
  });

  it('delivers a string body as it is', async () => {
    const body = '{"text": "quotes \' and $(id) and `id`"}';
    const result = await smoke(remote, port, request({ method: 'PUT', path: '/run-agent', body, contains: '$(id)' }));
    expect(result.ok).toBe(true);
    expect(received[0]).toMatchObject({ method: 'PUT', body });
  });

  it('answers a HEAD request without waiting for a body', async () => {
    const started = Date.now();
    const result = await smoke(remote, port, request({ method: 'HEAD', path: '/hello' }));
    expect(result).toMatchObject({ method: 'HEAD', status: 200, ok: true });
    // Before --head, curl waited for the body until the server closed the idle connection (5 s).
    expect(Date.now() - started).toBeLessThan(4000);
    expect(received[0]?.method).toBe('HEAD');
  });

  it('gives json, prometheus and repeat the meaning they have from the runner', async () => {
    expect(
      await smoke(remote, port, request({ path: '/run-agent', method: 'POST', body: { a: 1 }, json: true })),
    ).toMatchObject({ ok: true });
    expect((await smoke(remote, port, request({ path: '/hello', json: true }))).problem).toMatch(
      /^the body is not JSON \(.*\): "hello from blue\\n"$/,
    );
    expect((await smoke(remote, port, request({ path: '/hello', prometheus: true }))).problem).toMatch(
      /^the body is not valid Prometheus text format: line 1: /,
    );
    received = [];
    const slow = await smoke(remote, port, request({ path: '/slow', repeat: 2, 'p95-ms': 150 }));
    expect(received.map((entry) => entry.url)).toEqual(['/slow', '/slow']);
    expect(slow.problem).toBe(`P95 ${slow.latencyMs} ms over 2 runs is above the budget of 150 ms`);
  });

  it('takes the budget and runs of its context when the check does not say', async () => {
    const result = await smoke(remote, port, request({ path: '/hello' }), { repeat: 2, p95BudgetMs: 5000 });
    expect(result).toMatchObject({ ok: true, maxLatencyMs: 5000 });
    expect(received).toHaveLength(2);
  });

  it('reports no answer when nothing listens', async () => {
    const result = await smoke(remote, await freePort(), request({ path: '/hello' }));
    expect(result.status).toBe(0);
    expect(result.ok).toBe(false);
    expect(result.problem).toMatch(/^no answer \(curl: \(7\) Failed to connect/);
  });
});

describe('smoke request schema', () => {
  it('fills defaults', () => {
    expect(request({ path: '/x' })).toEqual({ method: 'GET', path: '/x', status: 200, json: false, prometheus: false });
    // The budget is the context's: before traffic, 2000 ms.
    expect(smokeBudgetMs(request({ path: '/x' }), PRE_TRAFFIC_SMOKE)).toBe(2000);
  });

  it.each([
    [{ path: 'no-slash' }, 'expected a path starting with /'],
    [{ path: '/a b' }, 'expected a path starting with /'],
    [{ path: '/x', method: 'TRACE' }, 'method'],
    [{ path: '/x', status: 600 }, 'status'],
    [{ path: '/x', 'max-latency-ms': 0 }, 'max-latency-ms'],
    [{ path: '/x', timeout: 5 }, 'timeout'],
  ])('rejects %j', (fields, where) => {
    const parsed = smokeCheckSchema.safeParse(fields);
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain(where);
  });

  it('allows at most 50 requests', () => {
    // Distinct paths: two checks of one name (here `GET /`) are refused on their own.
    const paths = (count: number) => Array.from({ length: count }, (_, index) => ({ path: `/${index}` }));
    expect(smokeChecksSchema.safeParse(paths(50)).success).toBe(true);
    expect(smokeChecksSchema.safeParse(paths(51)).success).toBe(false);
  });
});
