import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab, type LabHost } from './lab/index';
import { runAction } from './lab/run-action';
import { sendTraffic, startTraffic } from './lab/traffic';
import { blueGreenLabInputs, labActionInputs } from './support/deploy-settings';

/**
 * The actions behind HAProxy (issue 20), as GitHub runs their bundles, with `router: haproxy` on a
 * lab whose hosts each run a real HAProxy (Debian's 2.6) next to nginx: every host's traffic moves
 * through HAProxy's admin socket, HAProxy's configuration and nginx's include are never written,
 * and the same write-ahead record, status, rollback, monitor and doctor serve it.
 */

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'bin', 'agent-loop');

let lab: Lab;

const haproxyOf = (host: LabHost) => host.haproxy!;

/** The weights HAProxy serves on a host, read on its admin socket. */
async function weights(host: LabHost): Promise<{ blue: number; green: number }> {
  const answer = await haproxyOf(host).cli(
    `get weight ${haproxyOf(host).backend}/blue; get weight ${haproxyOf(host).backend}/green`,
  );
  const [blue, green] = answer
    .split('\n')
    .filter((line) => /^\d+ \(initial/.test(line))
    .map((line) => Number(line.split(' ')[0]));
  return { blue: blue ?? -1, green: green ?? -1 };
}

const everyHost = (): Promise<Array<{ blue: number; green: number }>> => Promise.all(lab.hosts.map(weights));
const configHashes = (): string[] =>
  lab.hosts.map((host) =>
    createHash('sha256')
      .update(readFileSync(join(host.dir, 'haproxy', 'haproxy.cfg')))
      .digest('hex'),
  );
const nginxIncludes = (): string[][] =>
  lab.hosts.map((host) => readdirSync(host.nginxConfDir).filter((file) => file.startsWith('agent-loop-')));

function inputs(overrides: Record<string, string> = {}): Record<string, string> {
  return blueGreenLabInputs(lab, { router: 'haproxy', ...overrides });
}

beforeAll(async () => {
  lab = await startLab({ hosts: 2, router: 'haproxy' });
});

afterAll(async () => {
  await lab?.stop();
});

describe('router: haproxy, refused before any host', () => {
  it('refuses a router no registry entry has, listing the registered ones, and contacts no host', async () => {
    const result = await runAction({
      action: 'blue-green',
      inputs: inputs({ router: 'envoy', image: 'registry.example/agent-loop:v1', version: 'v1' }),
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("::error::Input 'router': expected one of nginx, haproxy, got 'envoy'");
    const missingBackend = await runAction({
      action: 'blue-green',
      inputs: inputs({ image: 'registry.example/agent-loop:v1', version: 'v1', hosts: lab.hosts[0]!.target }),
    });
    expect(missingBackend.stdout).toContain(
      `::error::Input 'hosts': ${lab.hosts[0]!.target}: router haproxy needs the host's haproxy-socket ` +
        "(HAProxy's admin socket) and haproxy-backend (the backend of the app's blue and green servers)",
    );
    expect(lab.hosts.map((host) => readdirSync(host.stateDir))).toEqual([[], []]);
    expect(await everyHost()).toEqual([
      { blue: 0, green: 0 },
      { blue: 0, green: 0 },
    ]);
  });
});

describe('router: haproxy, the blue-green, rollback and canary-monitor bundles', () => {
  let configs: string[];
  beforeAll(() => {
    configs = configHashes();
  });

  it('deploys, sends a canary share through HAProxy, reads the status, promotes; HAProxy is reached only on its socket', async () => {
    const first = await runAction({
      action: 'blue-green',
      inputs: inputs({ image: 'registry.example/agent-loop:v1', version: 'v1' }),
    });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.outputs).toMatchObject({ 'active-color': 'blue', version: 'v1', 'canary-percent': '100' });
    expect(first.stdout).toMatch(/preflight.*haproxy ready/);
    expect(await everyHost()).toEqual([
      { blue: 100, green: 0 },
      { blue: 100, green: 0 },
    ]);
    expect((await sendTraffic({ url: haproxyOf(lab.hosts[0]!).url, maxRequests: 100 })).byVersion).toEqual({ v1: 100 });

    const canary = await runAction({
      action: 'blue-green',
      inputs: inputs({ image: 'registry.example/agent-loop:v2', version: 'v2', 'canary-percent': '25' }),
    });
    expect(canary.code).toBe(0);
    expect(canary.outputs).toMatchObject({
      'active-color': 'green',
      'previous-color': 'blue',
      version: 'v2',
      'canary-percent': '25',
    });
    const report = JSON.parse(canary.outputs.report!) as Array<{ outcome: string; weightsAfter: unknown }>;
    expect(report.map((host) => [host.outcome, host.weightsAfter])).toEqual([
      ['success', { blue: 75, green: 25 }],
      ['success', { blue: 75, green: 25 }],
    ]);
    expect(await everyHost()).toEqual([
      { blue: 75, green: 25 },
      { blue: 75, green: 25 },
    ]);
    // balance roundrobin: a quarter of the requests, whatever client sends them.
    const split = await sendTraffic({ url: haproxyOf(lab.hosts[1]!).url, maxRequests: 400, concurrency: 4 });
    expect(split.byVersion.v2).toBeGreaterThanOrEqual(90);
    expect(split.byVersion.v2).toBeLessThanOrEqual(110);
    // The router's own record beside the state: the weights and the generation HAProxy does not keep.
    for (const host of lab.hosts)
      expect(readFileSync(join(host.stateDir, lab.app, 'haproxy.weights'), 'utf8')).toContain(
        '"weights":{"blue":75,"green":25}',
      );

    const {
      runtime: _runtime,
      'start-command': _start,
      'stop-command': _stop,
      ...readOnly
    } = inputs({ phase: 'status' });
    const status = await runAction({ action: 'blue-green', inputs: readOnly });
    expect(status.code).toBe(0);
    const hosts = JSON.parse(status.outputs.status!) as Array<{
      served: unknown;
      file: unknown;
      canary: { version: string; percent: number };
    }>;
    expect(hosts.map((host) => [host.served, host.file, host.canary.version, host.canary.percent])).toEqual([
      [{ blue: 75, green: 25 }, { blue: 75, green: 25 }, 'v2', 25],
      [{ blue: 75, green: 25 }, { blue: 75, green: 25 }, 'v2', 25],
    ]);

    const promoted = await runAction({ action: 'blue-green', inputs: inputs({ phase: 'promote', version: 'v2' }) });
    expect(promoted.code).toBe(0);
    expect(await everyHost()).toEqual([
      { blue: 0, green: 100 },
      { blue: 0, green: 100 },
    ]);
    expect((await sendTraffic({ url: haproxyOf(lab.hosts[0]!).url, maxRequests: 100 })).byVersion).toEqual({ v2: 100 });

    // Never HAProxy's configuration, never nginx's include: only the admin socket.
    expect(configHashes()).toEqual(configs);
    expect(nginxIncludes()).toEqual([[], []]);
  });

  it('the command line reads the same status through HAProxy', async () => {
    const knownHosts = join(lab.dir, 'operator_known_hosts');
    writeFileSync(knownHosts, lab.knownHosts);
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      AGENT_LOOP_HOSTS: lab.hostsInput,
      AGENT_LOOP_APP: lab.app,
      AGENT_LOOP_SSH_PRIVATE_KEY_FILE: lab.clientKeyPath,
      AGENT_LOOP_SSH_KNOWN_HOSTS_FILE: knownHosts,
    };
    const { stdout } = await run(cli, ['status', '--router', 'haproxy'], { env, timeout: 60_000 });
    expect(stdout).toContain(`${lab.hosts[0]!.target}: serves blue 0% / green 100%; blue v1 stopped, green v2 running`);
    const refused = await run(cli, ['status', '--router', 'envoy'], { env, timeout: 60_000 }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((refused as { code: number }).code).toBe(2);
    expect((refused as { stderr: string }).stderr).toContain(
      "agent-loop: Input 'router': expected one of nginx, haproxy, got 'envoy'",
    );
  });

  it('rolls back to the previous version through HAProxy (rollback bundle, method nginx: on the hosts)', async () => {
    const result = await runAction({
      action: 'rollback',
      inputs: { ...labActionInputs(lab), router: 'haproxy', reason: 'haproxy test' },
    });
    expect(result.code).toBe(0);
    expect(result.outputs).toMatchObject({ 'rolled-back': 'true', version: 'v1' });
    expect(await everyHost()).toEqual([
      { blue: 100, green: 0 },
      { blue: 100, green: 0 },
    ]);
    expect((await sendTraffic({ url: haproxyOf(lab.hosts[1]!).url, maxRequests: 100 })).byVersion).toEqual({ v1: 100 });
  });

  it('a socket that refuses the weight command fails the switch, and every host goes back to its previous weights', async () => {
    await lab.setKnobs('v3', { errorRate: 0.5 });
    const canary = await runAction({
      action: 'blue-green',
      inputs: inputs({
        image: 'registry.example/agent-loop:v3',
        version: 'v3',
        'canary-percent': '10',
        'smoke-requests': '[]',
      }),
    });
    expect(canary.code).toBe(0);
    expect(await everyHost()).toEqual([
      { blue: 90, green: 10 },
      { blue: 90, green: 10 },
    ]);
    // The second host's socket is one at level operator: HAProxy answers `Permission denied` to the weight command.
    const second = lab.hosts[1]!;
    const refusing = lab.hostsInput.replace(
      `haproxy-socket: ${haproxyOf(second).socket}`,
      `haproxy-socket: ${haproxyOf(second).operatorSocket}`,
    );
    expect(refusing).not.toBe(lab.hostsInput);
    const promoted = await runAction({
      action: 'blue-green',
      inputs: inputs({ phase: 'promote', version: 'v3', hosts: refusing }),
    });
    expect(promoted.code).toBe(1);
    expect(promoted.stdout).toMatch(
      new RegExp(
        `::error::.*${second.target.replace(/[.[\]]/g, '\\$&')}.*HAProxy refused the weight command: HAProxy answered 'Permission denied'`,
      ),
    );
    // Both hosts serve the canary share again: the first was moved, then put back.
    expect(await everyHost()).toEqual([
      { blue: 90, green: 10 },
      { blue: 90, green: 10 },
    ]);
    const state = JSON.parse(readFileSync(join(lab.hosts[0]!.stateDir, lab.app, 'state.json'), 'utf8')) as {
      canary: { version: string; percent: number } | null;
      pending: unknown;
    };
    expect(state.canary).toMatchObject({ version: 'v3', percent: 10 });
    expect(state.pending).toBeNull();
  });

  it("the canary monitor judges the canary from HAProxy's log (haproxy-log) and rolls it back through HAProxy", async () => {
    const traffic = lab.hosts.map((host) =>
      startTraffic({ url: haproxyOf(host).url, concurrency: 4, durationMs: 60_000, ratePerSecond: 60 }),
    );
    const result = await runAction({
      action: 'canary-monitor',
      inputs: {
        ...labActionInputs(lab),
        router: 'haproxy',
        sources: 'haproxy-log,host',
        duration: '60',
        interval: '1',
        memory: 'none',
      },
      timeoutMs: 120_000,
    });
    await Promise.all(traffic.map((one) => one.stop()));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/::error::canary failure: error-rate.* — rolled back to v1/);
    expect(result.outputs).toMatchObject({ verdict: 'failure', 'rolled-back': 'true', 'canary-version': 'v3' });
    expect(Number(result.outputs['detect-seconds'])).toBeLessThan(40);
    expect(await everyHost()).toEqual([
      { blue: 100, green: 0 },
      { blue: 100, green: 0 },
    ]);
    // nginx-log would read the wrong log behind HAProxy: refused when the inputs are read.
    const wrong = await runAction({ action: 'canary-monitor', inputs: { ...labActionInputs(lab), router: 'haproxy' } });
    expect(wrong.stdout).toContain(
      "::error::Input 'sources': lists nginx-log, which reads nginx's access log, but router is haproxy: list haproxy-log instead",
    );
    expect(configHashes()).toEqual(configs);
    expect(nginxIncludes()).toEqual([[], []]);
  });

  it('host-setup: the doctor with router haproxy checks the socket and the backend, not nginx', async () => {
    const result = await runAction({
      action: 'host-setup',
      inputs: {
        phase: 'doctor',
        router: 'haproxy',
        app: lab.app,
        hosts: lab.hostsInput,
        'ssh-private-key': lab.clientKey,
        'ssh-known-hosts': lab.knownHosts,
        'access-log': 'none',
      },
    });
    expect(result.stdout.split('\n').filter((line) => line.startsWith('::error::'))).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.outputs.missing).toBe('0');
    const wrongBackend = await runAction({
      action: 'host-setup',
      inputs: {
        phase: 'doctor',
        router: 'haproxy',
        app: lab.app,
        hosts: lab.hostsInput.replace(/haproxy-backend: \S+/g, 'haproxy-backend: other_app'),
        'ssh-private-key': lab.clientKey,
        'ssh-known-hosts': lab.knownHosts,
        'access-log': 'none',
      },
    });
    expect(wrongBackend.code).toBe(1);
    expect(wrongBackend.stdout).toContain('HAProxy has no backend other_app (haproxy-backend)');
    expect(existsSync(join(lab.hosts[0]!.nginxConfDir, `agent-loop-${lab.app}.conf`))).toBe(false);
  });
});
