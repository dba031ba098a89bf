import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLock, connect, deploy, LockHeld, promote, statePaths, type HostSpec } from '@agent-loop/shared';
import { startLab, type Lab, type LabHost } from './lab/index';
import { sendTraffic, startTraffic } from './lab/traffic';
import { deploySettings, labHosts, promoteSettings, sessionSettings } from './support/deploy-settings';
import { hostState, portAnswers } from './support/fixtures';

/** The blue-green procedure against the lab: real sshd, real nginx, real app processes. */

let lab: Lab;
let hosts: HostSpec[];

function includeFile(host: LabHost): string {
  return readFileSync(`${host.nginxConfDir}/agent-loop-${lab.app}.conf`, 'utf8');
}

async function versionsThroughNginx(requests = 200): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const host of lab.hosts) {
    const result = await sendTraffic({ url: host.proxyUrl, maxRequests: requests, concurrency: 4 });
    expect(result.failed).toBe(0);
    expect(result.non2xx).toBe(0);
    for (const [version, count] of Object.entries(result.byVersion)) counts[version] = (counts[version] ?? 0) + count;
  }
  return counts;
}

beforeAll(async () => {
  lab = await startLab({ hosts: 2 });
  hosts = labHosts(lab);
});

afterAll(async () => {
  await lab?.stop();
});

describe('blue-green on two lab hosts', () => {
  it('puts the first version on blue with all traffic', async () => {
    const result = await deploy(hosts, deploySettings(lab, 'v1'));
    expect(result.error).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.activeColor).toBe('blue');
    expect(result.canaryPercent).toBe(100);
    for (const host of lab.hosts) {
      expect(hostState(lab, host)).toMatchObject({
        active: 'blue',
        canary: null,
        colors: { blue: { version: 'v1', status: 'running', port: host.bluePort } },
      });
      expect(includeFile(host)).toContain(`default agent_loop_${lab.app}_blue;`);
    }
    await lab.enableSite();
    expect(await versionsThroughNginx()).toEqual({ v1: 400 });
  });

  it('sends the canary share of requests to the new color, and only that share', async () => {
    const result = await deploy(hosts, deploySettings(lab, 'v2'));
    expect(result.ok).toBe(true);
    expect(result).toMatchObject({
      activeColor: 'green',
      previousColor: 'blue',
      version: 'v2',
      previousVersion: 'v1',
      canaryPercent: 10,
    });
    expect(result.switchMs).toBeGreaterThan(0);
    for (const report of result.hosts)
      expect(report.smoke).toEqual([expect.objectContaining({ path: '/run-agent', status: 200, ok: true })]);
    // 2000 requests at 10%: the binomial standard deviation is ~13 requests, so [120, 280] is
    // more than 6 deviations wide on each side and excludes both 0% and 50%.
    const result1 = await sendTraffic({ url: lab.hosts[0]!.proxyUrl, maxRequests: 2000, concurrency: 8 });
    expect(result1.failed).toBe(0);
    const canary = result1.byVersion.v2 ?? 0;
    expect(canary).toBeGreaterThanOrEqual(120);
    expect(canary).toBeLessThanOrEqual(280);
    expect((result1.byVersion.v1 ?? 0) + canary).toBe(2000);
    for (const host of lab.hosts) {
      expect(hostState(lab, host).canary).toMatchObject({ color: 'green', version: 'v2', percent: 10 });
      expect(hostState(lab, host).active).toBe('blue');
    }
  });

  it('promotes: all traffic to green, blue stopped, history recorded', async () => {
    const result = await promote(hosts, promoteSettings(lab, 'v2'));
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({
      ok: true,
      activeColor: 'green',
      previousColor: 'blue',
      version: 'v2',
      previousVersion: 'v1',
      canaryPercent: 100,
    });
    expect(await versionsThroughNginx()).toEqual({ v2: 400 });
    for (const host of lab.hosts) {
      expect(await portAnswers(host.bluePort)).toBe(false);
      const state = hostState(lab, host);
      expect(state).toMatchObject({
        active: 'green',
        canary: null,
        colors: { blue: { status: 'stopped' }, green: { status: 'running', version: 'v2' } },
      });
      expect(state.history.map((entry) => `${entry.action}:${entry.version}:${entry.outcome}`)).toEqual([
        'deploy:v1:success',
        'deploy:v2:success',
        'promote:v2:success',
      ]);
      const audit = readFileSync(`${host.stateDir}/${lab.app}/audit.log`, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { step: string });
      expect(audit.map((record) => record.step)).toContain('switch all traffic');
    }
  });

  it('promoting again is a no-op that changes nothing', async () => {
    const before = includeFile(lab.hosts[0]!);
    const result = await promote(hosts, promoteSettings(lab, 'v2'));
    expect(result.ok).toBe(true);
    expect(result.hosts.every((report) => report.outcome === 'noop')).toBe(true);
    expect(includeFile(lab.hosts[0]!)).toBe(before);
  });

  it('a failing health check leaves traffic where it was', async () => {
    await lab.setKnobs('v3', { healthStatus: 500 });
    const before = lab.hosts.map(includeFile);
    const result = await deploy(hosts, deploySettings(lab, 'v3', { healthTimeoutSeconds: 2 }));
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/did not become healthy within 2 s/);
    expect(lab.hosts.map(includeFile)).toEqual(before);
    expect(await versionsThroughNginx()).toEqual({ v2: 400 });
    expect(hostState(lab).history.at(-1)).toMatchObject({ action: 'deploy', version: 'v3', outcome: 'failed' });
  });

  it('a failing smoke request leaves traffic where it was', async () => {
    await lab.setKnobs('v4', { errorRate: 1 });
    const result = await deploy(hosts, deploySettings(lab, 'v4'));
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/smoke POST \/run-agent on blue: answered 500, expected 200/);
    expect(result.hosts[0]!.smoke[0]).toMatchObject({ status: 500, ok: false });
    expect(await versionsThroughNginx()).toEqual({ v2: 400 });
  });

  it('a configuration nginx rejects keeps the previous include and says so, without quoting nginx', async () => {
    const before = lab.hosts.map(includeFile);
    const result = await deploy(hosts, { ...deploySettings(lab, 'v5'), splitKey: '$no_such_variable' });
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/nginx rejected the new configuration/);
    expect(result.error).toMatch(/invalid \(nginx -t named no file: see nginx's error log on the host\)/);
    expect(lab.hosts.map(includeFile)).toEqual(before);
    expect(existsSync(`${lab.hosts[0]!.nginxConfDir}/agent-loop-${lab.app}.conf.al-prev`)).toBe(false);
    expect(await versionsThroughNginx()).toEqual({ v2: 400 });
  });

  it('re-running after failures converges, and a re-run of the same canary is harmless', async () => {
    const first = await deploy(hosts, deploySettings(lab, 'v5'));
    expect(first.ok).toBe(true);
    const again = await deploy(hosts, deploySettings(lab, 'v5'));
    expect(again.ok).toBe(true);
    expect(again).toMatchObject({ activeColor: 'blue', previousColor: 'green', version: 'v5', canaryPercent: 10 });
    for (const host of lab.hosts) expect(hostState(lab, host).canary).toMatchObject({ color: 'blue', version: 'v5' });
    const counts = await versionsThroughNginx(500);
    expect(Object.keys(counts).sort()).toEqual(['v2', 'v5']);
    const promoted = await promote(hosts, promoteSettings(lab));
    expect(promoted).toMatchObject({ ok: true, activeColor: 'blue', version: 'v5' });
    expect(await versionsThroughNginx()).toEqual({ v5: 400 });
  });

  it('refuses a run while another holds the lock, naming the holder, and waits when asked', async () => {
    const host = hosts[1]!;
    const remote = await connect(host.target, {
      privateKey: lab.clientKey,
      knownHosts: lab.knownHosts,
      insecureSkipHostKeyCheck: false,
      connectTimeoutMs: 5000,
    });
    const release = await acquireLock(
      remote,
      statePaths(host.stateDir, lab.app),
      {
        token: 'other-token',
        runId: '777-1',
        actor: 'someone-else',
        version: 'v9',
        phase: 'deploy',
        time: new Date().toISOString(),
      },
      {
        waitSeconds: 0,
        staleSeconds: 3600,
        breakStale: false,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        now: Date.now,
        warn: () => {},
      },
    );
    try {
      const refused = deploy(hosts, deploySettings(lab, 'v6'));
      await expect(refused).rejects.toBeInstanceOf(LockHeld);
      await expect(refused).rejects.toThrow(/run 777-1 by someone-else \(deploy of v9/);
      // Host 1 was locked by the refused run for a moment: its lock is released again.
      expect(existsSync(`${lab.hosts[0]!.stateDir}/${lab.app}/lock`)).toBe(false);
      expect(hostState(lab).history.at(-1)).toMatchObject({ action: 'promote', version: 'v5' });

      setTimeout(() => void release(), 1500);
      const waited = await deploy(hosts, {
        ...deploySettings(lab, 'v6'),
        lock: { waitSeconds: 20, staleSeconds: 3600, breakStale: false },
      });
      expect(waited.ok).toBe(true);
    } finally {
      await release();
      remote.close();
    }
  });

  it('two deploys at once never interleave: at least one is refused', async () => {
    const outcomes = await Promise.allSettled([
      deploy(hosts, deploySettings(lab, 'v7')),
      deploy(hosts, { ...deploySettings(lab, 'v8'), run: { runId: 'rival', actor: 'rival', runUrl: '' } }),
    ]);
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const outcome of refused)
      expect((outcome as PromiseRejectedResult).reason.message).toMatch(/another deploy holds the lock/);
    for (const host of lab.hosts) expect(existsSync(`${host.stateDir}/${lab.app}/lock`)).toBe(false);
  });

  it('refuses an unknown or changed host key before anything runs on the host', async () => {
    const [first, second] = lab.hosts as [LabHost, LabHost];
    const before = readFileSync(`${first.stateDir}/${lab.app}/audit.log`, 'utf8');
    const changed = second.knownHostsLine.replace(`[127.0.0.1]:${second.sshPort}`, `[127.0.0.1]:${first.sshPort}`);
    const base = sessionSettings(lab);
    await expect(
      deploy([hosts[0]!], { ...deploySettings(lab, 'v9'), connect: { ...base.connect, knownHosts: changed } }),
    ).rejects.toThrow(/host key CHANGED/);
    await expect(
      deploy([hosts[0]!], {
        ...deploySettings(lab, 'v9'),
        connect: { ...base.connect, knownHosts: second.knownHostsLine },
      }),
    ).rejects.toThrow(/is not in ssh-known-hosts/);
    expect(readFileSync(`${first.stateDir}/${lab.app}/audit.log`, 'utf8')).toBe(before);
  });
});

describe('zero downtime', () => {
  it('every request through nginx answers 2xx during deploy, canary and promote', async () => {
    const current = hostState(lab);
    const traffic = lab.hosts.map((host) =>
      startTraffic({ url: host.proxyUrl, concurrency: 6, durationMs: 30_000, maxRequests: 40_000 }),
    );
    const deployed = await deploy(hosts, deploySettings(lab, 'v10'));
    const promoted = await promote(hosts, promoteSettings(lab, 'v10', { drainSeconds: 1 }));
    const results = await Promise.all(traffic.map((t) => t.stop()));
    expect(deployed.ok).toBe(true);
    expect(promoted.ok).toBe(true);
    const total = results.reduce((sum, r) => sum + r.sent, 0);
    const resets = results.reduce((sum, r) => sum + r.resets, 0);
    console.log(
      `zero downtime: ${total} requests, ${resets} connection resets retried, versions ${JSON.stringify(results.map((r) => r.byVersion))}`,
    );
    expect(total).toBeGreaterThan(200);
    for (const result of results) {
      expect(result.failed).toBe(0);
      expect(result.non2xx).toBe(0);
      // What served before (the stable version and any canary left by the lock tests), then v10.
      const before = [current.colors[current.active!]!.version, ...(current.canary ? [current.canary.version] : [])];
      expect(Object.keys(result.byVersion).sort()).toEqual([...before, 'v10'].sort());
    }
  });
});
