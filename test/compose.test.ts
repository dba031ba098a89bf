// The compose runtime for real: blue-green deploy -> canary -> promote -> rollback on two lab hosts,
// each with its own Docker Engine pulling from a loopback registry, under load through nginx; and
// the failures a container user meets, each with a clear error and traffic left where it was.
import { createServer, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// Real engines and image pulls on a shared 2-core machine: a phase can take a minute under load.
vi.setConfig({ testTimeout: 240_000 });
import {
  BatchedRemote,
  composeRuntime,
  connect,
  deploy,
  HostGate,
  HostSource,
  promote,
  rollback,
  type AppState,
  type HostSpec,
  type Runtime,
} from '@agent-loop/shared';
import { onHost, startContainerLab, type ContainerLab } from './lab/containers';
import type { LabHost } from './lab/index';
import { sendTraffic, startTraffic, type TrafficResult } from './lab/traffic';
import { deploySettings, labHosts, promoteSettings, rollbackSettings } from './support/deploy-settings';

let ct: ContainerLab;
let hosts: HostSpec[];
let runtime: Runtime;
const image: Record<string, string> = {};

const state = (host: LabHost): AppState =>
  JSON.parse(readFileSync(`${host.stateDir}/${ct.lab.app}/state.json`, 'utf8')) as AppState;

/** What each color's project runs on a host's engine: container state and health, by color. */
async function containers(index: number): Promise<Record<string, string>> {
  const { stdout } = await ct.engines[index]!.docker([
    'ps',
    '--all',
    '--filter',
    `label=com.docker.compose.service=app`,
    '--format',
    '{{.Label "com.docker.compose.project"}} {{.State}}',
  ]);
  const out: Record<string, string> = {};
  for (const line of stdout.trim().split('\n').filter(Boolean)) {
    const [project, status] = line.split(' ');
    out[project!.replace(`${ct.lab.app}-`, '')] = status!;
  }
  return out;
}

/** Versions answering through each host's nginx: every request must succeed. */
async function servedVersions(requests = 100): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const host of ct.lab.hosts) {
    const result = await sendTraffic({ url: host.proxyUrl, maxRequests: requests, concurrency: 4 });
    expect(result.non2xx + result.failed).toBe(0);
    for (const [version, count] of Object.entries(result.byVersion)) counts[version] = (counts[version] ?? 0) + count;
  }
  return counts;
}

/** Runs `body` while every host's nginx takes steady traffic; no request may fail. */
async function underLoad<T>(body: () => Promise<T>): Promise<{ value: T; traffic: TrafficResult[] }> {
  let traffic: TrafficResult[] = [];
  const runs = ct.lab.hosts.map((host) =>
    startTraffic({ url: host.proxyUrl, durationMs: 59_000, concurrency: 4, ratePerSecond: 100 }),
  );
  let value: T;
  try {
    value = await body();
  } finally {
    traffic = await Promise.all(runs.map((run) => run.stop()));
    for (const result of traffic) {
      expect(result.failed, JSON.stringify(result.statuses)).toBe(0);
      expect(result.non2xx, JSON.stringify(result.statuses)).toBe(0);
      expect(result.sent).toBeGreaterThan(0);
    }
  }
  return { value: value!, traffic };
}

beforeAll(async () => {
  ct = await startContainerLab({ hosts: 2, authRegistry: true });
  hosts = labHosts(ct.lab);
  runtime = composeRuntime(ct.composeFile, { waitTimeoutSeconds: 15 });
  image.v1 = await ct.buildImage('v1');
  image.v2 = await ct.buildImage('v2');
}, 240_000);

afterAll(async () => {
  await ct?.stop();
}, 120_000);

const compose = { healthTimeoutSeconds: 15 };
const deployOf = (version: string, ref: string, extra = {}) =>
  deploySettings(ct.lab, version, { ...compose, runtime, image: ref, ...extra });

describe('compose runtime on real engines, under load', () => {
  it('deploys the first version: blue pulled from the registry, up --wait healthy, all traffic; the digest is recorded', async () => {
    const result = await deploy(hosts, deployOf('v1', image.v1!));
    expect(result.error).toBeUndefined();
    expect(result.activeColor).toBe('blue');
    await ct.lab.enableSite();
    expect(await servedVersions()).toEqual({ v1: 200 });
    for (const [i, host] of ct.lab.hosts.entries()) {
      expect(await containers(i)).toEqual({ blue: 'running' });
      // The tag was resolved to what the registry served: a rollback restarts exactly that.
      expect(state(host).colors.blue?.image).toMatch(
        new RegExp(`^${ct.registry.address}/${ct.lab.app}@sha256:[0-9a-f]{64}$`),
      );
    }
  });

  it('canary then promote with keep-previous: 0 non-2xx, the previous color kept running', async () => {
    await underLoad(async () => {
      const canary = await deploy(hosts, deployOf('v2', image.v2!));
      expect(canary.error).toBeUndefined();
      expect(canary.canaryPercent).toBe(10);
      const split = await servedVersions(400);
      expect(split.v2).toBeGreaterThan(0);
      expect(split.v1).toBeGreaterThan(split.v2!);
      const promoted = await promote(hosts, promoteSettings(ct.lab, 'v2', { ...compose, runtime, keepPrevious: true }));
      expect(promoted.error).toBeUndefined();
    });
    expect(await servedVersions()).toEqual({ v2: 200 });
    for (let i = 0; i < hosts.length; i++) expect(await containers(i)).toEqual({ blue: 'running', green: 'running' });
  });

  it("memory: compose samples both running colors' containers with the health checks in one SSH command", async () => {
    const host = hosts[0]!;
    const ssh = await connect(host.target, {
      privateKey: ct.lab.clientKey,
      knownHosts: ct.lab.knownHosts,
      insecureSkipHostKeyCheck: false,
      connectTimeoutMs: 10_000,
    });
    try {
      const batched = new BatchedRemote(ssh, new HostGate(1));
      const source = new HostSource({
        remote: batched,
        ports: { blue: host.bluePort, green: host.greenPort },
        colors: ['blue', 'green'],
        memory: { kind: 'compose', app: ct.lab.app },
      });
      const sample = await source.sample({ start: 0, end: 5000 });
      for (const color of ['blue', 'green'] as const) {
        expect(sample.colors[color]?.healthFailuresInRow).toBe(0);
        expect(sample.colors[color]?.memoryRatio).toBeGreaterThan(0);
        expect(sample.colors[color]?.memoryRatio).toBeLessThanOrEqual(1);
      }
      expect(batched.counts).toMatchObject({ sshCommands: 1, commands: 2 });
    } finally {
      ssh.close();
    }
  });

  it('a tag missing from the registry fails before anything is stopped: the kept color still runs, traffic unchanged', async () => {
    const missing = ct.imageRef('v9');
    const { value: result } = await underLoad(() => deploy(hosts, deployOf('v9', missing)));
    expect(result.ok).toBe(false);
    expect(result.error).toContain(`checking that the image ${missing} can be pulled failed`);
    expect(result.error).toMatch(/manifest unknown|not found/);
    for (const report of result.hosts)
      expect(report.steps.map((step) => step.step)).not.toContain('stop whatever runs as blue');
    for (const [i, host] of ct.lab.hosts.entries()) {
      expect(await containers(i)).toEqual({ blue: 'running', green: 'running' });
      expect(state(host)).toMatchObject({ active: 'green', colors: { blue: { version: 'v1', status: 'running' } } });
    }
    expect(await servedVersions()).toEqual({ v2: 200 });
  });

  it('a registry that refuses the pull (no login) fails with its message and a hint; nothing changes', async () => {
    const privateRef = await ct.buildImage('v3', { registry: 'auth' });
    const result = await deploy(hosts, deployOf('v3', privateRef));
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/no basic auth credentials|unauthorized/);
    expect(result.error).toContain('log this host in to it (docker login, as the SSH user)');
    for (let i = 0; i < hosts.length; i++) expect(await containers(i)).toEqual({ blue: 'running', green: 'running' });
    expect(await servedVersions()).toEqual({ v2: 200 });
  });

  it("too little room for the image under the engine's data root: refused before anything is pulled or stopped", async () => {
    // More than any disk here has: the check reads the free space where the engine keeps its images.
    const roomless = composeRuntime(ct.composeFile, { waitTimeoutSeconds: 15, minFreeDiskMb: 10_000_000 });
    const result = await deploy(hosts, deployOf('v3', image.v2!, { runtime: roomless }));
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(
      /only \d+ MB of disk free under the Docker data root \/\S+, 10000000 MB required \(min-free-disk-mb\)/,
    );
    for (const report of result.hosts)
      expect(report.steps.map((step) => step.step)).not.toContain('stop whatever runs as blue');
    for (let i = 0; i < hosts.length; i++) expect(await containers(i)).toEqual({ blue: 'running', green: 'running' });
    expect(await servedVersions()).toEqual({ v2: 200 });
  });

  it('rollback to the kept color after those failures: it still runs, so traffic moves at once', async () => {
    const { value: result } = await underLoad(() =>
      rollback(hosts, rollbackSettings(ct.lab, { kind: 'previous' }, { ...compose, runtime })),
    );
    expect(result.error).toBeUndefined();
    expect(result.version).toBe('v1');
    for (const report of result.hosts)
      expect(report.steps.map((step) => step.step).some((name) => name.startsWith('start '))).toBe(false);
    expect(await servedVersions()).toEqual({ v1: 200 });
    for (const [i, host] of ct.lab.hosts.entries()) {
      expect(await containers(i)).toEqual({ blue: 'running', green: 'exited' });
      expect(state(host).colors.green?.status).toBe('stopped');
    }
  });

  it('rollback to a stopped color restarts its container from the recorded digest', async () => {
    const { value: result } = await underLoad(() =>
      rollback(hosts, rollbackSettings(ct.lab, { kind: 'version', version: 'v2' }, { ...compose, runtime })),
    );
    expect(result.error).toBeUndefined();
    for (const report of result.hosts)
      expect(report.steps.map((step) => step.step)).toContain(
        'start v2 as green on port ' + ct.lab.hosts.find((h) => report.host.includes(String(h.sshPort)))!.greenPort,
      );
    expect(await servedVersions()).toEqual({ v2: 200 });
    for (const [i, host] of ct.lab.hosts.entries()) {
      expect(await containers(i)).toEqual({ blue: 'exited', green: 'running' });
      expect(state(host).colors.green?.image).toMatch(/@sha256:/);
    }
  });
});

describe('compose runtime: a new color that does not come up leaves traffic where it was', () => {
  it('a container that exits at once: up --wait fails with its log, nothing is left running, traffic unchanged', async () => {
    const ref = await ct.buildImage('v4', { exitAtOnce: 'agent-loop: OPENAI_API_KEY is not set' });
    const { value: result } = await underLoad(() => deploy(hosts, deployOf('v4', ref)));
    expect(result.ok).toBe(false);
    expect(result.error).toContain('starting agentloop v4 as blue');
    expect(result.error).toContain('OPENAI_API_KEY is not set');
    for (let i = 0; i < hosts.length; i++) expect((await containers(i)).blue).not.toBe('running');
    expect(await servedVersions()).toEqual({ v2: 200 });
  });

  it('a healthcheck that never passes: up --wait gives up at the health timeout and stops the unhealthy container', async () => {
    const ref = await ct.buildImage('v5', { healthcheck: 'failing' });
    const result = await deploy(
      hosts,
      deployOf('v5', ref, { runtime: composeRuntime(ct.composeFile, { waitTimeoutSeconds: 4 }) }),
    );
    expect(result.ok).toBe(false);
    // Compose says "unhealthy" once a probe has failed, or "not healthy after 4s" when the first
    // probes have not concluded by the bound (a loaded machine): either way it gave up at the bound.
    expect(result.error).toMatch(/unhealthy|not healthy after 4s/);
    const reports = JSON.stringify(
      result.hosts.map((report) => ({
        host: report.host,
        outcome: report.outcome,
        error: report.error,
        steps: report.steps.map((step) => step.step),
      })),
    );
    for (let i = 0; i < hosts.length; i++) expect((await containers(i)).blue, reports).toBe('exited');
    expect(await servedVersions()).toEqual({ v2: 200 });
  });

  it("a port already taken by something else on the host: the engine's bind error, traffic unchanged", async () => {
    const squatters: Server[] = [];
    try {
      for (const host of ct.lab.hosts) {
        const server = createServer();
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(host.bluePort, '127.0.0.1', resolve);
        });
        squatters.push(server);
      }
      const result = await deploy(hosts, deployOf('v1', image.v1!));
      expect(result.ok).toBe(false);
      expect(result.error).toMatch(/address already in use|port is already allocated/);
      expect(await servedVersions()).toEqual({ v2: 200 });
    } finally {
      await Promise.all(squatters.map((server) => new Promise((resolve) => server.close(resolve))));
    }
  });
});

describe('compose runtime: registries and moving tags', () => {
  it('deploys from a private registry once each host has logged in (docker login as the SSH user)', async () => {
    const registry = ct.authRegistry!;
    for (const host of ct.lab.hosts)
      await onHost(
        ct.lab,
        host,
        `printf %s '${registry.password}' | docker login --username ${registry.user} --password-stdin ${registry.address}`,
      );
    const result = await deploy(hosts, deployOf('v3', ct.imageRef('v3', 'auth')));
    expect(result.error).toBeUndefined();
    const promoted = await promote(hosts, promoteSettings(ct.lab, 'v3', { ...compose, runtime }));
    expect(promoted.error).toBeUndefined();
    expect(await servedVersions()).toEqual({ v3: 200 });
  });

  it('a re-pushed tag is pulled again: the new color runs the new content and records its new digest', async () => {
    const moving = await ct.buildImage('v6', { tag: 'stable' });
    const first = await deploy(hosts, deployOf('stable-1', moving));
    expect(first.error).toBeUndefined();
    const host = ct.lab.hosts[0]!;
    const firstDigest = state(host).colors.green?.image;
    expect(await (await fetch(`http://127.0.0.1:${host.greenPort}/health`)).json()).toMatchObject({ version: 'v6' });
    await ct.buildImage('v7', { tag: 'stable' });
    const second = await deploy(hosts, deployOf('stable-2', moving));
    expect(second.error).toBeUndefined();
    expect(await (await fetch(`http://127.0.0.1:${host.greenPort}/health`)).json()).toMatchObject({ version: 'v7' });
    expect(state(host).colors.green?.image).toMatch(/@sha256:/);
    expect(state(host).colors.green?.image).not.toBe(firstDigest);
  });

  it('an engine that is down: a clear error before anything changes, and the other host keeps serving', async () => {
    await ct.engines[1]!.stop();
    const result = await deploy(hosts, deployOf('v2', image.v2!));
    expect(result.ok).toBe(false);
    expect(result.error).toContain('the Docker engine does not answer');
    const served = await sendTraffic({ url: ct.lab.hosts[0]!.proxyUrl, maxRequests: 100, concurrency: 4 });
    expect(served.non2xx + served.failed).toBe(0);
  });
});
