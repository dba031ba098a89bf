import { describe, expect, it } from 'vitest';
import { silentLogger } from '../src/action';
import { parsePolicy } from '../src/analysis';
import { monitorSessions, type MonitorSettings } from '../src/procedures';
import type { RolloutEvent } from '../src/report';

/**
 * The ramp's steps against hosts that only keep weights: which steps move traffic and which
 * events say so. No metric source (sources: []), so each step passes by policy at once, on a
 * clock that only moves when the analysis sleeps.
 */

type Session = Parameters<typeof monitorSessions>[0][number];
type Weights = { blue: number; green: number };

/** A host whose canary (green) takes `percent`: its router records every weight it is given. */
function host(label: string, percent: number, set: Weights[]): Session {
  const since = '2026-01-01T00:00:00Z';
  let weights: Weights = { blue: 100 - percent, green: percent };
  const session = {
    label,
    spec: { target: { label } },
    remote: { label },
    lockLost: false,
    state: {
      schema: 2,
      app: 'shop',
      active: 'blue',
      colors: {
        blue: { image: 'shop:v1', version: 'v1', port: 8001, status: 'running', since },
        green: { image: 'shop:v2', version: 'v2', port: 8002, status: 'running', since },
      },
      canary: { color: 'green', version: 'v2', image: 'shop:v2', percent, since, runId: 'run-1' },
      releases: [],
      pending: null,
      history: [],
      updatedAt: since,
    },
    router: { getWeights: () => Promise.resolve({ weights, generation: '1' }) },
    clearAbortRequest: () => Promise.resolve(),
    abortRequest: () => Promise.resolve(null),
    holdRequest: () => Promise.resolve(null),
    audit: () => Promise.resolve(),
    saveState: (state: unknown) => {
      session.state = state as typeof session.state;
      return Promise.resolve();
    },
    switchWithIntent: (_intent: unknown, next: Weights, outcome: unknown) => {
      weights = next;
      set.push(next);
      session.state = outcome as typeof session.state;
      return Promise.resolve({ weights: next, liveMs: 1, settledMs: 1, recorded: true });
    },
  };
  return session as unknown as Session;
}

function settings(steps: number[], events: RolloutEvent[]): MonitorSettings {
  let now = Date.parse('2026-01-01T00:10:00Z');
  return {
    app: 'shop',
    splitKey: '$request_id',
    connect: { privateKey: '', knownHosts: '', insecureSkipHostKeyCheck: false, connectTimeoutMs: 1000 },
    lock: { waitSeconds: 0, staleSeconds: 600, breakStale: false },
    maxParallel: 4,
    run: { runId: 'run-1', actor: 'tester', runUrl: '' },
    clock: { now: () => now, sleep: (ms) => Promise.resolve(void (now += ms)) },
    log: silentLogger,
    policy: parsePolicy({ duration: 10, interval: 5, 'on-inconclusive': 'pass' }),
    mode: 'ramp',
    steps,
    model: false,
    sources: [],
    prometheus: null,
    healthPath: '/health',
    probePath: '/health',
    probeRequests: 1,
    memory: 'none',
    autoRollback: false,
    rollbackOn: [],
    rollback: {} as MonitorSettings['rollback'],
    onEvent: (event) => void events.push(event),
  };
}

describe('a ramp counts each step once', () => {
  it('watches a first step the deploy already set (10%) without switching it again or announcing it as an advance', async () => {
    const set: Weights[] = [];
    const events: RolloutEvent[] = [];
    const result = await monitorSessions(
      [host('h1', 10, set), host('h2', 10, set)],
      settings([10, 25, 50, 100], events),
    );
    expect(result.verdict).toBe('success');
    // Four steps watched, the first at the share the deploy gave it.
    expect(result.steps.map((step) => step.percent)).toEqual([10, 25, 50, 100]);
    expect(set.map((weights) => weights.green)).toEqual([25, 25, 50, 50, 100, 100]);
    expect(events.map((event) => event.message)).toEqual([
      'v2 weight advanced to 25% (step 2 of 4) on 2 hosts',
      'v2 weight advanced to 50% (step 3 of 4) on 2 hosts',
      'v2 weight advanced to 100% (step 4 of 4) on 2 hosts',
      'v2 ramped to all traffic: every step passed its analysis',
    ]);
  });

  it('moves to a first step the canary does not have yet, and says so', async () => {
    const set: Weights[] = [];
    const events: RolloutEvent[] = [];
    await monitorSessions([host('h1', 5, set)], settings([10, 100], events));
    expect(set.map((weights) => weights.green)).toEqual([10, 100]);
    expect(events.map((event) => event.message).slice(0, 2)).toEqual([
      'v2 weight advanced to 10% (step 1 of 2) on 1 host',
      'v2 weight advanced to 100% (step 2 of 2) on 1 host',
    ]);
  });
});
