// The maintenance workflow's package upgrade, one host at a time, against lab hosts: each host gets
// a package the test builds with dpkg-deb (installed with dpkg into that host's own folders), then
// nginx -t and the live color's health check must pass before the next host is touched.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, rollingUpgrade, script, type HostSpec, type UpgradeSettings } from '@agent-loop/shared';
import { startLab, type Lab, type LabHost } from './lab/index';
import { startTraffic } from './lab/traffic';
import { deploySettings, labHosts, sessionSettings } from './support/deploy-settings';

let lab: Lab;
let hosts: HostSpec[];

/** A .deb that drops `conf.d/zz-agent-loop-extra.conf` (with `conf`) into the nginx prefix it is installed in. */
function buildDeb(version: string, conf: string, variant = 'main'): string {
  const root = path.join(lab.dir, `deb-${version}-${variant}`);
  fs.mkdirSync(path.join(root, 'DEBIAN'), { recursive: true });
  fs.mkdirSync(path.join(root, 'conf.d'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'DEBIAN', 'control'),
    `Package: agent-loop-lab-extra\nVersion: ${version}\nArchitecture: all\nMaintainer: lab <lab@localhost>\nDescription: nginx snippet shipped as a package\n`,
  );
  fs.writeFileSync(path.join(root, 'conf.d', 'zz-agent-loop-extra.conf'), conf);
  const deb = path.join(lab.dir, `agent-loop-lab-extra_${version}_${variant}.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', root, deb], { stdio: 'ignore' });
  return deb;
}

/** Each host has its own dpkg database (its HOME/dpkg) and installs into its own nginx prefix. */
function prepareHost(host: LabHost, deb: string): void {
  const admin = path.join(host.dir, 'dpkg');
  for (const sub of ['info', 'updates', 'triggers']) fs.mkdirSync(path.join(admin, sub), { recursive: true });
  for (const file of ['status', 'available'])
    if (!fs.existsSync(path.join(admin, file))) fs.writeFileSync(path.join(admin, file), '');
  fs.copyFileSync(deb, path.join(host.dir, 'pending.deb'));
}

function installed(host: LabHost): string {
  try {
    return execFileSync(
      'dpkg-query',
      [`--admindir=${path.join(host.dir, 'dpkg')}`, '--showformat=${Version}', '--show', 'agent-loop-lab-extra'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
  } catch {
    return 'not installed';
  }
}

// What each host runs: the same command on every host, as the workflow would pass it.
const upgradeCommand = script(
  'lab-upgrade',
  'dpkg --admindir="$HOME/dpkg" --instdir="$HOME/nginx" -i "$HOME/pending.deb"',
  [],
);
const settings = (): UpgradeSettings => ({
  ...sessionSettings(lab),
  upgradeCommand,
  healthPaths: ['/health'],
  healthTimeoutSeconds: 5,
  commandTimeoutSeconds: 60,
});

beforeAll(async () => {
  lab = await startLab({ hosts: 3 });
  hosts = labHosts(lab);
  const first = await deploy(hosts, deploySettings(lab, 'v1'));
  expect(first.error).toBeUndefined();
  await lab.enableSite();
}, 120_000);

afterAll(async () => {
  await lab?.stop();
});

describe('rolling package upgrade', () => {
  it('upgrades every host in order while the fleet serves, checking nginx and the live color after each', async () => {
    const good = buildDeb('1.1', '# a valid snippet\nmap $http_x_probe $agent_loop_probe { default 0; }\n');
    for (const host of lab.hosts) prepareHost(host, good);
    const traffic = lab.hosts.map((host) =>
      startTraffic({ url: host.proxyUrl, durationMs: 30_000, concurrency: 2, ratePerSecond: 50 }),
    );
    const result = await rollingUpgrade(hosts, settings());
    const served = await Promise.all(traffic.map((run) => run.stop()));
    expect(result.error).toBeUndefined();
    expect(result.hosts.map((host) => host.outcome)).toEqual(['upgraded', 'upgraded', 'upgraded']);
    for (const host of lab.hosts) expect(installed(host)).toBe('1.1');
    for (const run of served) expect(run.non2xx + run.failed).toBe(0);
  });

  it('stops at the first host that fails, names it, and leaves the hosts after it untouched', async () => {
    const good = buildDeb('1.2', '# still valid\n');
    const bad = buildDeb('1.2', 'this_is_not_a_directive on;\n', 'broken');
    const [h1, h2, h3] = lab.hosts as [LabHost, LabHost, LabHost];
    prepareHost(h1, good);
    prepareHost(h2, bad);
    prepareHost(h3, good);
    const result = await rollingUpgrade(hosts, settings());
    expect(result.ok).toBe(false);
    expect(result.failedHost).toBe(result.hosts[1]!.host);
    expect(result.hosts.map((host) => host.outcome)).toEqual(['upgraded', 'failed', 'not started']);
    expect(result.error).toContain('after the upgrade, nginx -t fails');
    // Where, not what: nginx's message quotes the file, which the deploy user may not be allowed to read.
    expect(result.error).toMatch(/invalid at \/\S+\/zz-agent-loop-extra\.conf:1/);
    expect(result.error).not.toContain('this_is_not_a_directive');
    expect(result.error).toContain(`stopped at ${result.hosts[1]!.host}; not touched: ${result.hosts[2]!.host}`);
    expect([installed(h1), installed(h2), installed(h3)]).toEqual(['1.2', '1.2', '1.1']);
    // The failed host's nginx still serves with the configuration it had loaded.
    const answer = await fetch(`${h2.proxyUrl}/health`);
    expect(answer.status).toBe(200);
  });

  it('a live color that no longer answers after the upgrade stops the run at that host', async () => {
    const [h1] = lab.hosts as [LabHost];
    fs.rmSync(path.join(h1.nginxPrefix, 'conf.d', 'zz-agent-loop-extra.conf'), { force: true });
    prepareHost(h1, buildDeb('1.3', '# fine\n'));
    await lab.setKnobs('v1', { healthStatus: 503 });
    try {
      const result = await rollingUpgrade(hosts, settings());
      expect(result.failedHost).toBe(result.hosts[0]!.host);
      expect(result.error).toContain('the live color blue does not answer its health check');
      expect(result.hosts.map((host) => host.outcome)).toEqual(['failed', 'not started', 'not started']);
    } finally {
      await lab.setKnobs('v1', {});
    }
  });
});
