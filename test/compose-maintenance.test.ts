// The maintenance prune against a real engine with both colors present: it removes what is unused,
// and never the containers, networks or images of a color that serves or that a rollback needs.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// Real engines and image pulls on a shared 2-core machine: a phase can take a minute under load.
vi.setConfig({ testTimeout: 240_000 });
import {
  closeSessions,
  composeRuntime,
  deploy,
  openSessions,
  promote,
  pruneHost,
  rollback,
  type HostSpec,
  type PruneResult,
} from '@agent-loop/shared';
import { onHost, startContainerLab, type ContainerLab } from './lab/containers';
import type { LabHost } from './lab/index';
import { runAction } from './lab/run-action';
import { sendTraffic } from './lab/traffic';
import {
  deploySettings,
  labHosts,
  promoteSettings,
  rollbackSettings,
  sessionSettings,
} from './support/deploy-settings';

let ct: ContainerLab;
let host: LabHost;
let hosts: HostSpec[];
const image: Record<string, string> = {};

const docker = async (args: string[]): Promise<string> => (await ct.engines[0]!.docker(args)).stdout.trim();

beforeAll(async () => {
  ct = await startContainerLab({ hosts: 1 });
  host = ct.lab.hosts[0]!;
  hosts = labHosts(ct.lab);
  for (const version of ['v1', 'v2', 'v3']) image[version] = await ct.buildImage(version);
}, 240_000);

afterAll(async () => {
  await ct?.stop();
}, 120_000);

describe('prune on a host with both colors', () => {
  it('keeps the serving color and the stopped previous color (container, network, image), removes the rest', async () => {
    const runtime = composeRuntime(ct.composeFile, { waitTimeoutSeconds: 20 });
    expect((await deploy(hosts, deploySettings(ct.lab, 'v1', { runtime, image: image.v1! }))).error).toBeUndefined();
    await ct.lab.enableSite();
    expect((await deploy(hosts, deploySettings(ct.lab, 'v2', { runtime, image: image.v2! }))).error).toBeUndefined();
    expect((await promote(hosts, promoteSettings(ct.lab, 'v2', { runtime }))).error).toBeUndefined();
    // The previous color is stopped (exited), the new one serves.
    expect(
      await docker([
        'inspect',
        '--format',
        '{{.State.Status}}',
        `${ct.lab.app}-blue-app-1`,
        `${ct.lab.app}-green-app-1`,
      ]),
    ).toBe('exited\nrunning');

    // What a prune should remove: a stopped container of another project, an unused image and network.
    await onHost(
      ct.lab,
      host,
      `docker pull -q ${image.v3} && docker create --name scratch-job ${image.v3} && docker network create leftover-net && docker pull -q ${ct.imageRef('v1')}`,
    );
    await onHost(ct.lab, host, `docker tag ${image.v3} old-tool:1 && docker image rm ${image.v3}`);

    const sessions = await openSessions(hosts, sessionSettings(ct.lab), {
      runId: 'prune',
      actor: 'vitest',
      version: '(maintenance)',
      phase: 'prune',
      time: new Date().toISOString(),
    });
    let result: PruneResult;
    try {
      result = await pruneHost(sessions[0]!, { untilHours: 0, allImages: true }, 120_000);
    } finally {
      await closeSessions(sessions);
    }
    expect(result).toMatchObject({ containers: 1, networks: 1 });
    expect(result.images).toBeGreaterThanOrEqual(1);
    expect(result.kept).toEqual(
      expect.arrayContaining([`kept container /${ct.lab.app}-blue-app-1 (${ct.lab.app}-blue)`]),
    );

    const names = await docker(['ps', '--all', '--format', '{{.Names}}']);
    expect(names.split('\n').sort()).toEqual([`${ct.lab.app}-blue-app-1`, `${ct.lab.app}-green-app-1`]);
    const networks = await docker(['network', 'ls', '--format', '{{.Name}}']);
    expect(networks).toContain(`${ct.lab.app}-blue_default`);
    expect(networks).not.toContain('leftover-net');
    const images = await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(images).not.toContain('old-tool:1');
    expect(images).toContain(`${ct.registry.address}/${ct.lab.app}:v1`);

    // The rollback the prune must not have broken: the stopped color starts again and takes traffic.
    const back = await rollback(hosts, rollbackSettings(ct.lab, { kind: 'previous' }, { runtime }));
    expect(back.error).toBeUndefined();
    const served = await sendTraffic({ url: host.proxyUrl, maxRequests: 50, concurrency: 4 });
    expect(served.byVersion).toEqual({ v1: 50 });
  });
});

describe('maintenance bundle', () => {
  it('prunes and upgrades as GitHub runs it, and refuses a run with nothing to do before connecting', async () => {
    const base = {
      hosts: ct.lab.hostsInput,
      'ssh-private-key': ct.lab.clientKey,
      'ssh-known-hosts': ct.lab.knownHosts,
      app: ct.lab.app,
      'prune-until-hours': '0',
      'prune-all-images': 'true',
    };
    const idle = await runAction({ action: 'maintenance', inputs: { ...base, prune: 'false', upgrade: 'false' } });
    expect(idle.code).toBe(1);
    expect(idle.stdout).toContain(
      "::error::Input 'prune': is false and so are upgrade and rotate-logs: there is nothing to do",
    );

    await onHost(ct.lab, host, `docker create --name stale-job ${image.v2}`);
    const result = await runAction({
      action: 'maintenance',
      inputs: { ...base, upgrade: 'true', 'upgrade-command': 'echo upgraded "$HOME" > "$HOME/upgraded.txt"' },
      timeoutMs: 120_000,
    });
    expect(result.stdout.split('\n').filter((line) => line.startsWith('::error'))).toEqual([]);
    expect(result.outputs).toMatchObject({ ok: 'true', 'failed-host': '' });
    const report = JSON.parse(result.outputs.report!) as {
      prune: Array<{ ok: boolean; result: { containers: number } }>;
      upgrade: { hosts: Array<{ outcome: string }> };
    };
    expect(report.prune[0]).toMatchObject({ ok: true, result: { containers: 1 } });
    expect(report.upgrade.hosts).toEqual([expect.objectContaining({ outcome: 'upgraded' })]);
    expect(fs.readFileSync(path.join(host.dir, 'upgraded.txt'), 'utf8')).toBe(`upgraded ${host.dir}\n`);
    expect(await docker(['ps', '--all', '--format', '{{.Names}}'])).not.toContain('stale-job');
    expect(result.summary).toContain('package upgrade');
  });
});
