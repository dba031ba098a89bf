import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../src/action';
import { deployPhaseInputs, readInputs } from '../src/inputs';
import { judgeSmoke, PRE_TRAFFIC_SMOKE } from '../src/runtime';
import { smokeCheckSchema, type SmokeAnswer } from '../src/runtime/smoke';

/** blue-green's smoke-requests, read as the action reads it. */
const smokeRequests = (yaml: string) =>
  readInputs({ 'smoke-requests': deployPhaseInputs['smoke-requests'] }, () => yaml)['smoke-requests'];
const errorOf = (run: () => unknown): Error => {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
};

describe('the smoke vocabulary', () => {
  it('reads max-latency-ms, the old name in smoke-requests, as p95-ms', () => {
    expect(smokeRequests('- path: /run-agent\n  max-latency-ms: 1500')).toEqual([
      { method: 'GET', path: '/run-agent', status: 200, json: false, prometheus: false, 'p95-ms': 1500 },
    ]);
    expect(smokeRequests('- path: /run-agent\n  max-latency-ms: 1500')).toEqual(
      smokeRequests('- path: /run-agent\n  p95-ms: 1500'),
    );
    // An old value out of range is refused under the name it was written with.
    expect(errorOf(() => smokeRequests('- path: /x\n  max-latency-ms: 0')).message).toBe(
      "Input 'smoke-requests': [0].max-latency-ms: expected a whole number from 1 to 600000 (ms), got 0; " +
        'expected a YAML list of {name, method, path, body, status, contains, json, prometheus, repeat, p95-ms}',
    );
  });

  it('refuses p95-ms and max-latency-ms together, naming both', () => {
    const error = errorOf(() => smokeRequests('- path: /x\n  p95-ms: 100\n  max-latency-ms: 200'));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toBe(
      "Input 'smoke-requests': [0]: gives both p95-ms and max-latency-ms (its old name); keep only p95-ms; " +
        'expected a YAML list of {name, method, path, body, status, contains, json, prometheus, repeat, p95-ms}',
    );
  });

  it.each([
    ['json', true],
    ['prometheus', true],
    ['contains', 'ok'],
  ] as const)('refuses %s on a HEAD request, whose answer has no body', (key, value) => {
    expect(smokeCheckSchema.safeParse({ method: 'HEAD', path: '/x', [key]: value }).error?.issues[0]?.message).toBe(
      `${key} checks the body, and the answer to a HEAD request has none`,
    );
    expect(smokeCheckSchema.safeParse({ method: 'GET', path: '/x', [key]: value }).success).toBe(true);
  });
});

describe('judgeSmoke: one way to judge a check, wherever it is sent from', () => {
  const answers = (...list: SmokeAnswer[]) => {
    let sent = 0;
    return { send: async () => list[sent++] ?? { noAnswer: 'no more answers' }, sent: () => sent };
  };
  const ok = (latencyMs: number, body = 'ok'): SmokeAnswer => ({ status: 200, body, latencyMs });

  it('sends once before traffic, and a single latency is its own P95', async () => {
    const once = answers(ok(2500));
    const outcome = await judgeSmoke(smokeCheckSchema.parse({ path: '/x' }), PRE_TRAFFIC_SMOKE, once.send);
    expect(once.sent()).toBe(1);
    expect(outcome).toMatchObject({
      runs: 1,
      passedRuns: 1,
      p95Ms: 2500,
      budgetMs: 2000,
      status: 200,
      problem: 'took 2500 ms, budget 2000 ms',
    });
  });

  it('sends a check repeat times and holds the P95 of its latencies to p95-ms', async () => {
    const five = answers(ok(10), ok(20), ok(30), ok(40), ok(300));
    const outcome = await judgeSmoke(
      smokeCheckSchema.parse({ path: '/x', repeat: 5, 'p95-ms': 100 }),
      PRE_TRAFFIC_SMOKE,
      five.send,
    );
    expect(five.sent()).toBe(5);
    expect(outcome).toMatchObject({
      runs: 5,
      passedRuns: 5,
      latencies: [10, 20, 30, 40, 300],
      p95Ms: 300,
      problem: 'P95 300 ms over 5 runs is above the budget of 100 ms',
    });
  });

  it('reports the first failing run with its status, checks every body, and stops when nothing answers', async () => {
    const check = smokeCheckSchema.parse({ path: '/x', json: true, repeat: 4 });
    const mixed = answers(ok(5, '{}'), { status: 503, body: '', latencyMs: 5 }, ok(5, 'not json'), {
      noAnswer: 'no answer (refused)',
    });
    const outcome = await judgeSmoke(check, PRE_TRAFFIC_SMOKE, mixed.send);
    expect(outcome).toMatchObject({
      runs: 4,
      passedRuns: 1,
      status: 503,
      statuses: { 200: 2, 503: 1, error: 1 },
      problem: 'run 2 of 4: answered 503, expected 200',
    });
    const silent = await judgeSmoke(
      smokeCheckSchema.parse({ path: '/x' }),
      PRE_TRAFFIC_SMOKE,
      answers({ noAnswer: 'no answer (refused)' }).send,
    );
    expect(silent).toMatchObject({ runs: 1, passedRuns: 0, status: 0, p95Ms: null, problem: 'no answer (refused)' });
  });
});
