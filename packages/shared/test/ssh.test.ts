import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError, HostError } from '../src/action';
import { connect, runChecked, type ConnectOptions, type Remote, type SshTarget } from '../src/hosts';
import { freePort, localRemote, tempDir } from './support/local-remote';

describe('runChecked', () => {
  const remote = localRemote('check-host');

  it('returns stdout when the command succeeds', async () => {
    expect(await runChecked(remote, ['sh', '-c', 'printf "a\\nb"'], 'printing')).toBe('a\nb');
  });

  it('throws a HostError with the exit code and the last 8 lines of stderr', async () => {
    const script = 'for i in 1 2 3 4 5 6 7 8 9 10; do echo "line $i" >&2; done; exit 3';
    const error = await runChecked(remote, ['sh', '-c', script], 'counting').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HostError);
    expect((error as HostError).host).toBe('check-host');
    expect((error as Error).message).toBe(
      `check-host: counting failed (exit 3): ${Array.from({ length: 8 }, (_, index) => `line ${index + 3}`).join('\n')}`,
    );
  });

  it('falls back to stdout, and to nothing, when stderr is empty', async () => {
    await expect(runChecked(remote, ['sh', '-c', 'echo only stdout; exit 1'], 'x')).rejects.toThrow(
      'check-host: x failed (exit 1): only stdout',
    );
    await expect(runChecked(remote, ['false'], 'x')).rejects.toThrow(/^check-host: x failed \(exit 1\)$/);
  });
});

// --- a real sshd on loopback -------------------------------------------------------------------

let dir: string;
let sshd: ChildProcess | undefined;
let target: SshTarget;
let clientKey: string;
let otherClientKey: string;
let hostKeyLine: string;
let otherKeyLine: string;
const remotes: Remote[] = [];

function keygen(file: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', path.basename(file), '-f', file]);
  return file;
}

const publicLine = async (file: string): Promise<string> =>
  (await fs.readFile(`${file}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');

async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => (socket.destroy(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline || sshd?.exitCode !== null) throw new Error(`sshd did not listen on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  dir = await tempDir('sshd');
  const port = await freePort();
  const hostKey = keygen(path.join(dir, 'host_key'));
  const clientKeyFile = keygen(path.join(dir, 'client_key'));
  const otherKey = keygen(path.join(dir, 'other_key'));
  hostKeyLine = await publicLine(hostKey);
  otherKeyLine = await publicLine(otherKey);
  clientKey = await fs.readFile(clientKeyFile, 'utf8');
  otherClientKey = await fs.readFile(otherKey, 'utf8');
  await fs.writeFile(path.join(dir, 'authorized_keys'), `${await publicLine(clientKeyFile)}\n`);
  await fs.writeFile(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      '',
    ].join('\n'),
  );
  await fs.mkdir('/run/sshd', { recursive: true });
  sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: 'ignore' });
  await waitForPort(port);
  const user = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
  target = { user, host: '127.0.0.1', port, label: `${user}@127.0.0.1:${port}` };
});

afterAll(async () => {
  for (const remote of remotes) remote.close();
  if (sshd && sshd.exitCode === null) {
    const exited = new Promise((resolve) => sshd?.once('exit', resolve));
    sshd.kill('SIGTERM');
    await exited;
  }
  await fs.rm(dir, { recursive: true, force: true });
});

function options(overrides: Partial<ConnectOptions> = {}): ConnectOptions {
  return {
    privateKey: clientKey,
    knownHosts: `[127.0.0.1]:${target.port} ${hostKeyLine}`,
    insecureSkipHostKeyCheck: false,
    connectTimeoutMs: 5000,
    attempts: 2,
    ...overrides,
  };
}

async function open(overrides: Partial<ConnectOptions> = {}): Promise<Remote> {
  const remote = await connect(target, options(overrides));
  remotes.push(remote);
  return remote;
}

describe('connect to a real sshd', () => {
  it('runs argv words intact through the remote shell, with stdin, stdout, stderr and exit code', async () => {
    const remote = await open();
    expect(remote.label).toBe(target.label);
    const words = ['$(id)', '`id`', "it's", 'two words', '', 'new\nline', '; exit 9'];
    const printed = await remote.run(['printf', '%s|', ...words]);
    expect(printed).toEqual({ code: 0, stdout: `${words.join('|')}|`, stderr: '' });
    const piped = await remote.run(['sh', '-c', 'cat; echo err >&2; exit 7'], { stdin: 'line 1\nline 2\n' });
    expect(piped).toEqual({ code: 7, stdout: 'line 1\nline 2\n', stderr: 'err\n' });
  });

  it('times out a command that runs too long', async () => {
    const remote = await open();
    const started = Date.now();
    await expect(remote.run(['sleep', '2'], { timeoutMs: 300 })).rejects.toThrow(
      /: command timed out after \d+ (ms|s): sleep …$/,
    );
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('refuses a host that is not in ssh-known-hosts, at once and with the way to fix it', async () => {
    const started = Date.now();
    const error = await connect(
      target,
      options({ knownHosts: `[127.0.0.1]:${target.port + 1} ${hostKeyLine}`, attempts: 5 }),
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^${target.label.replaceAll('.', '\\.')}: refused host key SHA256:\\S+: it is not in ssh-known-hosts ` +
          `\\(add the output of \`ssh-keyscan -p ${target.port} 127\\.0\\.0\\.1\``,
      ),
    );
    // Not retried: four more attempts would have waited 5 s in all between them.
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('refuses a changed host key and a revoked one', async () => {
    await expect(
      connect(target, options({ knownHosts: `[127.0.0.1]:${target.port} ${otherKeyLine}` })),
    ).rejects.toThrow(/the host key CHANGED/);
    const revoked = `[127.0.0.1]:${target.port} ${hostKeyLine}\n@revoked * ${hostKeyLine}`;
    await expect(connect(target, options({ knownHosts: revoked }))).rejects.toThrow(
      /is marked @revoked in ssh-known-hosts/,
    );
  });

  it('accepts an unknown key only with insecure-skip-host-key-check, with a warning', async () => {
    const warnings: string[] = [];
    const remote = await open({
      knownHosts: '',
      insecureSkipHostKeyCheck: true,
      warn: (message) => warnings.push(message),
    });
    expect(remote.label).toBe(target.label);
    expect(warnings).toEqual([
      expect.stringMatching(/: host key SHA256:\S+ is unknown, accepted because insecure-skip-host-key-check is true$/),
    ]);
  });

  it('reports a refused login as a HostError without retrying', async () => {
    const started = Date.now();
    const error = await connect(target, options({ privateKey: otherClientKey, attempts: 5 })).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(HostError);
    expect((error as Error).message).toMatch(/SSH connection failed: .*authentication/i);
    expect(Date.now() - started).toBeLessThan(4000);
  });
});
