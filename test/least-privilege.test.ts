import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAccessLines } from '@agent-loop/shared/analysis/sources';
import { helperFile } from '@agent-loop/shared/traffic';
import { setupHost } from '@agent-loop/shared/hosts';
import { localRemote } from '../packages/shared/test/support/local-remote';
import { startLab, type Lab, type LabHost } from './lab/index';
import { runAction } from './lab/run-action';

/**
 * A stolen deploy key, tried for real: a user made here with useradd, logged in over the lab's
 * sshd to a host prepared by the host-setup bundle, with the real sudo and nginx. It tries what a
 * security review found on the old set-up (an nginx include it could write, loaded by nginx's root
 * master), and each attempt must leave it unprivileged. Then set-up itself is re-run over the
 * traps such a user could have left, and it must not be led to write through them.
 */

const user = `alkey${process.pid % 100000}`;
const sudoersFile = (host: LabHost) => `/etc/sudoers.d/agent-loop-lp-${process.pid}-${host.name}`;
const helperPath = (host: LabHost) => `/usr/local/sbin/agent-loop-nginx-lp-${process.pid}-${host.name}`;
const logrotateFile = `/etc/logrotate.d/agent-loop-lp-${process.pid}`;
let lab: Lab;
let host: LabHost;
let uid: number;

const nginxArgs = () => ['-p', `${host.nginxPrefix}/`, '-c', 'conf/nginx.conf'];
/** Runs a command as the deploy user (as its SSH session would), returning what it printed and its exit code. */
function asUser(argv: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const result = spawnSync('runuser', ['-u', user, '--', ...argv], { encoding: 'utf8', input, timeout: 30_000 });
  return { code: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}
const root = (command: string, args: string[]) =>
  execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const setupInputs = (extra: Record<string, string> = {}) => ({
  'ssh-private-key': lab.clientKey,
  'ssh-known-hosts': lab.knownHosts,
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
  ...extra,
});
const setup = (extra: Record<string, string> = {}) => runAction({ action: 'host-setup', inputs: setupInputs(extra) });
/** The deploy user's inputs for the blue-green action, through the installed helper. */
const deployInputs = (extra: Record<string, string>) => ({
  'ssh-private-key': lab.clientKey,
  'ssh-known-hosts': lab.knownHosts,
  hosts: [
    `- host: ${host.target}`,
    `  blue-port: ${host.bluePort}`,
    `  green-port: ${host.greenPort}`,
    `  nginx-status-port: ${host.statusPort}`,
    `  state-dir: ${host.stateDir}`,
    `  nginx-conf-dir: ${host.nginxConfDir}`,
    `  nginx-command: sudo -n ${helperPath(host)}`,
  ].join('\n'),
  app: lab.app,
  runtime: 'command',
  'start-command': lab.startCommand,
  'stop-command': lab.stopCommand,
  'split-key': '$request_id',
  'min-free-disk-mb': '1',
  'min-free-memory-mb': '1',
  ...extra,
});
/** One raw HTTP/1.1 request, written as a client may write it (no client library to tidy it up). */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1', () => socket.end(text));
    let answer = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer)).on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer in 5 s')));
  });
}
const errors = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('::error::'))
    .join('\n')
    .replaceAll('%0A', '\n');

beforeAll(async () => {
  root('useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh', user]);
  root('usermod', ['-p', '*', user]);
  uid = Number(root('id', ['-u', user]).trim());
  lab = await startLab({ hosts: 1, loginUser: user });
  host = lab.hosts[0]!;
  const result = await setup();
  expect(errors(result.stdout)).toBe('');
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  for (const file of [sudoersFile(host), helperPath(host), logrotateFile]) rmSync(file, { force: true });
  spawnSync('userdel', [user]);
});

describe('the holder of the deploy key', () => {
  it('cannot become root through nginx: it writes no nginx configuration, and sudo runs nothing but the helper', async () => {
    const sudoersBefore = readdirSync('/etc/sudoers.d').sort();
    const planted = join(host.nginxConfDir, 'zz-own.conf');
    // The review's chain: a log format that prints one request header as it is, a server whose
    // access log is a sudoers drop-in, a reload, and one request carrying the rule.
    const target = `/etc/sudoers.d/zz-stolen-${process.pid}`;
    const config = [
      "log_format raw escape=none '$http_x_rule';",
      `server { listen 127.0.0.1:${host.statusPort + 1}; access_log ${target} raw; location / { return 200; } }`,
      '',
    ].join('\n');
    const write = asUser(['sh', '-c', 'cat > "$1"', 'sh', planted], config);
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/Permission denied/);
    expect(existsSync(planted)).toBe(false);
    // Whatever it could reach to make nginx read its file: nginx through sudo, the helper with a path for an app.
    expect(asUser(['sudo', '-n', '/usr/sbin/nginx', ...nginxArgs(), '-s', 'reload']).stderr).toMatch(
      /a password is required/,
    );
    expect(asUser(['sudo', '-n', '/usr/sbin/nginx', ...nginxArgs(), '-t']).stderr).toMatch(/a password is required/);
    const hostile: Array<[string, string[]]> = [
      [
        'an app that is a path',
        ['../../../etc/sudoers.d/x', '8001', '8002', '8099', '$request_id', '90', '10', 'g', '5000', 'ab'],
      ],
      [
        'a split key that closes its string',
        ['app', '8001', '8002', '8099', '$x" $y {} include /tmp/own.conf; #', '90', '10', 'g', '5000', 'ab'],
      ],
      ['a nonce that is a path', ['app', '8001', '8002', '8099', '$request_id', '90', '10', 'g', '5000', '../../x']],
      ['a generation with a quote', ['app', '8001', '8002', '8099', '$request_id', '90', '10', "g';", '5000', 'ab']],
      ['a listen on a privileged port', ['app', '8001', '8002', '25', '$request_id', '90', '10', 'g', '5000', 'ab']],
    ];
    for (const [what, args] of hostile) {
      const refused = asUser(['sudo', '-n', helperPath(host), 'switch', ...args]);
      expect(refused.code, what).toBe(2);
      expect(refused.stderr, what).toMatch(/^refused: /);
    }
    expect(readdirSync(host.nginxConfDir).filter((name) => name !== `00-agent-loop-log-format.conf`)).toEqual([]);
    await fetch(`http://127.0.0.1:${host.statusPort + 1}/`, {
      headers: { 'x-rule': `${user} ALL=(ALL) NOPASSWD: ALL` },
      signal: AbortSignal.timeout(2000),
    }).catch(() => undefined);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync('/etc/sudoers.d').sort()).toEqual(sudoersBefore);
    const id = asUser(['sudo', '-n', 'id', '-u']);
    expect(id.stdout.trim()).not.toBe('0');
    expect(id.stderr).toMatch(/a password is required/);
  });

  it('learns from nginx -t only whether the configuration is valid and where it is not, never the text of a file it cannot read', () => {
    const secret = join(lab.dir, 'root-only.conf');
    writeFileSync(secret, 'topsecret-word-4711 x;\n', { mode: 0o600 });
    const other = join(host.nginxConfDir, 'other-team.conf');
    // Another team's file, as root wrote it, that happens to include a file only root may read.
    writeFileSync(other, `include ${secret};\n`);
    try {
      expect(asUser(['cat', secret]).code).not.toBe(0);
      const checked = asUser(['sudo', '-n', helperPath(host), 'check']);
      expect(checked.code).toBe(20);
      expect(checked.stderr.trim()).toBe(`invalid at ${secret}:1`);
      expect(checked.stdout + checked.stderr).not.toContain('topsecret');
      const switched = asUser([
        'sudo',
        '-n',
        helperPath(host),
        'switch',
        lab.app,
        String(host.bluePort),
        String(host.greenPort),
        String(host.statusPort),
        '$request_id',
        '100',
        '0',
        'g1',
        '2000',
        'ab12',
      ]);
      expect(switched.code).toBe(20);
      expect(switched.stdout + switched.stderr).not.toContain('topsecret');
      expect(existsSync(join(host.nginxConfDir, `agent-loop-${lab.app}.conf`))).toBe(false);
    } finally {
      rmSync(other, { force: true });
    }
    expect(asUser(['sudo', '-n', helperPath(host), 'check']).stdout.trim()).toBe(`valid include=${host.nginxConfDir}`);
  });

  it('reads the access log through an ACL on that file alone, kept when logrotate re-creates it, and joins no group', async () => {
    expect(root('getfacl', ['-p', '--omit-header', host.accessLog])).toContain(`user:${user}:r--`);
    expect(root('id', ['-nG', user]).trim()).toBe(root('id', ['-gn', user]).trim());
    // A rule that re-creates the file with a mode of its own drops the ACL: set-up says so, naming the rule.
    writeFileSync(logrotateFile, `${host.accessLog} {\n  rotate 1\n  create 0640 root root\n}\n`);
    const dropped = await setup();
    expect(dropped.code).toBe(1);
    expect(errors(dropped.stdout)).toContain(
      `${logrotateFile} rotates ${host.accessLog} with 'create MODE OWNER GROUP', which makes the new file without ${user}'s ACL`,
    );
    // A bare `create` copies the ACL: the real logrotate rotates the file, and the user still reads the new one.
    writeFileSync(logrotateFile, `${host.accessLog} {\n  rotate 1\n  create\n}\n`);
    const kept = await setup();
    expect(errors(kept.stdout)).toBe('');
    expect(kept.stdout).toContain(`ok: ${logrotateFile} rotates ${host.accessLog} keeping its ACL`);
    writeFileSync(host.accessLog, 'a line before the rotation\n');
    root('logrotate', ['-f', '-s', join(lab.dir, 'logrotate.state'), logrotateFile]);
    expect(existsSync(`${host.accessLog}.1`)).toBe(true);
    expect(statSync(host.accessLog).size).toBe(0);
    expect(asUser(['cat', host.accessLog]).code).toBe(0);
    expect(asUser(['cat', `${host.accessLog}.1`]).stdout).toBe('a line before the rotation\n');
    rmSync(logrotateFile);
  });

  it('runs the maintenance verbs as they are fixed: no argument to upgrade, logrotate only with a configuration only root may write', () => {
    const helper = helperPath(host);
    const upgrade = asUser(['sudo', '-n', helper, 'upgrade', '-o', 'APT::Update::Pre-Invoke::=id']);
    expect(upgrade.code).toBe(2);
    expect(upgrade.stderr).toMatch(/upgrade takes no arguments/);
    // logrotate runs a configuration's scripts as root: the user's own one is refused, wherever it is.
    const pwned = join(lab.dir, `pwned-${process.pid}`);
    const evil = `/tmp/al-evil-${process.pid}.conf`;
    const ownDir = `/tmp/al-evil-${process.pid}.d`;
    const text = `${join(lab.dir, 'x.log')} {\n  rotate 1\n  postrotate\n    id > ${pwned}\n  endscript\n}\n`;
    expect(asUser(['sh', '-c', 'cat > "$1"', 'sh', evil], text).code).toBe(0);
    expect(asUser(['mkdir', ownDir]).code).toBe(0);
    // Root's file in a folder the user owns: the user could swap it between the check and the run.
    writeFileSync(join(ownDir, 'rules.conf'), text, { mode: 0o644 });
    asUser(['ln', '-s', '/etc/logrotate.conf', join(ownDir, 'link.conf')]);
    try {
      for (const config of [evil, join(ownDir, 'rules.conf'), join(ownDir, 'link.conf')]) {
        const refused = asUser(['sudo', '-n', helper, 'rotate-logs', config]);
        expect(refused.code, config).toBe(40);
        expect(refused.stderr, config).toContain(`refused: ${config} is not a regular file that only root may write`);
      }
      for (const config of ['etc/logrotate.conf', '/etc/../tmp/x.conf', '/etc/logrotate.conf;id'])
        expect(asUser(['sudo', '-n', helper, 'rotate-logs', config]).code, config).toBe(2);
      expect(existsSync(pwned)).toBe(false);
      // Root's own configuration, in root's folders: rotated, as root.
      writeFileSync(logrotateFile, `${host.accessLog} {\n  rotate 1\n  create\n}\n`);
      const rotated = asUser(['sudo', '-n', helper, 'rotate-logs', logrotateFile]);
      expect(rotated.stderr).toBe('');
      expect(rotated.stdout.trim()).toBe(`rotated with ${logrotateFile}`);
    } finally {
      rmSync(evil, { force: true });
      rmSync(ownDir, { recursive: true, force: true });
      rmSync(logrotateFile, { force: true });
    }
  });

  it('is given no file that is not an nginx access log, and is told to leave a group that reads more than the log', async () => {
    // The review's case: access-log /etc/shadow made the old set-up add the user to group shadow.
    const shadowAcl = root('getfacl', ['-p', '--omit-header', '/etc/shadow']);
    const refused = await setup({
      hosts: setupInputs().hosts.replace(`access-log: ${host.accessLog}`, 'access-log: /etc/shadow'),
    });
    expect(refused.code).toBe(1);
    expect(errors(refused.stdout)).toContain(
      'the access log /etc/shadow does not end in .log: host-setup gives read access to an nginx access log only',
    );
    expect(asUser(['cat', '/etc/shadow']).code).not.toBe(0);
    expect(root('getfacl', ['-p', '--omit-header', '/etc/shadow'])).toBe(shadowAcl);
    expect(
      root('id', ['-nG', user])
        .split(' ')
        .map((name) => name.trim()),
    ).not.toContain('shadow');

    // The old set-up's way: the user in the log's group (Debian's adm reads all of /var/log).
    root('groupadd', ['-f', `al${process.pid % 100000}log`]);
    const group = `al${process.pid % 100000}log`;
    root('chgrp', [group, host.accessLog]);
    root('usermod', ['-a', '-G', group, user]);
    try {
      const told = await setup();
      expect(errors(told.stdout)).toContain(
        `${user} is in group ${group}, which reads more than ${host.accessLog}: sudo gpasswd -d ${user} ${group}`,
      );
    } finally {
      root('gpasswd', ['-d', user, group]);
      root('chgrp', ['root', host.accessLog]);
      root('groupdel', [group]);
    }
    expect(errors((await setup()).stdout)).toBe('');
  });
});

describe('a client of the service', () => {
  it('writes the access log only as data: a hostile path and headers forge no line, no color and no error', async () => {
    const deployed = await runAction({
      action: 'blue-green',
      inputs: deployInputs({ phase: 'deploy', image: 'registry.example/app:v1', version: 'v1' }),
    });
    expect(errors(deployed.stdout)).toBe('');
    await lab.enableSite(host);
    const port = Number(new URL(host.proxyUrl).port);
    const offset = statSync(host.accessLog).size;
    const other = `agent_loop_${lab.app.replaceAll('-', '_')}_green`;
    const forged = JSON.stringify({
      time: 1,
      status: 500,
      request_time: 0.1,
      upstream: other,
      upstream_addr: 'x',
      upstream_status: '500',
      upstream_time: '0.1',
      method: 'GET',
      uri: '/',
    });
    const requests = [
      `GET /a%22%7D%0A${encodeURIComponent(forged)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      `GET /b%0D%0A${encodeURIComponent(forged)}%5C HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      `GET /c HTTP/1.1\r\nHost: x\r\nUser-Agent: "}\r\nX-Forwarded-For: ${forged}\r\nReferer: \\"\\u0000\r\nConnection: close\r\n\r\n`,
      `GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    ];
    for (const request of requests) await rawRequest(port, request);
    // nginx writes a line when the request is done: wait for the four.
    let lines: string[] = [];
    for (let waited = 0; waited < 50 && lines.length < requests.length; waited++) {
      lines = readFileSync(host.accessLog)
        .subarray(offset)
        .toString('utf8')
        .split('\n')
        .filter((line) => line !== '');
      if (lines.length < requests.length) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(lines).toHaveLength(requests.length);
    const tally = parseAccessLines(lines, lab.app);
    // Every line is one request of the color that served it: none was split, none names the other color or an error.
    expect(tally.skipped).toBe(0);
    expect(Object.keys(tally.colors)).toEqual(['blue']);
    expect(tally.colors.blue).toMatchObject({ requests: requests.length, errors: 0 });
  }, 60_000);
});

describe('host-setup re-run over what a deploy user could have left', () => {
  it('takes the include directory back, reports the files it does not own, and writes through no planted link', async () => {
    const nginxConf = join(host.nginxPrefix, 'conf', 'nginx.conf');
    const original = readFileSync(nginxConf, 'utf8');
    const victim = join(lab.dir, 'root-only-victim');
    writeFileSync(victim, 'root-only content\n', { mode: 0o600 });
    const format = join(host.nginxConfDir, '00-agent-loop-log-format.conf');
    rmSync(format, { force: true });
    // As the old set-up left it: the include directory the deploy user's, and nginx without the log format.
    chownSync(host.nginxConfDir, uid, uid);
    writeFileSync(
      nginxConf,
      original
        .split('\n')
        .filter((line) => !line.includes('log_format agent_loop'))
        .join('\n'),
    );
    expect(asUser(['ln', '-s', victim, format]).code).toBe(0);
    expect(asUser(['sh', '-c', 'echo "# mine" > "$1"', 'sh', join(host.nginxConfDir, 'mine.conf')]).code).toBe(0);
    try {
      const result = await setup();
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(
        `changed: nginx include directory ${host.nginxConfDir} is root's again: ${user} could write it, and nginx loads it as root`,
      );
      expect(errors(result.stdout)).toContain(
        `${join(host.nginxConfDir, 'mine.conf')} belongs to ${user}, and nginx loads it as root: read it, then make it root's`,
      );
      expect(errors(result.stdout)).toContain(`${format} belongs to ${user}`);
      expect(result.stdout).toContain(`changed: wrote the agent_loop log format to ${format}`);
      // The link was replaced, not followed: the file it pointed to is as it was.
      expect(readFileSync(victim, 'utf8')).toBe('root-only content\n');
      expect(statSync(victim).mode & 0o777).toBe(0o600);
      expect(lstatSync(format).isSymbolicLink()).toBe(false);
      expect(statSync(format).uid).toBe(0);
      expect(statSync(host.nginxConfDir).uid).toBe(0);
      expect(asUser(['sh', '-c', 'echo x > "$1"', 'sh', join(host.nginxConfDir, 'again.conf')]).code).not.toBe(0);
    } finally {
      rmSync(join(host.nginxConfDir, 'mine.conf'), { force: true });
      rmSync(format, { force: true });
      writeFileSync(nginxConf, original);
      chmodSync(host.nginxConfDir, 0o755);
      root('nginx', [...nginxArgs(), '-s', 'reload']);
    }
    const again = await setup();
    expect(errors(again.stdout)).toBe('');
  });
});

// The bundles above run the core as it was last built. These run the core's own texts, as the next
// build installs them: host-setup's script (hosts/hostsetup-script.ts) and the switch helper
// (traffic/nginx-helper.ts), which share one check that only root may change a file (hosts/root-only.ts).
describe('the check that only root may change a file, from the source', () => {
  const sourceHelper = `/usr/local/sbin/agent-loop-nginx-lpsrc-${process.pid}`;
  const sourceSudoers = `/etc/sudoers.d/agent-loop-lpsrc-${process.pid}`;
  /** The source's host-setup, run here as root: its lines as the script prints them (`outcome=what`). */
  const runSetup = async (switchHelper: string, sudoers: string): Promise<string> => {
    const plan = {
      deployUser: user,
      stateDir: host.stateDir,
      includeDir: host.nginxConfDir,
      accessLog: '',
      sudoersFile: sudoers,
      switchHelper,
      nginx: ['nginx', ...nginxArgs()],
    };
    const report = await setupHost(localRemote(), plan, (nginx) =>
      helperFile({ includeDir: host.nginxConfDir, nginx }),
    );
    expect(report.fatal).toBeUndefined();
    return report.items.map((item) => `${item.outcome}=${item.what}`).join('\n');
  };

  it("host-setup's script installs the helper only in folders root alone may write", async () => {
    const ownDir = `/tmp/al-own-${process.pid}.d`;
    expect(asUser(['mkdir', ownDir]).code).toBe(0);
    try {
      const refused = await runSetup(join(ownDir, 'agent-loop-nginx'), `${sourceSudoers}-own`);
      expect(refused).toContain(`todo=could not install the switch helper ${join(ownDir, 'agent-loop-nginx')}: `);
      expect(refused).toContain(`${ownDir}, or a directory above it, may be written by someone other than root`);
      expect(refused).toContain('todo=the sudoers rule was not installed: the switch helper it names is missing');
      expect(existsSync(join(ownDir, 'agent-loop-nginx'))).toBe(false);
      expect(existsSync(`${sourceSudoers}-own`)).toBe(false);
    } finally {
      rmSync(ownDir, { recursive: true, force: true });
    }
  });

  it("the helper's rotate-logs runs logrotate only with a configuration only root may write", async () => {
    try {
      const installed = await runSetup(sourceHelper, sourceSudoers);
      expect(installed).toContain(`changed=installed the switch helper ${sourceHelper}`);
      expect(installed).toContain(`changed=installed ${sourceSudoers} (checked with visudo -c)`);
      const pwned = join(lab.dir, `pwned-src-${process.pid}`);
      const evil = `/tmp/al-evil-src-${process.pid}.conf`;
      const ownDir = `/tmp/al-evil-src-${process.pid}.d`;
      const text = `${join(lab.dir, 'x.log')} {\n  rotate 1\n  postrotate\n    id > ${pwned}\n  endscript\n}\n`;
      expect(asUser(['sh', '-c', 'cat > "$1"', 'sh', evil], text).code).toBe(0);
      expect(asUser(['mkdir', ownDir]).code).toBe(0);
      writeFileSync(join(ownDir, 'rules.conf'), text, { mode: 0o644 });
      asUser(['ln', '-s', '/etc/logrotate.conf', join(ownDir, 'link.conf')]);
      try {
        for (const config of [evil, join(ownDir, 'rules.conf'), join(ownDir, 'link.conf')]) {
          const refused = asUser(['sudo', '-n', sourceHelper, 'rotate-logs', config]);
          expect(refused.code, config).toBe(40);
          expect(refused.stderr, config).toContain(`refused: ${config} is not a regular file that only root may write`);
        }
        expect(existsSync(pwned)).toBe(false);
        writeFileSync(logrotateFile, `${host.accessLog} {\n  rotate 1\n  create\n}\n`);
        const rotated = asUser(['sudo', '-n', sourceHelper, 'rotate-logs', logrotateFile]);
        expect(rotated.stderr).toBe('');
        expect(rotated.stdout.trim()).toBe(`rotated with ${logrotateFile}`);
      } finally {
        rmSync(evil, { force: true });
        rmSync(ownDir, { recursive: true, force: true });
        rmSync(logrotateFile, { force: true });
      }
    } finally {
      rmSync(sourceSudoers, { force: true });
      rmSync(sourceHelper, { force: true });
    }
  });
});
