// A real HAProxy (Debian's 2.6) on 127.0.0.1, in its own folder with its own configuration: a
// frontend on a free port, one backend with the servers `blue` and `green` at the lab's color
// ports (both at weight 0 until a first switch, as the README's configuration has them), and an
// admin socket. Started as a daemon with a pid file, stopped by that PID. With `log: true`, it logs
// every request in its HTTP log format (`option httplog`) to a UNIX datagram socket, as a Debian
// host's HAProxy logs to /dev/log, and a receiver started here (socat) appends each message to
// `haproxy.log` in its folder, as rsyslog writes /var/log/haproxy.log.
//
//   const haproxy = await startHaproxy({ dir, frontendPort, bluePort, greenPort });
//   ... new HaproxyRouter(remote, { app, socket: haproxy.socket, backend: haproxy.backend }, stateDir) ...
//   await haproxy.stop();
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface HaproxySocket {
  path: string;
  /** HAProxy's CLI level: `set server … weight` needs admin. */
  level: 'user' | 'operator' | 'admin';
}

export interface HaproxyOptions {
  /** A folder of its own (created when missing): configuration, pid file and sockets live there. */
  dir: string;
  frontendPort: number;
  bluePort: number;
  greenPort: number;
  /** Default `app`. */
  backend?: string;
  /** More sockets next to the admin one (e.g. one at level user, for a refused command). */
  extraSockets?: readonly HaproxySocket[];
  /** Extra backends, as configuration text. */
  extraConfig?: string;
  /** Log every request (option httplog) through a syslog socket to `<dir>/haproxy.log`. */
  log?: boolean;
}

export interface Haproxy {
  dir: string;
  config: string;
  /** The admin socket (level admin). */
  socket: string;
  backend: string;
  frontendPort: number;
  /** http://127.0.0.1:frontendPort */
  url: string;
  pidFile: string;
  /** With `log: true`: the file the requests are logged to. */
  log: string | null;
  pid(): number | null;
  /** Sends one line of commands on the admin socket and returns HAProxy's answer. */
  cli(line: string, socket?: string): Promise<string>;
  /** Stops HAProxy by its PID (SIGTERM, then SIGKILL) and waits until it is gone. */
  stop(): Promise<void>;
}

export function haproxyConfig(
  options: HaproxyOptions & { backend: string; socket: string; pidFile: string; logSocket?: string },
): string {
  const extraSockets = (options.extraSockets ?? [])
    .map((socket) => `  stats socket ${socket.path} mode 600 level ${socket.level}\n`)
    .join('');
  const log = options.logSocket ? `  log ${options.logSocket} local0\n` : '';
  return `global
  pidfile ${options.pidFile}
  stats socket ${options.socket} mode 600 level admin
${extraSockets}${log}  maxconn 2000

defaults
  mode http
${options.logSocket ? '  log global\n  option httplog\n' : ''}  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 10s
  # A request sent to a color that was just stopped (connection refused) is tried again on the other.
  retries 2
  option redispatch 1

frontend app
  bind 127.0.0.1:${options.frontendPort}
  default_backend ${options.backend}

backend ${options.backend}
  balance roundrobin
  server blue 127.0.0.1:${options.bluePort} weight 0
  server green 127.0.0.1:${options.greenPort} weight 0
${options.extraConfig ?? ''}`;
}

function readPid(file: string): number | null {
  try {
    const value = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(value) && value > 0 ? value : null;
  } catch {
    return null;
  }
}

/** True when the process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export async function startHaproxy(options: HaproxyOptions): Promise<Haproxy> {
  const dir = options.dir;
  await fsp.mkdir(dir, { recursive: true });
  const backend = options.backend ?? 'app';
  const socket = path.join(dir, 'admin.sock');
  const pidFile = path.join(dir, 'haproxy.pid');
  const config = path.join(dir, 'haproxy.cfg');
  const logSocket = options.log ? path.join(dir, 'log.sock') : undefined;
  const log = options.log ? path.join(dir, 'haproxy.log') : null;
  let receiver: ChildProcess | undefined;
  if (logSocket && log) {
    // The syslog receiver: each datagram HAProxy sends is one line (HAProxy ends each with a new line).
    await fsp.rm(logSocket, { force: true });
    await fsp.writeFile(log, '');
    receiver = spawn('socat', ['-u', `UNIX-RECV:${logSocket},mode=600`, `OPEN:${log},creat,append`], {
      stdio: 'ignore',
      detached: true,
    });
    receiver.unref();
    const until = Date.now() + 5000;
    while (!fs.existsSync(logSocket)) {
      if (Date.now() > until || receiver.exitCode !== null)
        throw new Error(`the log receiver of HAProxy in ${dir} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  await fsp.writeFile(
    config,
    haproxyConfig({ ...options, backend, socket, pidFile, ...(logSocket ? { logSocket } : {}) }),
  );
  try {
    await execFileP('haproxy', ['-c', '-q', '-f', config], { timeout: 10_000 });
    await execFileP('haproxy', ['-D', '-f', config], { timeout: 10_000 });
  } catch (error) {
    const failed = error as Error & { stderr?: string };
    throw new Error(`HAProxy in ${dir} did not start: ${failed.stderr?.trim() || failed.message}`);
  }
  const deadline = Date.now() + 5000;
  while (!readPid(pidFile) || !fs.existsSync(socket)) {
    if (Date.now() > deadline) throw new Error(`HAProxy in ${dir} wrote no pid file or socket`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    dir,
    config,
    socket,
    backend,
    frontendPort: options.frontendPort,
    url: `http://127.0.0.1:${options.frontendPort}`,
    pidFile,
    log,
    pid: () => readPid(pidFile),
    cli: (line, on) => sendLine(line, on ?? socket),
    async stop() {
      const pid = readPid(pidFile);
      if (receiver?.pid && alive(receiver.pid)) process.kill(receiver.pid, 'SIGTERM');
      if (pid === null || !alive(pid)) return;
      process.kill(pid, 'SIGTERM');
      const until = Date.now() + 5000;
      while (alive(pid)) {
        if (Date.now() > until) {
          process.kill(pid, 'SIGKILL');
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

/** One line on a HAProxy socket through socat, as the router sends it. */
export function sendLine(line: string, socket: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'socat',
      ['-T', '5', '-', `UNIX-CONNECT:${socket}`],
      { timeout: 10_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`socat ${socket}: ${stderr || error.message}`)) : resolve(stdout),
    );
    child.stdin?.end(`${line}\n`);
  });
}
