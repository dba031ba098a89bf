import type { RolloutEvent } from '@agent-loop/shared/report';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, monitor, parsePolicy, promote, type AppState, type HostSpec } from '@agent-loop/shared';
import type { Knobs, Lab } from './lab/index';
import { sendTraffic, startTraffic, type TrafficResult } from './lab/traffic';
import { deploySettings, monitorSettings, promoteSettings } from './support/deploy-settings';
import { hostState, startServingLab } from './support/fixtures';
import { startPrometheus, type RunningPrometheus } from './support/prometheus';

/** The canary monitor on the lab: real traffic through nginx, judged and rolled back. */

let lab: Lab;
let hosts: HostSpec[];

const state = (): AppState => hostState(lab);

async function canary(version: string, knobs: Knobs, percent = 10): Promise<void> {
  await lab.setKnobs(version, knobs);
  const result = await deploy(
    hosts,
    deploySettings(lab, version, { canaryPercent: percent, splitKey: '$request_id', smokeRequests: [] }),
  );
  expect(result.error).toBeUndefined();
}

function flow(ratePerSecond = 60, concurrency = 6): { stop(): Promise<TrafficResult[]> } {
  const running = lab.hosts.map((host) =>
    startTraffic({ url: host.proxyUrl, concurrency, durationMs: 58_000, ratePerSecond }),
  );
  return { stop: () => Promise.all(running.map((t) => t.stop())) };
}

async function servingVersions(): Promise<Record<string, number>> {
  return (await sendTraffic({ url: lab.hosts[0]!.proxyUrl, maxRequests: 100 })).byVersion;
}

beforeAll(async () => {
  ({ lab, hosts } = await startServingLab('v1'));
});

afterAll(async () => {
  await lab?.stop();
});

describe('canary-monitor on two lab hosts', () => {
  it('fails a slow canary (P95 over 2 s) and rolls it back', async () => {
    await canary('v2', { latencyMs: 2600 }, 50);
    const traffic = flow(30, 12);
    const result = await monitor(hosts, monitorSettings(lab, parsePolicy({ duration: 60, interval: 1 })));
    const seen = await traffic.stop();
    expect(result.verdict).toBe('failure');
    expect(result.reason).toMatch(/latency-p95/);
    expect(result.analysis.detectSeconds).toBeLessThan(30);
    expect(result.rollback?.ok).toBe(true);
    expect(await servingVersions()).toEqual({ v1: 100 });
    for (const t of seen) expect(t.failed).toBe(0);
  });

  it('passes a healthy canary at the end of its window, without rolling back', async () => {
    await canary('v3', {});
    const traffic = flow();
    const result = await monitor(
      hosts,
      monitorSettings(lab, parsePolicy({ duration: 10, interval: 1, 'min-requests': 30 })),
    );
    await traffic.stop();
    expect(result.reason).toBeTruthy();
    expect(result.verdict).toBe('success');
    expect(result.analysis.canaryRequests).toBeGreaterThanOrEqual(30);
    expect(result.analysis.elapsedSeconds).toBeGreaterThanOrEqual(10);
    expect(result.rollback).toBeNull();
    expect(state().canary).toMatchObject({ version: 'v3', color: 'green' });
    const counts = await servingVersions();
    expect(Object.keys(counts).sort()).toEqual(['v1', 'v3']);
  });

  it('with no traffic, the policy decides: pass with a warning, or fail for too little traffic', async () => {
    // A canary of its own: the monitor reads from the switch, so v3's canary still holds the
    // requests of the test before; no request reaches this one.
    await canary('v3-quiet', {});
    const passing = await monitor(
      hosts,
      monitorSettings(lab, parsePolicy({ duration: 10, interval: 1, 'on-inconclusive': 'pass' }), {
        autoRollback: false,
      }),
    );
    expect(passing.verdict).toBe('success');
    expect(passing.analysis.warnings.join(' ')).toMatch(/traffic|requests/);
    const failing = await monitor(
      hosts,
      monitorSettings(lab, parsePolicy({ duration: 10, interval: 1, 'on-inconclusive': 'fail' }), {
        autoRollback: false,
      }),
    );
    expect(failing.verdict).toBe('failure');
    expect(failing.reason).toMatch(/too little traffic|requests/);
    expect(failing.rollback).toBeNull();
    expect(failing.analysis.canaryRequests).toBe(0);
    expect(state().canary).toMatchObject({ version: 'v3-quiet' });
    // Extend: one more window, announced as an event with why, then the policy after it.
    const events: RolloutEvent[] = [];
    const extended = await monitor(
      hosts,
      monitorSettings(
        lab,
        parsePolicy({ duration: 10, interval: 1, 'on-inconclusive': 'extend', 'max-extensions': 1 }),
        { autoRollback: false, onEvent: (event) => void events.push(event) },
      ),
    );
    expect(extended.analysis.elapsedSeconds).toBeGreaterThanOrEqual(20);
    expect(events.filter((event) => event.kind === 'analysis-extended')).toEqual([
      {
        kind: 'analysis-extended',
        message: expect.stringMatching(
          /^analysis of v3-quiet extended by 10 s \(extension 1 of 1\) because .*(traffic|requests)/,
        ),
      },
    ]);
  });

  describe('with Prometheus as the source', () => {
    let prometheus: RunningPrometheus;
    beforeAll(async () => {
      prometheus = await startPrometheus(
        lab.hosts.flatMap((host) => [
          { port: host.bluePort, labels: { app: lab.app, color: 'blue' } },
          { port: host.greenPort, labels: { app: lab.app, color: 'green' } },
        ]),
      );
    });
    afterAll(async () => {
      await prometheus?.stop();
    });

    it('catches a canary answering 30% errors from the scraped metrics', async () => {
      await canary('v4', { errorRate: 0.3 }, 25);
      const traffic = flow();
      await prometheus.waitForData(`sum(http_requests_total{app="${lab.app}",color="green",version="v4"})`);
      const result = await monitor(
        hosts,
        monitorSettings(lab, parsePolicy({ duration: 60, interval: 2 }), {
          sources: ['prometheus'],
          prometheus: { url: prometheus.url },
        }),
      );
      await traffic.stop();
      expect(result.verdict).toBe('failure');
      expect(result.reason).toMatch(/error-rate/);
      const errorRule = result.analysis.rules.find((rule) => rule.name === 'error-rate')!;
      expect(errorRule.observed).toBeGreaterThan(0.1);
      expect(errorRule.observed).toBeLessThan(0.6);
      expect(result.rollback?.ok).toBe(true);
      expect(await servingVersions()).toEqual({ v1: 100 });
    });
  });

  it('ramps a healthy canary through its steps, then promotes', async () => {
    await canary('v5', {}, 10);
    const traffic = flow();
    const shares: number[] = [];
    const events: RolloutEvent[] = [];
    const result = await monitor(
      hosts,
      monitorSettings(lab, parsePolicy({ duration: 10, interval: 1, 'min-requests': 20 }), {
        mode: 'ramp',
        steps: [25, 100],
        onSample: () => shares.push(state().canary?.percent ?? -1),
        onEvent: (event) => void events.push(event),
      }),
    );
    await traffic.stop();
    expect(result.verdict).toBe('success');
    // An event per step, as it happens: each weight, then the end of the ramp.
    expect(events).toEqual([
      { kind: 'weight-advanced', message: `v5 weight advanced to 25% (step 1 of 2) on ${hosts.length} hosts` },
      { kind: 'weight-advanced', message: `v5 weight advanced to 100% (step 2 of 2) on ${hosts.length} hosts` },
      { kind: 'promoted', message: 'v5 ramped to all traffic: every step passed its analysis' },
    ]);
    expect(result.steps.map((step) => [step.percent, step.analysis.verdict])).toEqual([
      [25, 'success'],
      [100, 'success'],
    ]);
    expect(new Set(shares)).toEqual(new Set([25, 100]));
    expect(await servingVersions()).toEqual({ v5: 100 });
    expect((await promote(hosts, promoteSettings(lab, 'v5'))).ok).toBe(true);
  });

  it('after promotion, a trigger that holds rolls back to the previous version, restarting it', async () => {
    await lab.setKnobs('v5', { errorRate: 0.5 });
    const traffic = flow();
    const policy = parsePolicy({
      duration: 60,
      interval: 1,
      rules: [{ name: 'error-rate-sustained', window: 3, for: 2 }],
    });
    const result = await monitor(hosts, monitorSettings(lab, policy, { mode: 'post-promotion' }));
    const seen = await traffic.stop();
    expect(result.verdict).toBe('failure');
    expect(result.reason).toMatch(/error-rate-sustained/);
    expect(result.rollback).toMatchObject({ ok: true, version: 'v1' });
    expect(await servingVersions()).toEqual({ v1: 100 });
    for (const t of seen) expect(t.failed).toBe(0);
  });
});
