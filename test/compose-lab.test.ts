// The container lab itself: real engines, a real registry (open and behind htpasswd), real images
// with a real HEALTHCHECK, reached over the lab's sshd with DOCKER_HOST; and a clean stop.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// Real engines and image pulls on a shared 2-core machine: a phase can take a minute under load.
vi.setConfig({ testTimeout: 240_000 });
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startContainerLab, leftovers, type ContainerLab } from './lab/containers';
import type { LabHost } from './lab/index';

const execFileP = promisify(execFile);
let ct: ContainerLab;
let v1: string;

function ssh(host: LabHost, command: string): Promise<{ stdout: string; stderr: string }> {
  const known = path.join(ct.lab.dir, 'known_hosts');
  fs.writeFileSync(known, ct.lab.knownHosts + '\n');
  return execFileP(
    'ssh',
    [
      '-i',
      ct.lab.clientKeyPath,
      '-o',
      `UserKnownHostsFile=${known}`,
      '-o',
      'BatchMode=yes',
      '-o',
      'IdentitiesOnly=yes',
      '-p',
      String(host.sshPort),
      'root@127.0.0.1',
      command,
    ],
    { timeout: 120_000 },
  );
}

beforeAll(async () => {
  ct = await startContainerLab({ hosts: 2, authRegistry: true });
  v1 = await ct.buildImage('v1');
}, 180_000);

afterAll(async () => {
  await ct?.stop();
}, 120_000);

describe('container lab', () => {
  it('gives each host its own engine through DOCKER_HOST over ssh', async () => {
    const [h1, h2] = ct.lab.hosts as [LabHost, LabHost];
    const one = await ssh(h1, 'printf %s "$DOCKER_HOST"; docker info --format " {{.DockerRootDir}}"');
    const two = await ssh(h2, 'printf %s "$DOCKER_HOST"; docker info --format " {{.DockerRootDir}}"');
    expect(one.stdout.trim()).toBe(`${ct.engines[0]!.host} ${path.join(ct.engines[0]!.dir, 'data')}`);
    expect(two.stdout.trim()).toBe(`${ct.engines[1]!.host} ${path.join(ct.engines[1]!.dir, 'data')}`);
    expect((await ssh(h1, 'docker compose version --short')).stdout).toMatch(/^v?2\./);
  });

  it('pulls a pushed image on a host and runs it healthy behind its published port', async () => {
    const h1 = ct.lab.hosts[0]!;
    await ssh(h1, `docker pull -q ${v1}`);
    const env = `AGENT_LOOP_APP=${ct.lab.app} AGENT_LOOP_COLOR=blue AGENT_LOOP_PORT=${h1.bluePort} AGENT_LOOP_IMAGE=${v1} AGENT_LOOP_VERSION=v1`;
    await ssh(h1, `env ${env} docker compose -p lab-check -f ${ct.composeFile} up --detach --wait --wait-timeout 30`);
    const health = await (await fetch(`http://127.0.0.1:${h1.bluePort}/health`)).json();
    expect(health).toEqual({ status: 'ok', version: 'v1', color: 'blue' });
    const status = await ct.engines[0]!.docker(['inspect', '--format', '{{.State.Health.Status}}', 'lab-check-app-1']);
    expect(status.stdout.trim()).toBe('healthy');
    // The knobs reach the app inside its container.
    await ct.lab.setKnobs('v1', { healthStatus: 503 });
    await expect
      .poll(async () => (await fetch(`http://127.0.0.1:${h1.bluePort}/health`)).status, { timeout: 5000 })
      .toBe(503);
    await ct.lab.setKnobs('v1', {});
    const stop = await ssh(h1, `env ${env} docker compose -p lab-check -f ${ct.composeFile} down`);
    expect(stop.stderr).toMatch(/Removed|Stopped/);
  });

  it('has a registry that refuses a pull without login and serves one after docker login', async () => {
    const h2 = ct.lab.hosts[1]!;
    const ref = await ct.buildImage('v1', { registry: 'auth' });
    await expect(ssh(h2, `docker pull -q ${ref}`)).rejects.toThrow(
      /no basic auth credentials|unauthorized|authentication required/,
    );
    const registry = ct.authRegistry!;
    await ssh(
      h2,
      `printf %s '${registry.password}' | docker login --username ${registry.user} --password-stdin ${registry.address}`,
    );
    const pulled = await ssh(h2, `docker pull -q ${ref}`);
    expect(pulled.stdout.trim()).toBe(ref);
    // The login lands in that host's own HOME, not in the machine's.
    expect(fs.readFileSync(path.join(h2.dir, '.docker', 'config.json'), 'utf8')).toContain(registry.address);
  });
});

describe('container lab stop', () => {
  it('leaves no engine, registry, mount or folder behind', async () => {
    const dir = path.dirname(ct.engines[0]!.dir);
    const pids = [...ct.engines.map((engine) => engine.pid), ct.builder.pid, ct.registry.pid, ct.authRegistry!.pid];
    // This lab's own bridges (one made here, so there is at least one): other labs running at the
    // same time in other test files have bridges of their own, which are theirs to remove.
    await ct.engines[0]!.docker(['network', 'create', 'al-stop-check']);
    const bridges: string[] = [];
    for (const engine of ct.engines) {
      const ids = (await engine.docker(['network', 'ls', '--quiet', '--filter', 'driver=bridge'])).stdout
        .split('\n')
        .filter(Boolean);
      bridges.push(...ids.map((id) => `br-${id.slice(0, 12)}`));
    }
    const before = (await execFileP('ip', ['-o', 'link'])).stdout;
    expect(bridges.filter((bridge) => before.includes(`${bridge}:`)).length).toBeGreaterThan(0);
    await ct.stop();
    expect(leftovers(dir, pids)).toEqual({ mounts: [], pids: [] });
    expect(fs.existsSync(dir)).toBe(false);
    const links = (await execFileP('ip', ['-o', 'link'])).stdout;
    expect(bridges.filter((bridge) => links.includes(`${bridge}:`))).toEqual([]);
  });
});
