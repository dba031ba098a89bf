import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLab, waitForPort, type Lab, type LabHost } from './lab/index';
import { runAction } from './lab/run-action';

/**
 * Adoption in the order a team does it: set-up with `app` defines the app's split variable before
 * any deploy (a placeholder include, root's, that answers 502), so the server block can name it at
 * once and the doctor passes; the first deploy then replaces the placeholder and serves. Without
 * it, nginx would refuse a server block naming a variable no file defines, and the pipeline's first
 * staging smoke test could not pass. A real unprivileged user, real sudo, each lab host with its
 * own /usr/local/sbin and /etc/sudoers.d so that the default helper path is used.
 */

const user = `alfirst${process.pid % 100000}`;
let lab: Lab;
let host: LabHost;

const sh = (command: string, args: string[]) =>
  execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const nginxArgs = () => ['-p', `${host.nginxPrefix}/`, '-c', 'conf/nginx.conf'];
const variable = () => `$agent_loop_${lab.app.replaceAll('-', '_')}`;
const errors = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('::error::'))
    .join('\n')
    .replaceAll('%0A', '\n');
const common = () => ({ 'ssh-private-key': lab.clientKey, 'ssh-known-hosts': lab.knownHosts, app: lab.app });
const deployHosts = () =>
  [
    `- host: ${host.target}`,
    `  blue-port: ${host.bluePort}`,
    `  green-port: ${host.greenPort}`,
    `  nginx-status-port: ${host.statusPort}`,
    `  state-dir: ${host.stateDir}`,
    `  nginx-conf-dir: ${host.nginxConfDir}`,
    '  nginx-command: sudo -n /usr/local/sbin/agent-loop-nginx',
    `  access-log: ${host.accessLog}`,
  ].join('\n');
const setup = () =>
  runAction({
    action: 'host-setup',
    inputs: {
      ...common(),
      phase: 'setup',
      'deploy-user': user,
      hosts: [
        `- host: ${host.rootTarget}`,
        `  state-dir: ${host.stateDir}`,
        `  nginx-conf-dir: ${host.nginxConfDir}`,
        `  nginx-command: nginx ${nginxArgs().join(' ')}`,
        `  access-log: ${host.accessLog}`,
      ].join('\n'),
    },
  });

async function get(): Promise<{ status: number; version: string | null }> {
  const response = await fetch(`${host.proxyUrl}/`);
  await response.arrayBuffer();
  return { status: response.status, version: response.headers.get('x-version') };
}

beforeAll(async () => {
  sh('useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh', user]);
  sh('usermod', ['-p', '*', user]);
  lab = await startLab({ hosts: 1, loginUser: user, app: 'web-app', ownSystemDirs: true });
  host = lab.hosts[0]!;
}, 120_000);

afterAll(async () => {
  await lab?.stop();
  try {
    sh('userdel', [user]);
  } catch {
    // Already gone.
  }
});

it('defines the split variable at set-up: the server block names it before the first deploy, which then serves', async () => {
  const first = await setup();
  expect(errors(first.stdout)).toBe('');
  const include = join(host.nginxConfDir, `agent-loop-${lab.app}.conf`);
  expect(first.stdout).toContain(`changed: wrote ${include}`);
  expect(readFileSync(include, 'utf8')).toContain(`map $host ${variable()} {`);
  expect(sh('stat', ['-c', '%U %a', include]).trim()).toBe('root 644');

  // The team's server block, as the README gives it, loads now: nginx knows the variable.
  writeFileSync(
    join(host.nginxPrefix, 'sites', `${lab.app}.conf`),
    [
      'server {',
      `  listen 127.0.0.1:${host.proxyPort};`,
      '  location / {',
      `    proxy_pass http://${variable()};`,
      `    access_log ${host.accessLog} agent_loop;`,
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  sh('nginx', [...nginxArgs(), '-t']);
  sh('nginx', [...nginxArgs(), '-s', 'reload']);
  await waitForPort(host.proxyPort, 5000, () => 'nginx after the reload');
  expect((await get()).status).toBe(502);

  const doctor = await runAction({
    action: 'host-setup',
    inputs: { ...common(), phase: 'doctor', hosts: deployHosts() },
  });
  expect(errors(doctor.stdout)).toBe('');
  expect(doctor.outputs.missing).toBe('0');

  // A second set-up leaves the include alone (a deploy's split is never overwritten by it).
  const again = await setup();
  expect(again.stdout).toContain(`ok: ${include} defines the split variable of ${lab.app}`);

  const deployed = await runAction({
    action: 'blue-green',
    inputs: {
      ...common(),
      hosts: deployHosts(),
      phase: 'deploy',
      image: 'registry.example/app:v1',
      version: 'v1',
      runtime: 'command',
      'start-command': lab.startCommand,
      'stop-command': lab.stopCommand,
      'health-timeout-seconds': '20',
      'min-free-disk-mb': '1',
      'min-free-memory-mb': '1',
    },
  });
  expect(errors(deployed.stdout)).toBe('');
  expect(await get()).toEqual({ status: 200, version: 'v1' });
  expect(readFileSync(include, 'utf8')).not.toContain('127.0.0.1:9;');
  const again2 = await setup();
  expect(again2.stdout).toContain(`ok: ${include} defines the split variable of ${lab.app}`);
  expect(await get()).toEqual({ status: 200, version: 'v1' });
}, 120_000);
