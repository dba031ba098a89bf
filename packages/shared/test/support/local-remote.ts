/**
 * Local stand-ins for a host, so the commands shared code decides can be run for real:
 * `localRemote` runs an argv on this machine, and `nginxPrefix` gives a real nginx in a temporary
 * prefix on loopback ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HostError } from '../../src/action';
import type { Argv, ExecResult, Remote, RunOptions } from '../../src/hosts';

/**
 * A `Remote` that spawns `argv[0]` with `argv.slice(1)` directly (no shell), feeds `stdin`, and
 * answers like the SSH remote: exit code, stdout, stderr; a HostError on timeout.
 * `env` replaces the environment, e.g. to put stand-in programs first on PATH.
 */
export function localRemote(label = 'local', env?: NodeJS.ProcessEnv): Remote {
  return {
    label,
    run(argv: Argv, options: RunOptions = {}): Promise<ExecResult> {
      const [command, ...args] = argv;
      if (command === undefined) return Promise.reject(new Error('empty command'));
      return new Promise((resolve, reject) => {
        const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(env ? { env } : {}) });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
        // A command that exits without reading its stdin closes the pipe: not an error here.
        child.stdin.on('error', () => {});
        child.stdin.end(options.stdin ?? '');
        const timer =
          options.timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                child.kill('SIGKILL');
                reject(new HostError(label, `command timed out after ${options.timeoutMs} ms: ${command} …`));
              }, options.timeoutMs);
        child.on('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ code: code ?? (signal ? 128 : 0), stdout, stderr });
        });
      });
    },
    close() {},
  };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function tempDir(name: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `al-shared-${name}-`));
}

export interface NginxPrefix {
  dir: string;
  /** Where the include files go (`<dir>/conf.d`, included at http level). */
  confDir: string;
  /** Site files, included after conf.d (`<dir>/sites`). */
  sitesDir: string;
  /** The nginx command line for this prefix, as NginxRouter and preflight take it. */
  command: string[];
  start(): Promise<void>;
  /** The pid in nginx's pid file, or null when there is none. */
  pid(): Promise<number | null>;
  /** The master's worker processes, old ones still shutting down included. */
  workers(): Promise<number[]>;
  /** Waits until only the current worker is left: after it, every request is served by the current configuration. */
  settle(): Promise<void>;
  /** Stops nginx gracefully (SIGQUIT), waits until the master is gone, and removes the prefix. */
  destroy(): Promise<void>;
}

/** A private nginx: pid, logs and every temp path inside `dir`; nothing listens until `start`. */
export async function nginxPrefix(name: string): Promise<NginxPrefix> {
  const dir = await tempDir(`nginx-${name}`);
  for (const sub of ['conf', 'conf.d', 'sites', 'logs', 'temp']) await fs.mkdir(path.join(dir, sub));
  await fs.writeFile(
    path.join(dir, 'conf', 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/logs/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 1024; }
http {
  client_body_temp_path ${dir}/temp/client;
  proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fastcgi;
  uwsgi_temp_path ${dir}/temp/uwsgi;
  scgi_temp_path ${dir}/temp/scgi;
  access_log off;
  include ${dir}/conf.d/*.conf;
  include ${dir}/sites/*.conf;
}
`,
  );
  const command = ['nginx', '-p', `${dir}/`, '-c', 'conf/nginx.conf'];
  const pidFile = path.join(dir, 'logs', 'nginx.pid');
  let master: { child: ChildProcess; exited: Promise<void> } | undefined;

  const pid = async (): Promise<number | null> => {
    try {
      const value = Number((await fs.readFile(pidFile, 'utf8')).trim());
      return Number.isInteger(value) && value > 0 ? value : null;
    } catch {
      return null;
    }
  };

  const workers = async (): Promise<number[]> => {
    const masterPid = master?.child.pid;
    if (masterPid === undefined) return [];
    const children = await fs.readFile(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8').catch(() => '');
    return children.split(' ').filter(Boolean).map(Number);
  };

  const settle = async (): Promise<void> => {
    const deadline = Date.now() + 5000;
    while ((await workers()).length !== 1) {
      if (Date.now() > deadline) throw new Error(`nginx in ${dir} still has ${(await workers()).length} workers`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  return {
    dir,
    confDir: path.join(dir, 'conf.d'),
    sitesDir: path.join(dir, 'sites'),
    command,
    pid,
    workers,
    settle,
    async start() {
      if (master) throw new Error(`nginx in ${dir} was already started`);
      // In the foreground, as a child of this process: it is reaped when it exits, no zombie is left.
      const [program = 'nginx', ...args] = command;
      const child = spawn(program, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
      master = { child, exited };
      const deadline = Date.now() + 5000;
      while ((await pid()) !== child.pid) {
        if (child.exitCode !== null || Date.now() > deadline)
          throw new Error(`nginx in ${dir} did not start: ${stderr.trim()}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await settle();
    },
    async destroy() {
      if (master && master.child.exitCode === null && master.child.signalCode === null) {
        // SIGQUIT is nginx's graceful shutdown; the workers exit with the master.
        master.child.kill('SIGQUIT');
        const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5000).unref());
        if ((await Promise.race([master.exited, timeout])) === 'timeout') {
          master.child.kill('SIGKILL');
          await master.exited;
        }
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Whether a process runs (signal 0 reaches it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
