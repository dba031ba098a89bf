import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sudoersRule } from '@agent-loop/shared';
import { startLab, type Lab, type LabHost } from './lab/index';
import { runAction } from './lab/run-action';
import { sendTraffic } from './lab/traffic';

/**
 * A real unprivileged deploy user, created here with useradd, on lab hosts whose sshd lets it log
 * in: before set-up the doctor lists what is missing with the fixes, and a deploy fails with the
 * same list; the host-setup bundle (logged in as the host's administrator) prepares the hosts and
 * changes nothing the second time; then the deploy user deploys, promotes and rolls back with the
 * real bundles, with no root login, and sudo lets it run nothing but nginx -t and reload.
 */

const user = `aldeploy${process.pid % 100000}`;
// The lab's hosts share this machine's /etc: each gets its own drop-in (on real hosts, one name serves all).
const sudoersFile = (host: LabHost) => `/etc/sudoers.d/agent-loop-test-${process.pid}-${host.name}`;
let lab: Lab;
let uid: number;

const sh = (command: string, args: string[]) => execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
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

const sudoNginx = (host: LabHost) => ['sudo', '-n', '/usr/sbin/nginx', ...nginxArgs(host)].join(' ');
const common = () => ({ 'ssh-private-key': lab.clientKey, 'ssh-known-hosts': lab.knownHosts });
const deployInputs = (extra: Record<string, string>) => ({
  ...common(),
  hosts: hostsInput((host) => host.target, sudoNginx),
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
  hosts: [`- host: ${host.rootTarget}`, `  state-dir: ${host.stateDir}`, `  nginx-conf-dir: ${host.nginxConfDir}`, `  nginx-command: nginx ${nginxArgs(host).join(' ')}`, `  access-log: ${host.accessLog}`].join('\n'),
  'deploy-user': user,
  'sudoers-file': sudoersFile(host),
  ...extra,
});
const setupAll = async () => Promise.all(lab.hosts.map((host) => runAction({ action: 'host-setup', inputs: setupInputs(host) })));
const doctorInputs = (nginxCommand: (host: LabHost) => string) => ({ ...common(), phase: 'doctor', hosts: hostsInput((host) => host.target, nginxCommand) });
const errors = (stdout: string) => stdout.split('\n').filter((line) => line.startsWith('::error::')).join('\n').replaceAll('%0A', '\n');

beforeAll(async () => {
  // A locked account (useradd's default '!') may not log in with UsePAM no: '*' has no password and is not locked.
  sh('useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh', user]);
  sh('usermod', ['-p', '*', user]);
  uid = Number(sh('id', ['-u', user]).trim());
  lab = await startLab({ hosts: 2, loginUser: user });
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  for (const host of lab?.hosts ?? []) rmSync(sudoersFile(host), { force: true });
  try {
    sh('userdel', [user]);
  } catch {
    // Already gone.
  }
});

describe('before set-up', () => {
  it('the doctor, run as the deploy user, lists every missing prerequisite on every host with the command that fixes it', async () => {
    const result = await runAction({ action: 'host-setup', inputs: doctorInputs((host) => `nginx ${nginxArgs(host).join(' ')}`) });
    expect(result.code).toBe(1);
    const message = errors(result.stdout);
    for (const host of lab.hosts) {
      expect(message).toContain(`${host.target}: 3 prerequisites missing (run the host-setup action once, or these commands):`);
      expect(message).toContain(`  - ${user} cannot write the state directory ${host.stateDir} (state-dir)\n    fix: sudo install -d -o ${user} -g ${user} -m 0750 ${host.stateDir}`);
      expect(message).toContain(`  - ${user} cannot write the nginx include directory ${host.nginxConfDir} (nginx-conf-dir)\n    fix: sudo chown ${user} ${host.nginxConfDir}`);
      expect(message).toContain(`  - 'nginx' is not on ${user}'s PATH (a non-root PATH on Debian has no /usr/sbin)\n    fix: set nginx-command: sudo -n /usr/sbin/nginx ${nginxArgs(host).join(' ')} (and run host-setup for the sudoers rule)`);
    }
    expect(result.outputs.missing).toBe('6');
    expect(result.summary).toContain('| host | missing | fix |');
  });

  it('with the full nginx path, sudo is what is missing, and the fix is the exact rule', async () => {
    const result = await runAction({ action: 'host-setup', inputs: doctorInputs(sudoNginx) });
    expect(result.code).toBe(1);
    const message = errors(result.stdout);
    const host = lab.hosts[0]!;
    const base = ['/usr/sbin/nginx', ...nginxArgs(host)].join(' ');
    expect(message).toContain(`  - ${user} cannot run '/usr/sbin/nginx ${nginxArgs(host).join(' ')} -t': sudo: a password is required`);
    expect(message).toContain(`fix: run host-setup with deploy-user ${user}, or: echo '${user} ALL=(root) NOPASSWD: ${base} -t, ${base} -s reload' | sudo tee /etc/sudoers.d/agent-loop`);
  });

  it('a deploy fails before changing anything, with the same list instead of a bare Permission denied', async () => {
    const result = await runAction({ action: 'blue-green', inputs: deployInputs({ phase: 'deploy', image: 'registry.example/app:v0', version: 'v0' }) });
    expect(result.code).toBe(1);
    const message = errors(result.stdout);
    expect(message).toContain(`prerequisites missing (run the host-setup action once, or these commands):`);
    // Locks are taken one host at a time in one order: the first host in that order is the one that stops the run.
    expect(lab.hosts.some((host) => message.includes(`fix: sudo install -d -o ${user} -g ${user} -m 0750 ${host.stateDir}`))).toBe(true);
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
      expect(result.outputs['nginx-command']).toBe(sudoNginx(host));
      expect(result.outputs.missing).toBe('0');
      // The state directory, the include directory and the sudoers rule.
      expect(result.outputs.changed).toBe('3');
      expect(result.stdout).toContain(`${host.rootTarget}: changed: state directory ${host.stateDir} now belongs to ${user}`);
      expect(result.stdout).toContain(`${host.rootTarget}: changed: nginx include directory ${host.nginxConfDir} now belongs to ${user}`);
      expect(result.stdout).toContain(`${host.rootTarget}: changed: installed ${sudoersFile(host)} (checked with visudo -c)`);
      expect(result.stdout).toContain(`${host.rootTarget}: ok: ${user} can read`);
      expect(result.stdout).toContain(`${host.rootTarget}: ok: nginx knows the agent_loop log format`);
      expect(result.stdout).toContain(`${host.rootTarget}: ok: nginx includes ${host.nginxConfDir}`);
      expect(statSync(host.stateDir).uid).toBe(uid);
      expect(statSync(host.nginxConfDir).uid).toBe(uid);
      expect(readFileSync(sudoersFile(host), 'utf8')).toBe(sudoersRule(user, '/usr/sbin/nginx', nginxArgs(host)));
      expect(statSync(sudoersFile(host)).mode & 0o777).toBe(0o440);
      expect(() => sh('visudo', ['-c', '-f', sudoersFile(host)])).not.toThrow();
      expect(result.summary).toContain(`Deploy with \`nginx-command: ${sudoNginx(host)}\``);
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
    const result = await runAction({ action: 'host-setup', inputs: doctorInputs(sudoNginx) });
    expect(errors(result.stdout)).toBe('');
    expect(result.outputs.missing).toBe('0');
  });

  it('sudo lets the deploy user check and reload nginx, and nothing else', () => {
    const host = lab.hosts[0]!;
    const asUser = (...argv: string[]) => execFileSync('runuser', ['-u', user, '--', 'sudo', '-n', ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(() => asUser('/usr/sbin/nginx', ...nginxArgs(host), '-t')).not.toThrow();
    expect(() => asUser('/usr/sbin/nginx', ...nginxArgs(host), '-s', 'stop')).toThrow(/a password is required/);
    expect(() => asUser('/usr/sbin/nginx', '-t')).toThrow(/a password is required/);
    expect(() => asUser('/usr/bin/id')).toThrow(/a password is required/);
  });

  it('refuses to run as a login that is neither root nor a password-less sudoer, changing nothing', async () => {
    const host = lab.hosts[0]!;
    const result = await runAction({ action: 'host-setup', inputs: { ...setupInputs(host), hosts: host.target } });
    expect(result.code).toBe(1);
    expect(errors(result.stdout)).toContain(`${user} is not root and cannot run sudo without a password: run host-setup with a sudo-capable login`);
  });
});

describe('the deploy user, with no root login', () => {
  it('deploys, promotes and rolls back with the real bundles', async () => {
    const v1 = await runAction({ action: 'blue-green', inputs: deployInputs({ phase: 'deploy', image: 'registry.example/app:v1', version: 'v1' }) });
    expect(errors(v1.stdout)).toBe('');
    await lab.enableSite();
    const v2 = await runAction({ action: 'blue-green', inputs: deployInputs({ phase: 'deploy', image: 'registry.example/app:v2', version: 'v2', 'canary-percent': '10' }) });
    expect(errors(v2.stdout)).toBe('');
    const promoted = await runAction({ action: 'blue-green', inputs: deployInputs({ phase: 'promote', version: 'v2', 'drain-seconds': '0' }) });
    expect(errors(promoted.stdout)).toBe('');
    for (const host of lab.hosts) expect((await sendTraffic({ url: host.proxyUrl, maxRequests: 50 })).byVersion).toEqual({ v2: 50 });

    const { 'min-free-disk-mb': _disk, 'min-free-memory-mb': _memory, ...rollbackInputs } = deployInputs({});
    const rolledBack = await runAction({ action: 'rollback', inputs: { ...rollbackInputs, method: 'nginx', reason: 'test' } });
    expect(errors(rolledBack.stdout)).toBe('');
    expect(rolledBack.outputs).toMatchObject({ 'rolled-back': 'true', version: 'v1' });
    for (const host of lab.hosts) expect((await sendTraffic({ url: host.proxyUrl, maxRequests: 50 })).byVersion).toEqual({ v1: 50 });

    // Everything on the hosts was done as the deploy user: its state, its include, its processes.
    for (const host of lab.hosts) {
      expect(statSync(join(host.stateDir, lab.app, 'state.json')).uid).toBe(uid);
      expect(statSync(join(host.nginxConfDir, `agent-loop-${lab.app}.conf`)).uid).toBe(uid);
    }
    const pids = Object.values(await lab.appPids());
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
  }, 180_000);
});

describe('the sudoers rule', () => {
  it('escapes what sudoers reads as syntax, so visudo -c accepts it; unescaped it is refused', () => {
    const file = join(tmpdir(), `sudoers-check-${process.pid}`);
    try {
      writeFileSync(file, sudoersRule('deploy', '/usr/sbin/nginx', ['-c', '/etc/nginx/a,b:c=d\\e.conf']));
      expect(() => sh('visudo', ['-c', '-f', file])).not.toThrow();
      expect(readFileSync(file, 'utf8')).toContain('/usr/sbin/nginx -c /etc/nginx/a\\,b\\:c\\=d\\\\e.conf -t, /usr/sbin/nginx -c /etc/nginx/a\\,b\\:c\\=d\\\\e.conf -s reload');
      writeFileSync(file, 'deploy ALL=(root) NOPASSWD: /usr/sbin/nginx -g a,b:c= -t\n');
      expect(() => sh('visudo', ['-c', '-f', file])).toThrow();
    } finally {
      rmSync(file, { force: true });
    }
    expect(() => sudoersRule('Deploy; rm', '/usr/sbin/nginx', [])).toThrow(/not a user name/);
    expect(() => sudoersRule('deploy', 'nginx', [])).toThrow(/absolute path/);
    expect(() => sudoersRule('deploy', '/usr/sbin/nginx', ['-g', 'daemon off;'])).toThrow(/cannot be matched by a sudoers rule/);
    expect(existsSync(file)).toBe(false);
  });
});
