import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { collectionInstallCommand, collectionsCacheKey } from '../src/hosts';
import { ConfigurationError } from '../src/action';
import { field, readInputs } from '../src/inputs';
import { percentile, requestBody, smokeBudgetMs, smokeChecksSchema, type SmokeCheck } from '../src/runtime';
import { imageTag, runLoad } from '../src/staging';
import { playbookCommand } from '../src/hosts/ansible';
import { DEFAULT_SMOKE_CHECKS, loadTable, runSmokeCheck, smokeTable, stagingUrl } from '../src/staging/staging';
import { judgeLoad, plannedRequests, summarizeLatencies, type LoadResult } from '../src/staging/loadtest';

/** A local service whose answers each test decides; it records when each request arrived. */
let server: Server;
let baseUrl: string;
let handler: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) => response.end('ok');
const arrivals: number[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    arrivals.push(performance.now());
    request.resume();
    request.on('end', () => handler(request, response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A port nothing listens on (fetch refuses the well-known ones such as 1). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const check = (fields: Partial<SmokeCheck> & { path: string }): SmokeCheck =>
  smokeChecksSchema.parse([fields])[0] as SmokeCheck;
const defaults = { repeat: 3, p95BudgetMs: 2000 };

describe('percentiles', () => {
  it('takes the nearest rank, so a P95 of 5 runs is the slowest', () => {
    const sorted = [1, 2, 3, 4, 100];
    expect(percentile(sorted, 0.95)).toBe(100);
    expect(percentile(sorted, 0.5)).toBe(3);
    expect(percentile([], 0.5)).toBeNaN();
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(hundred, 0.5), percentile(hundred, 0.95), percentile(hundred, 0.99)]).toEqual([50, 95, 99]);
    expect(summarizeLatencies([5, 1, 3])).toEqual({ p50: 3, p95: 5, p99: 5, max: 5, mean: 3 });
    expect(summarizeLatencies([])).toBeNull();
  });
});

describe('judgeLoad', () => {
  const result = (overrides: Partial<LoadResult>): LoadResult => ({
    planned: 2500,
    sent: 2500,
    responses: 2500,
    ok: 2500,
    non2xx: 0,
    errors: 0,
    statuses: { 200: 2500 },
    errorKinds: {},
    elapsedMs: 300_000,
    achievedRatePerMinute: 500,
    errorRate: 0,
    latencyMs: { p50: 120, p95: 900, p99: 1500, max: 1900, mean: 200 },
    maxStartLagMs: 2,
    ...overrides,
  });
  const criteria = { maxErrorRate: 0.01, maxP95Ms: 2000, minRateRatio: 0.95 };
  const plan = { ratePerMinute: 500, durationSeconds: 300 };

  it('passes a run that meets every criterion, with the figures of the summary table', () => {
    const verdict = judgeLoad(plan, result({}), criteria);
    expect(verdict.passed).toBe(true);
    expect(verdict.failures).toEqual([]);
    expect(verdict.figures.map((figure) => [figure.figure, figure.met])).toEqual([
      ['achieved rate', true],
      ['error rate', true],
      ['P95 latency', true],
      ['P50 latency', null],
      ['P99 latency', null],
      ['requests', null],
      ['duration', null],
    ]);
    expect(verdict.figures[0]?.criterion).toBe('≥ 475/min (min-rate-ratio 0.95)');
  });

  it('names each criterion not met and the input that sets it', () => {
    const verdict = judgeLoad(
      plan,
      result({
        achievedRatePerMinute: 431.2,
        errorRate: 0.032,
        non2xx: 80,
        latencyMs: { p50: 300, p95: 2104, p99: 2500, max: 3000, mean: 400 },
      }),
      criteria,
    );
    expect(verdict.passed).toBe(false);
    expect(verdict.failures).toEqual([
      'achieved rate 431.2/min is below min-rate-ratio 0.95 × 500/min = 475/min',
      'error rate 3.2% (80 non-2xx and 0 errors of 2500 requests) is above max-error-rate 1%',
      'P95 latency 2104 ms is above max-p95-ms 2000 ms',
    ]);
  });

  it('fails a run without any answer, and one that sent nothing', () => {
    const silent = judgeLoad(
      plan,
      result({
        responses: 0,
        ok: 0,
        errors: 2500,
        errorRate: 1,
        latencyMs: null,
        achievedRatePerMinute: 0,
        errorKinds: { ECONNREFUSED: 2500 },
      }),
      criteria,
    );
    expect(silent.failures.at(-1)).toBe('P95 latency: no request got an answer (max-p95-ms 2000)');
    expect(silent.figures[1]?.value).toContain('ECONNREFUSED ×2500');
    expect(judgeLoad(plan, result({ sent: 0, responses: 0, ok: 0, latencyMs: null }), criteria).passed).toBe(false);
  });

  it('plans rate × duration requests', () => {
    expect(plannedRequests({ ratePerMinute: 500, durationSeconds: 300 })).toBe(2500);
    expect(plannedRequests({ ratePerMinute: 500, durationSeconds: 10 })).toBe(83);
  });
});

describe('runLoad: a constant arrival rate against a real server', () => {
  it('sends rate × duration requests, evenly spaced, and counts answers by status', async () => {
    let count = 0;
    handler = (_request, response) => {
      count++;
      response.statusCode = count % 10 === 0 ? 503 : 200;
      response.end('{}');
    };
    arrivals.length = 0;
    const result = await runLoad({
      url: `${baseUrl}/run-agent`,
      method: 'POST',
      body: '{"instruction":"Hello test"}',
      ratePerMinute: 1200,
      durationSeconds: 2,
      connections: 5,
      timeoutMs: 5000,
    });
    expect(result).toMatchObject({
      planned: 40,
      sent: 40,
      responses: 40,
      ok: 36,
      non2xx: 4,
      errors: 0,
      statuses: { 200: 36, 503: 4 },
      errorRate: 0.1,
    });
    expect(result.achievedRatePerMinute).toBeGreaterThan(1150);
    expect(result.achievedRatePerMinute).toBeLessThanOrEqual(1200);
    // One request every 50 ms: no bursts (autocannon sends each second's requests at once), no long gaps.
    const gaps = arrivals
      .slice(1)
      .map((time, index) => time - (arrivals[index] as number))
      .sort((a, b) => a - b);
    expect(gaps[Math.floor(gaps.length / 2)]).toBeGreaterThan(40);
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(60);
    // The longest gap: a sender that bursts once a second leaves gaps near 1000 ms; this process
    // (the server and the sender share it) can stall for a quarter second on a loaded machine.
    expect(gaps.at(-1)).toBeLessThan(500);
    const busiestSecond = Math.max(
      ...arrivals.map((time) => arrivals.filter((other) => other >= time && other < time + 1000).length),
    );
    expect(busiestSecond).toBeLessThanOrEqual(23);
  });

  it('keeps sending on time when the service is slow, and counts the wait for a free connection in the latency', async () => {
    handler = (_request, response) => setTimeout(() => response.end('slow'), 100);
    arrivals.length = 0;
    // One connection, a request every 50 ms, each taking 100 ms: half the rate gets through.
    const result = await runLoad({
      url: `${baseUrl}/`,
      method: 'GET',
      ratePerMinute: 1200,
      durationSeconds: 1,
      connections: 1,
      timeoutMs: 10_000,
    });
    expect(result.sent).toBe(20);
    expect(result.ok).toBe(20);
    expect(result.achievedRatePerMinute).toBeLessThan(700);
    expect(result.latencyMs?.p95).toBeGreaterThan(800);
    const verdict = judgeLoad({ ratePerMinute: 1200, durationSeconds: 1 }, result, {
      maxErrorRate: 0.01,
      maxP95Ms: 500,
      minRateRatio: 0.95,
    });
    expect(verdict.failures).toHaveLength(2);
  });

  it('counts refused connections and timeouts as errors', async () => {
    const refused = await runLoad({
      url: `http://127.0.0.1:${await closedPort()}/`,
      method: 'GET',
      ratePerMinute: 600,
      durationSeconds: 1,
      connections: 2,
      timeoutMs: 2000,
    });
    expect(refused).toMatchObject({
      sent: 10,
      responses: 0,
      errors: 10,
      errorRate: 1,
      latencyMs: null,
      errorKinds: { ECONNREFUSED: 10 },
    });
    handler = () => undefined; // never answers
    const hung = await runLoad({
      url: `${baseUrl}/hang`,
      method: 'GET',
      ratePerMinute: 600,
      durationSeconds: 0.5,
      connections: 10,
      timeoutMs: 300,
    });
    expect(hung).toMatchObject({ sent: 5, errors: 5, errorKinds: { timeout: 5 } });
    handler = (_request, response) => response.end('ok');
  });
});

describe('smoke checks', () => {
  it('has the Agent Loop profile by default: health, ready, metrics (Prometheus), run-agent (JSON)', () => {
    const checks = smokeChecksSchema.parse(parseYaml(DEFAULT_SMOKE_CHECKS));
    expect(checks.map((c) => [c.name, c.method, c.path, c.json, c.prometheus, c.status])).toEqual([
      ['health', 'GET', '/health', false, false, 200],
      ['ready', 'GET', '/ready', false, false, 200],
      ['metrics', 'GET', '/metrics', false, true, 200],
      ['run-agent', 'POST', '/run-agent', true, false, 200],
    ]);
    expect(checks[3]?.body).toEqual({ instruction: 'Hello test', use_ollama: true });
    // Before traffic, ssh-compose sends the same checks: run-agent is a POST of that JSON body, expecting 200 within the budget.
    expect([
      checks[3]?.method,
      checks[3]?.path,
      requestBody(checks[3] as SmokeCheck),
      checks[3]?.status,
      smokeBudgetMs(checks[3] as SmokeCheck, defaults),
    ]).toEqual(['POST', '/run-agent', '{"instruction":"Hello test","use_ollama":true}', 200, 2000]);
  });

  it('refuses unknown keys, bad paths and two checks of one name', () => {
    expect(smokeChecksSchema.safeParse([{ path: '/x', shell: 'id' }]).success).toBe(false);
    expect(smokeChecksSchema.safeParse([{ path: '../etc/passwd' }]).success).toBe(false);
    expect(smokeChecksSchema.safeParse([{ path: '/x', method: 'TRACE' }]).success).toBe(false);
    const twice = smokeChecksSchema.safeParse([{ path: '/a' }, { path: '/a' }]);
    expect(twice.error?.issues[0]?.message).toBe("two checks are named 'GET /a'; give each a distinct name");
  });

  it('passes a check that answers as expected, with its figures', async () => {
    let body = '';
    handler = (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      body = `${request.method} ${request.headers['content-type']}`;
      response.setHeader('content-type', 'application/json');
      response.end('{"result":"done"}');
    };
    const result = await runSmokeCheck(
      baseUrl,
      check({
        name: 'run-agent',
        method: 'POST',
        path: '/run-agent',
        body: { instruction: 'Hello test' },
        json: true,
        repeat: 4,
      }),
      defaults,
    );
    expect(result).toMatchObject({
      name: 'run-agent',
      runs: 4,
      passedRuns: 4,
      statuses: { 200: 4 },
      ok: true,
      budgetMs: 2000,
    });
    expect(result.p95Ms).toBeGreaterThanOrEqual(0);
    expect(body).toBe('POST application/json');
  });

  it('fails on a wrong status, a body that is not JSON or not Prometheus text, and a slow P95', async () => {
    handler = (_request, response) => {
      response.statusCode = 500;
      response.end('oops');
    };
    expect((await runSmokeCheck(baseUrl, check({ path: '/health' }), defaults)).problem).toBe(
      'run 1 of 3: answered 500, expected 200',
    );
    handler = (_request, response) => response.end('<html>hello</html>');
    expect((await runSmokeCheck(baseUrl, check({ path: '/run-agent', json: true }), defaults)).problem).toMatch(
      /^run 1 of 3: the body is not JSON \(.*\): "<html>hello<\/html>"$/,
    );
    expect((await runSmokeCheck(baseUrl, check({ path: '/metrics', prometheus: true }), defaults)).problem).toBe(
      "run 1 of 3: the body is not valid Prometheus text format: line 1: expected a metric name, got '<html>hello</html>'",
    );
    handler = (_request, response) => setTimeout(() => response.end('late'), 40);
    const slow = await runSmokeCheck(baseUrl, check({ path: '/slow', 'p95-ms': 20 }), defaults);
    expect(slow.problem).toMatch(/^P95 \d+ ms over 3 runs is above the budget of 20 ms$/);
    expect(slow.passedRuns).toBe(3);
    handler = (_request, response) => response.end('ok');
  });

  it('stops a check at the first request that gets no answer', async () => {
    const closed = await closedPort();
    const result = await runSmokeCheck(`http://127.0.0.1:${closed}`, check({ path: '/health', repeat: 5 }), defaults);
    expect(result).toMatchObject({ runs: 1, passedRuns: 0, ok: false, statuses: { error: 1 }, p95Ms: null });
    expect(result.problem).toBe(`run 1 of 5: no answer from http://127.0.0.1:${closed}/health (ECONNREFUSED)`);
  });
});

describe('helpers', () => {
  it('joins base-url and a path, and takes the version from the image tag', () => {
    expect(stagingUrl('https://staging.example.com/api/', '/health')).toBe('https://staging.example.com/api/health');
    expect(imageTag('ghcr.io/org/agent-loop:1.2.3')).toBe('1.2.3');
    expect(imageTag('localhost:5000/agent-loop:v2@sha256:' + 'a'.repeat(64))).toBe('v2');
    expect(imageTag('localhost:5000/agent-loop')).toBeNull();
    expect(imageTag('ghcr.io/org/agent-loop@sha256:' + 'a'.repeat(64))).toBeNull();
  });

  it('keeps table cells on one line', () => {
    const table = smokeTable([
      {
        name: 'a|b',
        method: 'GET',
        path: '/x',
        expectedStatus: 200,
        runs: 1,
        passedRuns: 0,
        statuses: { 500: 1 },
        p50Ms: 1,
        p95Ms: 1,
        maxMs: 1,
        budgetMs: 10,
        ok: false,
        problem: 'line\nbreak',
      },
    ]);
    expect(table.split('\n')).toHaveLength(3);
    expect(table).toContain('a\\|b');
    expect(loadTable([{ figure: 'x', value: '1', criterion: '—', met: null }])).toBe(
      '| figure | value | criterion | met |\n| --- | --- | --- | --- |\n| x | 1 | — |  |',
    );
  });

  it('keys the collections cache by the requirements file, and installs them as argv', () => {
    const text = 'collections:\n  - name: community.general\n';
    expect(collectionsCacheKey('Linux', text)).toBe(
      `ansible-collections-linux-${createHash('sha256').update(text).digest('hex')}`,
    );
    expect(collectionsCacheKey('Linux', text)).not.toBe(collectionsCacheKey('Linux', `${text} `));
    expect(collectionInstallCommand('ansible/requirements.yml', '/tmp/c')).toEqual([
      'ansible-galaxy',
      'collection',
      'install',
      '-r',
      'ansible/requirements.yml',
      '-p',
      '/tmp/c',
    ]);
    expect(
      playbookCommand({
        playbook: 'deploy.yml',
        inventory: 'inventory/staging',
        limit: 'web',
        extraVars: { environment: 'staging', docker_image: "img:1'; id" },
      }),
    ).toEqual([
      'ansible-playbook',
      'deploy.yml',
      '--inventory',
      'inventory/staging',
      '--extra-vars',
      '{"environment":"staging","docker_image":"img:1\'; id"}',
      '--limit',
      'web',
    ]);
  });

  it('reads decimal inputs such as max-error-rate', () => {
    const fields = { rate: field.decimal({ min: 0, max: 1, default: 0.01 }) };
    expect(readInputs(fields, () => '')).toEqual({ rate: 0.01 });
    expect(readInputs(fields, () => '0.5')).toEqual({ rate: 0.5 });
    expect(readInputs(fields, () => '.25')).toEqual({ rate: 0.25 });
    for (const bad of ['1.5', '-0.1', '1%', '1e-2', 'NaN', '0,5', '0.']) {
      expect(() => readInputs(fields, () => bad), bad).toThrow(ConfigurationError);
    }
    expect(() => readInputs(fields, () => '1%')).toThrow(
      "Input 'rate': expected a number from 0 to 1, such as 0.01, got '1%'",
    );
  });
});
