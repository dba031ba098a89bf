import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab, type LabHost } from './lab/index';
import { runAction } from './lab/run-action';

/**
 * The two lines the README asks for in the app's server block (`proxy_pass http://$agent_loop_<app>;`
 * and `access_log <log> agent_loop;`), checked on a real host by a real unprivileged deploy user
 * that cannot read the file they are in: the server block is root's, mode 0600, and the doctor
 * (host-setup phase doctor) sees it through the switch helper's `inspect` verb (nginx -T as root,
 * told as facts). A missing line is listed with the exact line to add; a deploy warns when the
 * proxy line is missing, since its canary would then get no request.
 */

const user = `alblock${process.pid % 100000}`;
const sudoersFile = (host: LabHost) => `/etc/sudoers.d/agent-loop-block-${process.pid}-${host.name}`;
const helperPath = (host: LabHost) => `/usr/local/sbin/agent-loop-nginx-block-${process.pid}-${host.name}`;
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
const warnings = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('::warning'))
    .join('\n');

const hosts = (login: string) =>
  [
    `- host: ${login}`,
    `  blue-port: ${host.bluePort}`,
    `  green-port: ${host.greenPort}`,
    `  nginx-status-port: ${host.statusPort}`,
    `  state-dir: ${host.stateDir}`,
    `  nginx-conf-dir: ${host.nginxConfDir}`,
    `  nginx-command: sudo -n ${helperPath(host)}`,
    `  access-log: ${host.accessLog}`,
  ].join('\n');
const common = () => ({ 'ssh-private-key': lab.clientKey, 'ssh-known-hosts': lab.knownHosts });
const doctor = () =>
  runAction({
    action: 'host-setup',
    inputs: { ...common(), phase: 'doctor', app: lab.app, hosts: hosts(host.target) },
  });
const deploy = (version: string) =>
  runAction({
    action: 'blue-green',
    inputs: {
      ...common(),
      hosts: hosts(host.target),
      app: lab.app,
      phase: 'deploy',
      image: `registry.example/app:${version}`,
      version,
      runtime: 'command',
      'start-command': lab.startCommand,
      'stop-command': lab.stopCommand,
      'health-timeout-seconds': '20',
      'min-free-disk-mb': '1',
      'min-free-memory-mb': '1',
      'canary-percent': '10',
    },
  });

/** The app's server block, root's and unreadable by the deploy user, with the lines asked for; nginx reloaded. */
function serverBlock(lines: string[]): void {
  const file = join(host.nginxPrefix, 'sites', `${lab.app}.conf`);
  writeFileSync(
    file,
    [
      'server {',
      `  listen 127.0.0.1:${host.proxyPort};`,
      '  location / {',
      ...lines.map((line) => `    ${line}`),
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  chmodSync(file, 0o600);
  sh('nginx', [...nginxArgs(), '-t']);
  sh('nginx', [...nginxArgs(), '-s', 'reload']);
}

beforeAll(async () => {
  sh('useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh', user]);
  sh('usermod', ['-p', '*', user]);
  lab = await startLab({ hosts: 1, loginUser: user, app: 'web-app' });
  host = lab.hosts[0]!;
  const setup = await runAction({
    action: 'host-setup',
    inputs: {
      ...common(),
      phase: 'setup',
      hosts: [
        `- host: ${host.rootTarget}`,
        `  state-dir: ${host.stateDir}`,
        `  nginx-conf-dir: ${host.nginxConfDir}`,
        `  nginx-command: nginx ${nginxArgs().join(' ')}`,
        `  access-log: ${host.accessLog}`,
      ].join('\n'),
      'deploy-user': user,
      'sudoers-file': sudoersFile(host),
      'switch-helper': helperPath(host),
    },
  });
  expect(errors(setup.stdout)).toBe('');
  // The first deploy writes the include that defines the split variable.
  const first = await deploy('v1');
  expect(errors(first.stdout)).toBe('');
}, 120_000);

afterAll(async () => {
  await lab?.stop();
  for (const file of lab ? [sudoersFile(host), helperPath(host)] : []) rmSync(file, { force: true });
  try {
    sh('userdel', [user]);
  } catch {
    // Already gone.
  }
});

describe("the doctor checks the app's server block from nginx's own view of it", () => {
  it('lists both lines, each with the exact line to add, when the server block has neither', async () => {
    serverBlock(['return 200;']);
    const result = await doctor();
    expect(result.code).toBe(1);
    const message = errors(result.stdout);
    expect(message).toContain(
      `  - no server block proxies to ${variable()}: requests for ${lab.app} never reach its colors, and a deploy's canary gets none\n    fix: add 'proxy_pass http://${variable()};' to the location of the server block that serves ${lab.app}`,
    );
    expect(message).toContain(
      `  - no server block writes ${host.accessLog} in the agent_loop format: ` +
        'the canary monitor reading it (access-log) sees no request\n' +
        `    fix: add 'access_log ${host.accessLog} agent_loop;' next to that proxy_pass, then reload nginx`,
    );
    expect(result.outputs.missing).toBe('2');
    // The deploy user cannot read the file the doctor judged, and nothing of it is printed.
    expect(() => sh('runuser', ['-u', user, '--', 'cat', join(host.nginxPrefix, 'sites', `${lab.app}.conf`)])).toThrow(
      /Permission denied/,
    );
    expect(result.stdout).not.toContain('return 200');
  });

  it('without the proxy line: lists it alone; a deploy warns that its canary gets no request', async () => {
    serverBlock([`access_log ${host.accessLog} agent_loop;`, 'return 200;']);
    const result = await doctor();
    expect(result.code).toBe(1);
    const message = errors(result.stdout);
    expect(message).toContain(`fix: add 'proxy_pass http://${variable()};'`);
    expect(message).not.toContain('agent_loop format');
    expect(result.outputs.missing).toBe('1');

    const deployed = await deploy('v2');
    expect(errors(deployed.stdout)).toBe('');
    expect(warnings(deployed.stdout)).toContain(
      `no server block of nginx proxies to ${variable()}: no request reaches ${lab.app}'s colors, so the new color gets none; add 'proxy_pass http://${variable()};'`,
    );
  }, 60_000);

  it('with both lines: clean, and a deploy does not warn', async () => {
    serverBlock([
      `proxy_pass http://${variable()};`,
      'proxy_http_version 1.1;',
      'proxy_set_header Connection "";',
      `access_log ${host.accessLog} agent_loop;`,
    ]);
    const result = await doctor();
    expect(errors(result.stdout)).toBe('');
    expect(result.code).toBe(0);
    expect(result.outputs.missing).toBe('0');

    const deployed = await deploy('v3');
    expect(errors(deployed.stdout)).toBe('');
    expect(warnings(deployed.stdout)).not.toContain('no server block');
  }, 60_000);

  it('a proxy_pass only in a comment, or to another app whose name starts the same, does not count', async () => {
    serverBlock([
      `# proxy_pass http://${variable()};`,
      `access_log ${host.accessLog} agent_loop;`,
      `set ${variable()}_x 127.0.0.1:1;`,
      `proxy_pass http://${variable()}_x;`,
    ]);
    const result = await doctor();
    expect(errors(result.stdout)).toContain(`no server block proxies to ${variable()}`);
  });
});
