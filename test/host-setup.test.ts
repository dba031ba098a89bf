import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sudoersRule } from '@agent-loop/shared/hosts';
import { startLab, type Lab, type LabHost } from './lab/index';
import { runAction } from './lab/run-action';
import { sendTraffic } from './lab/traffic';

/**
 * A real unprivileged deploy user, created here with useradd, on lab hosts whose sshd lets it log
 * in: before set-up the doctor lists what is missing with the fixes, and a deploy fails with the
 * same list; the host-setup bundle (logged in as the host's administrator) prepares the hosts and
 * changes nothing the second time; then the deploy user deploys, promotes and rolls back with the
 * real bundles, with no root login, and sudo lets it run nothing but the switch helper. Then it
 * tries, as a stolen deploy key would, to become root (test/least-privilege.test.ts has the rest).
 */

const user = `aldeploy${process.pid % 100000}`;
// The lab's hosts share this machine's /etc and /usr/local/sbin: each gets its own drop-in and its
// own helper (on real hosts, one name serves all).
const sudoersFile = (host: LabHost) => `/etc/sudoers.d/agent-loop-test-${process.pid}-${host.name}`;
const helperPath = (host: LabHost) => `/usr/local/sbin/agent-loop-nginx-test-${process.pid}-${host.name}`;
let lab: Lab;
let uid: number;

const sh = (command: string, args: string[]) =>
  execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const nginxArgs = (host: LabHost) => ['-p', `${host.nginxPrefix}/`, '-c', 'conf/nginx.conf'];

/** The hosts as the deploy actions see them, logged in as `login`, with this nginx command. */
function hostsInput(login: (host: LabHost) => string, nginxCommand: (host: LabHost) => string): string {
  return lab.hosts
    .map((host) =>
      [
        `- host: ${login(host)}`,
        `  blue-port: ${host.bluePort}`,
        `  green-port: ${host.greenPort}`,
        `  nginx-status-port: ${host.statusPort}`,
        `  state-dir: ${host.stateDir}`,
        `  nginx-conf-dir: ${host.nginxConfDir}`,
        `  nginx-command: ${nginxCommand(host)}`,
        `  access-log: ${host.accessLog}`,
      ].join('\n'),
    )
    .join('\n');
}

const sudoHelper = (host: LabHost) => `sudo -n ${helperPath(host)}`;
const common = () => ({ 'ssh-private-key': lab.clientKey, 'ssh-known-hosts': lab.knownHosts });
const deployInputs = (extra: Record<string, string>) => ({
  ...common(),
  hosts: hostsInput((host) => host.target, sudoHelper),
  app: lab.app,
  runtime: 'command',
  'start-command': lab.startCommand,
  'stop-command': lab.stopCommand,
  'split-key': '$request_id',
  'health-timeout-seconds': '20',
  'min-free-disk-mb': '1',
  'min-free-memory-mb': '1',
  ...extra,
});
const setupInputs = (host: LabHost, extra: Record<string, string> = {}) => ({
  ...common(),
  phase: 'setup',
  hosts: [
    `- host: ${host.rootTarget}`,
    `  state-dir: ${host.stateDir}`,
    `  nginx-conf-dir: ${host.nginxConfDir}`,
    `  nginx-command: nginx ${nginxArgs(host).join(' ')}`,
    `  access-log: ${host.accessLog}`,
  ].join('\n'),
  'deploy-user': user,
  'sudoers-file': sudoersFile(host),
  'switch-helper': helperPath(host),
  ...extra,
});
const setupAll = async () =>
  Promise.all(lab.hosts.map((host) => runAction({ action: 'host-setup', inputs: setupInputs(host) })));
const doctorInputs = (nginxCommand: (host: LabHost) => string) => ({
  ...common(),
  phase: 'doctor',
  hosts: hostsInput((host) => host.target, nginxCommand),
});
const errors = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('::error::'))
    .join('\n')
    .replaceAll('%0A', '\n');

beforeAll(async () => {
  // A locked account (useradd's default '!') may not log in with UsePAM no: '*' has no password and is not locked.
  sh('useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh', user]);
  sh('usermod', ['-p', '*', user]);
  uid = Number(sh('id', ['-u', user]).trim());
  lab = await startLab({ hosts: 2, loginUser: user });
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  for (const host of lab?.hosts ?? [])
    for (const file of [sudoersFile(host), helperPath(host)]) rmSync(file, { force: true });
  try {
    sh('userdel', [user]);
  } catch {
    // Already gone.
  }
});

describe('before set-up', () => {
  it('the doctor, run as the deploy user, lists every missing prerequisite on every host with the command that fixes it', async () => {
    const result = await runAction({
      action: 'host-setup',
      inputs: doctorInputs((host) => `nginx ${nginxArgs(host).join(' ')}`),
    });
    expect(result.code).toBe(1);
    const message = errors(result.stdout);
    for (const host of lab.hosts) {
      expect(message).toContain(
        `${host.target}: 2 prerequisites missing (run the host-setup action once, or these commands):`,
      );
      expect(message).toContain(
        `  - ${user} cannot write the state directory ${host.stateDir} (state-dir)\n    fix: sudo install -d -o ${user} -g ${user} -m 0750 ${host.stateDir}`,
      );
      expect(message).toContain(
        `  - 'nginx' is not on ${user}'s PATH (a non-root PATH on Debian has no /usr/sbin)\n` +
          `    fix: run host-setup with deploy-user ${user}, then set nginx-command: sudo -n /usr/local/sbin/agent-loop-nginx`,
      );
    }
    expect(result.outputs.missing).toBe('4');
    expect(result.summary).toContain('| host | missing | fix |');
  });

  it('with the helper named, what is missing is the helper, and the fix is host-setup', async () => {
    const result = await runAction({ action: 'host-setup', inputs: doctorInputs(sudoHelper) });
    expect(result.code).toBe(1);
    const message = errors(result.stdout);
    const host = lab.hosts[0]!;
    expect(message).toContain(
      `  - the nginx helper ${helperPath(host)} is not installed\n` +
        `    fix: run host-setup with deploy-user ${user} (it installs ${helperPath(host)} and the sudoers rule for it)`,
    );
  });

  it('refuses nginx itself through sudo for a user that is not root: it would have to write what nginx loads as root', async () => {
    const result = await runAction({
      action: 'host-setup',
      inputs: doctorInputs((host) => `sudo -n /usr/sbin/nginx ${nginxArgs(host).join(' ')}`),
    });
    expect(result.code).toBe(1);
    expect(errors(result.stdout)).toContain(
      `nginx-command runs nginx itself through sudo: ${user} would then write nginx's include directory ` +
        `${lab.hosts[0]!.nginxConfDir}, which nginx loads as root, and could become root`,
    );
  });

  it('a deploy fails before changing anything, with the same list instead of a bare Permission denied', async () => {
    const result = await runAction({
      action: 'blue-green',
      inputs: deployInputs({ phase: 'deploy', image: 'registry.example/app:v0', version: 'v0' }),
    });
    expect(result.code).toBe(1);
    const message = errors(result.stdout);
    expect(message).toContain(`prerequisites missing (run the host-setup action once, or these commands):`);
    // Locks are taken one host at a time in one order: the first host in that order is the one that stops the run.
    expect(
      lab.hosts.some((host) => message.includes(`fix: sudo install -d -o ${user} -g ${user} -m 0750 ${host.stateDir}`)),
    ).toBe(true);
    expect(Object.keys(await lab.appPids())).toEqual([]);
  });
});

describe('host-setup as the administrator', () => {
  it('prepares every host and reports each change, and the nginx-command for the deploys', async () => {
    const results = await setupAll();
    for (const [index, result] of results.entries()) {
      const host = lab.hosts[index]!;
      expect(errors(result.stdout)).toBe('');
      expect(result.code).toBe(0);
      expect(result.outputs['nginx-command']).toBe(sudoHelper(host));
      expect(result.outputs.missing).toBe('0');
      expect(result.stdout).toContain(
        `${host.rootTarget}: changed: state directory ${host.stateDir} now belongs to ${user}`,
      );
      expect(result.stdout).toContain(
        `${host.rootTarget}: ok: nginx include directory ${host.nginxConfDir} is root's: ${user} cannot write it`,
      );
      expect(result.stdout).toContain(`${host.rootTarget}: changed: installed the switch helper ${helperPath(host)}`);
      expect(result.stdout).toContain(
        `${host.rootTarget}: changed: installed ${sudoersFile(host)} (checked with visudo -c): ${user} may run ${helperPath(host)} as root, nothing else`,
      );
      expect(result.stdout).toContain(
        `${host.rootTarget}: changed: ${user} may read ${host.accessLog} (an ACL on that file alone; no group)`,
      );
      expect(result.stdout).toContain(`${host.rootTarget}: ok: nginx knows the agent_loop log format`);
      expect(result.stdout).toContain(`${host.rootTarget}: ok: nginx includes ${host.nginxConfDir}`);
      expect(statSync(host.stateDir).uid).toBe(uid);
      expect(statSync(host.nginxConfDir).uid).toBe(0);
      expect(statSync(helperPath(host)).uid).toBe(0);
      expect(statSync(helperPath(host)).mode & 0o777).toBe(0o755);
      expect(readFileSync(sudoersFile(host), 'utf8')).toBe(sudoersRule(user, helperPath(host)));
      expect(statSync(sudoersFile(host)).mode & 0o777).toBe(0o440);
      expect(() => sh('visudo', ['-c', '-f', sudoersFile(host)])).not.toThrow();
      // Read access to the one file, by an ACL: the user joined no group.
      expect(sh('getfacl', ['-p', '--omit-header', host.accessLog])).toContain(`user:${user}:r--`);
      expect(sh('id', ['-nG', user]).trim()).toBe(sh('id', ['-gn', user]).trim());
      expect(result.summary).toContain(`Deploy with \`nginx-command: ${sudoHelper(host)}\``);
    }
  });

  it('changes nothing the second time', async () => {
    for (const result of await setupAll()) {
      expect(result.code).toBe(0);
      expect(result.outputs.changed).toBe('0');
      expect(result.stdout).not.toContain(': changed: ');
    }
  });

  it('the doctor finds nothing missing', async () => {
    const result = await runAction({ action: 'host-setup', inputs: doctorInputs(sudoHelper) });
    expect(errors(result.stdout)).toBe('');
    expect(result.outputs.missing).toBe('0');
  });

  it('sudo lets the deploy user run the switch helper, and nothing else: not nginx, not another program', () => {
    const host = lab.hosts[0]!;
    const asUser = (...argv: string[]) =>
      execFileSync('runuser', ['-u', user, '--', 'sudo', '-n', ...argv], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    expect(asUser(helperPath(host), 'check').trim()).toBe(`valid include=${host.nginxConfDir}`);
    expect(() => asUser('/usr/sbin/nginx', ...nginxArgs(host), '-t')).toThrow(/a password is required/);
    expect(() => asUser('/usr/sbin/nginx', ...nginxArgs(host), '-s', 'reload')).toThrow(/a password is required/);
    expect(() => asUser('/usr/bin/id')).toThrow(/a password is required/);
  });

  it('refuses to run as a login that is neither root nor a password-less sudoer, changing nothing', async () => {
    const host = lab.hosts[0]!;
    const result = await runAction({ action: 'host-setup', inputs: { ...setupInputs(host), hosts: host.target } });
    expect(result.code).toBe(1);
    expect(errors(result.stdout)).toContain(
      `${user} is not root and cannot run sudo without a password: run host-setup with a sudo-capable login`,
    );
  });
});

describe('the deploy user, with no root login', () => {
  it('deploys, promotes and rolls back with the real bundles', async () => {
    const v1 = await runAction({
      action: 'blue-green',
      inputs: deployInputs({ phase: 'deploy', image: 'registry.example/app:v1', version: 'v1' }),
    });
    expect(errors(v1.stdout)).toBe('');
    await lab.enableSite();
    const v2 = await runAction({
      action: 'blue-green',
      inputs: deployInputs({
        phase: 'deploy',
        image: 'registry.example/app:v2',
        version: 'v2',
        'canary-percent': '10',
      }),
    });
    expect(errors(v2.stdout)).toBe('');
    const promoted = await runAction({
      action: 'blue-green',
      inputs: deployInputs({ phase: 'promote', version: 'v2', 'drain-seconds': '0' }),
    });
    expect(errors(promoted.stdout)).toBe('');
    for (const host of lab.hosts)
      expect((await sendTraffic({ url: host.proxyUrl, maxRequests: 50 })).byVersion).toEqual({ v2: 50 });

    const { 'min-free-disk-mb': _disk, 'min-free-memory-mb': _memory, ...rollbackInputs } = deployInputs({});
    const rolledBack = await runAction({
      action: 'rollback',
      inputs: { ...rollbackInputs, method: 'nginx', reason: 'test' },
    });
    expect(errors(rolledBack.stdout)).toBe('');
    expect(rolledBack.outputs).toMatchObject({ 'rolled-back': 'true', version: 'v1' });
    for (const host of lab.hosts)
      expect((await sendTraffic({ url: host.proxyUrl, maxRequests: 50 })).byVersion).toEqual({ v1: 50 });

    // The deploy user's state and processes are its own; the include was written by the helper, as root.
    for (const host of lab.hosts) {
      expect(statSync(join(host.stateDir, lab.app, 'state.json')).uid).toBe(uid);
      expect(statSync(join(host.nginxConfDir, `agent-loop-${lab.app}.conf`)).uid).toBe(0);
    }
    const pids = Object.values(await lab.appPids());
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids)
      expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
  }, 180_000);
});

describe('the sudoers rule', () => {
  it('names the helper alone, as visudo -c accepts it, and refuses what sudoers would read as syntax', () => {
    const file = join(tmpdir(), `sudoers-check-${process.pid}`);
    try {
      writeFileSync(file, sudoersRule('deploy', '/usr/local/sbin/agent-loop-nginx'));
      expect(() => sh('visudo', ['-c', '-f', file])).not.toThrow();
      expect(readFileSync(file, 'utf8')).toContain('\ndeploy ALL=(root) NOPASSWD: /usr/local/sbin/agent-loop-nginx\n');
    } finally {
      rmSync(file, { force: true });
    }
    expect(() => sudoersRule('Deploy; rm', '/usr/local/sbin/agent-loop-nginx')).toThrow(/not a user name/);
    expect(() => sudoersRule('deploy', 'agent-loop-nginx')).toThrow(/absolute path/);
    for (const path of ['/usr/local/sbin/agent loop', '/opt/a,b/agent-loop-nginx', '/opt/x:ALL/agent-loop-nginx'])
      expect(() => sudoersRule('deploy', path)).toThrow(/absolute path/);
    expect(existsSync(file)).toBe(false);
  });
});
