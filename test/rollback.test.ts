import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, promote, rollback, type AppState, type HostSpec } from '@agent-loop/shared';
import type { Lab } from './lab/index';
import { sendTraffic, startTraffic } from './lab/traffic';
import { deploySettings, promoteSettings, rollbackSettings } from './support/deploy-settings';
import { hostState, portAnswers, startServingLab } from './support/fixtures';

/** Rollback on the lab: to the previous version (running or stopped) and to a named one. */

let lab: Lab;
let hosts: HostSpec[];

const state = (index = 0): AppState => hostState(lab, lab.hosts[index]);

async function versions(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const host of lab.hosts) {
    const result = await sendTraffic({ url: host.proxyUrl, maxRequests: 100, concurrency: 4 });
    expect(result.failed + result.non2xx).toBe(0);
    for (const [version, count] of Object.entries(result.byVersion)) counts[version] = (counts[version] ?? 0) + count;
  }
  return counts;
}

beforeAll(async () => {
  ({ lab, hosts } = await startServingLab('v1'));
});

afterAll(async () => {
  await lab?.stop();
});

describe('rollback on two lab hosts', () => {
  it('says clearly when there is nothing to roll back to', async () => {
    const result = await rollback(hosts, rollbackSettings(lab));
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(
      /nothing was rolled back, because:\n.*there is no previous version to roll back to \(only v1 was deployed\)/,
    );
    expect(await versions()).toEqual({ v1: 200 });
  });

  it('ends a canary: all traffic back on the stable color at once, the canary stopped', async () => {
    expect((await deploy(hosts, deploySettings(lab, 'v2'))).ok).toBe(true);
    const result = await rollback(
      hosts,
      rollbackSettings(lab, { kind: 'previous' }, { reason: 'canary error rate 20%' }),
    );
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({
      ok: true,
      noop: false,
      activeColor: 'blue',
      previousColor: 'green',
      version: 'v1',
      previousVersion: 'v2',
      failedVersion: 'v2',
    });
    expect(result.restoredMs).toBeGreaterThan(0);
    expect(await versions()).toEqual({ v1: 200 });
    for (const host of lab.hosts) expect(await portAnswers(host.greenPort)).toBe(false);
    expect(state()).toMatchObject({
      active: 'blue',
      canary: null,
      colors: { green: { version: 'v2', status: 'stopped' } },
    });
    expect(state().history.at(-1)).toMatchObject({
      action: 'rollback',
      version: 'v1',
      outcome: 'success',
      detail: 'canary error rate 20%',
    });
  });

  it('after a promotion: restarts the stopped previous version, then switches, with every request answered', async () => {
    expect((await deploy(hosts, deploySettings(lab, 'v2'))).ok).toBe(true);
    expect((await promote(hosts, promoteSettings(lab, 'v2'))).ok).toBe(true);
    for (const host of lab.hosts) expect(await portAnswers(host.bluePort)).toBe(false);
    const traffic = lab.hosts.map((host) => startTraffic({ url: host.proxyUrl, concurrency: 4, durationMs: 30_000 }));
    const result = await rollback(hosts, rollbackSettings(lab));
    const seen = await Promise.all(traffic.map((t) => t.stop()));
    expect(result).toMatchObject({ ok: true, activeColor: 'blue', version: 'v1', previousVersion: 'v2' });
    expect(result.hosts[0]!.steps.map((s) => s.step)).toEqual(
      expect.arrayContaining(['start v1 as blue on port ' + lab.hosts[0]!.bluePort, 'switch traffic back']),
    );
    for (const t of seen) {
      expect(t.failed).toBe(0);
      expect(t.non2xx).toBe(0);
    }
    expect(await versions()).toEqual({ v1: 200 });
  });

  it('rolls back to a named version while traffic flows, every request answered, and a second identical rollback does nothing', async () => {
    const traffic = lab.hosts.map((host) => startTraffic({ url: host.proxyUrl, concurrency: 4, durationMs: 30_000 }));
    const first = await rollback(hosts, rollbackSettings(lab, { kind: 'version', version: 'v2' }));
    const seen = await Promise.all(traffic.map((t) => t.stop()));
    expect(first).toMatchObject({ ok: true, noop: false, activeColor: 'green', version: 'v2' });
    for (const t of seen) {
      expect(t.sent).toBeGreaterThan(50);
      expect(t.failed).toBe(0);
      expect(t.non2xx).toBe(0);
      expect(Object.keys(t.byVersion).sort()).toEqual(['v1', 'v2']);
    }
    expect(await versions()).toEqual({ v2: 200 });
    const again = await rollback(hosts, rollbackSettings(lab, { kind: 'version', version: 'v2' }));
    expect(again).toMatchObject({ ok: true, noop: true });
    expect(again.hosts.every((host) => host.outcome === 'noop')).toBe(true);
    expect(await versions()).toEqual({ v2: 200 });
  });

  it('brings back a version that is in neither color from the history, and refuses an unknown one', async () => {
    expect((await deploy(hosts, deploySettings(lab, 'v3'))).ok).toBe(true);
    expect((await promote(hosts, promoteSettings(lab, 'v3'))).ok).toBe(true);
    // Now blue runs v3 and green holds v2 (stopped): v1 lives only in the history.
    const result = await rollback(hosts, rollbackSettings(lab, { kind: 'version', version: 'v1' }));
    expect(result).toMatchObject({ ok: true, activeColor: 'green', version: 'v1', previousVersion: 'v3' });
    expect(await versions()).toEqual({ v1: 200 });
    const unknown = await rollback(hosts, rollbackSettings(lab, { kind: 'version', version: 'v0' }));
    expect(unknown.ok).toBe(false);
    expect(unknown.error).toMatch(
      /version v0 is not in this host's history \(known: v3 \(rolled-back\), v2 \(superseded\), v1 \(live\)\)/,
    );
    expect(await versions()).toEqual({ v1: 200 });
  });
});
