import type { NodeSSH } from 'node-ssh';
import type { ClientChannel } from 'ssh2';
import { ConfigurationError, HostError, retry, settleLimit, type Settled } from '../action';
import type { SshTarget } from './hosts';
import { fingerprint, parseKnownHosts, verifyHostKey } from './knownhosts';
import { toShell, type Argv } from './shell';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  stdin?: string;
  timeoutMs?: number;
}

/** A connection to one host that runs argv commands. Values are quoted by `toShell`, nowhere else. */
export interface Remote {
  readonly label: string;
  run(argv: Argv, options?: RunOptions): Promise<ExecResult>;
  close(): void;
}

export interface ConnectOptions {
  privateKey: string;
  knownHosts: string;
  /** Accept any host key, with a warning. Only for throwaway hosts. */
  insecureSkipHostKeyCheck: boolean;
  connectTimeoutMs: number;
  attempts?: number;
  warn?: (message: string) => void;
}

class HostKeyRejected extends ConfigurationError {}

const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;

export async function connect(target: SshTarget, options: ConnectOptions): Promise<Remote> {
  const entries = parseKnownHosts(options.knownHosts);
  let rejection: HostKeyRejected | undefined;
  const hostVerifier = (key: Buffer): boolean => {
    const verdict = verifyHostKey(entries, target.host, target.port, key);
    if (verdict.ok) return true;
    if (options.insecureSkipHostKeyCheck) {
      options.warn?.(
        `${target.label}: host key ${verdict.fingerprint} is ${verdict.reason}, accepted because insecure-skip-host-key-check is true`,
      );
      return true;
    }
    const why = {
      unknown: `is not in ssh-known-hosts (add the output of \`ssh-keyscan -p ${target.port} ${target.host}\` after checking it)`,
      changed:
        'does not match the key in ssh-known-hosts: the host key CHANGED (a reinstalled host, or someone in the middle)',
      revoked: 'is marked @revoked in ssh-known-hosts',
    }[verdict.reason];
    rejection = new HostKeyRejected(`${target.label}: refused host key ${verdict.fingerprint}: it ${why}`);
    return false;
  };

  // Loaded on first use: ssh2 compiles its WebAssembly and probes ciphers when it loads, which is
  // most of a bundle's start-up time, and an action that stops at input validation never needs it.
  const { NodeSSH: Client } = await import('node-ssh');
  const ssh: NodeSSH = await retry(
    async () => {
      rejection = undefined;
      const client = new Client();
      try {
        await client.connect({
          host: target.host,
          port: target.port,
          username: target.user,
          privateKey: options.privateKey,
          readyTimeout: options.connectTimeoutMs,
          hostVerifier,
          keepaliveInterval: 10_000,
        });
        // Every command is a small request and a small answer: with Nagle's algorithm on, each
        // one waits on a delayed acknowledgement (~40-100 ms measured on loopback; 7 ms without).
        client.connection?.setNoDelay(true);
        return client;
      } catch (error) {
        client.dispose();
        if (rejection) throw rejection;
        throw new HostError(target.label, `SSH connection failed: ${(error as Error).message}`);
      }
    },
    {
      attempts: options.attempts ?? 3,
      delayMs: 500,
      // Only the connection setup is retried, and never a refused key or a refused login.
      retryable: (error) => !(error instanceof HostKeyRejected) && !/authentication/i.test((error as Error).message),
    },
  );

  return {
    label: target.label,
    async run(argv, runOptions = {}) {
      const command = toShell(argv);
      const timeoutMs = runOptions.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      let timer: NodeJS.Timeout | undefined;
      let channel: ClientChannel | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // Give up on the command: ask for a signal and close the channel. OpenSSH's sshd does not
          // end a command without a terminal this way, so the host may finish it on its own.
          try {
            channel?.signal('KILL');
            channel?.close();
          } catch {
            // the channel may already be gone
          }
          reject(
            new HostError(
              target.label,
              `command timed out after ${timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`}: ${argv[0]} …`,
            ),
          );
        }, timeoutMs);
      });
      try {
        const result = await Promise.race([
          ssh.execCommand(command, {
            stdin: runOptions.stdin,
            noTrim: true,
            onChannel: (opened) => (channel = opened),
          }),
          timeout,
        ]);
        return { code: result.code ?? (result.signal ? 128 : 0), stdout: result.stdout, stderr: result.stderr };
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      ssh.dispose();
    },
  };
}

/** Runs a command and throws a HostError carrying its stderr when it exits non-zero. */
export async function runChecked(remote: Remote, argv: Argv, what: string, options?: RunOptions): Promise<string> {
  const result = await remote.run(argv, options);
  if (result.code !== 0) {
    const detail = (result.stderr || result.stdout).trim().split('\n').slice(-8).join('\n');
    throw new HostError(remote.label, `${what} failed (exit ${result.code})${detail ? `: ${detail}` : ''}`);
  }
  return result.stdout;
}

export { fingerprint };

/**
 * Runs `task` on each host with its own connection (at most `limit` at once), closing each after
 * its task; a host that cannot be reached or whose task throws gets its error, the others go on.
 */
export function onEachHost<T extends { target: SshTarget }, R>(
  hosts: readonly T[],
  limit: number,
  options: ConnectOptions,
  task: (remote: Remote, host: T) => Promise<R>,
): Promise<Settled<R>[]> {
  return settleLimit(hosts, limit, async (host) => {
    const remote = await connect(host.target, options);
    try {
      return await task(remote, host);
    } finally {
      remote.close();
    }
  });
}
