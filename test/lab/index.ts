// Test lab: N "hosts" on 127.0.0.1, each with its own OpenSSH sshd, its own
// nginx (and, with `router: 'haproxy'`, its own HAProxy next to it) and room for
// app processes, all in one temporary folder.
//
//   const lab = await startLab({ hosts: 2 });
//   ... run the deploy action against lab.hostsInput ...
//   await lab.stop();
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { startHaproxy, type Haproxy } from './haproxy';

const execFileP = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface Knobs {
  /** 0..1: share of requests (other than /health, /ready, /metrics) answered 500. */
  errorRate?: number;
  latencyMs?: number;
  latencyJitterMs?: number;
  /** /ready answers 503 until this many ms after start. */
  readyDelayMs?: number;
  /** Status of GET /health (default 200). */
  healthStatus?: number;
  /** Reported as agent_loop_memory_usage_ratio = memoryPercent / 100. */
  memoryPercent?: number;
  driftScore?: number;
}

export interface LabHost {
  name: string;
  dir: string;
  sshPort: number;
  /** user@127.0.0.1:port of the login the actions use (root unless StartLabOptions.loginUser). */
  target: string;
  /** root@127.0.0.1:port: the host's administrator, whatever loginUser is. */
  rootTarget: string;
  knownHostsLine: string;
  proxyPort: number;
  statusPort: number;
  bluePort: number;
  greenPort: number;
  stateDir: string;
  nginxPrefix: string;
  nginxConfDir: string;
  nginxCommand: string;
  accessLog: string;
  proxyUrl: string;
  /** With `router: 'haproxy'`: the host's HAProxy (frontend, backend `app` name, admin socket). */
  haproxy?: LabHaproxy;
}

export interface LabHaproxy {
  socket: string;
  backend: string;
  frontendPort: number;
  /** The app through HAProxy: http://127.0.0.1:frontendPort */
  url: string;
  pidFile: string;
  /** HAProxy's log of every request (its HTTP log format, through a syslog socket): what the haproxy-log source reads. */
  log: string;
  /** A second stats socket, at level operator: HAProxy answers `Permission denied` to a weight command sent there. */
  operatorSocket: string;
  /** Sends one line of commands on the admin socket. */
  cli(line: string): Promise<string>;
}

export interface Lab {
  dir: string;
  app: string;
  hosts: LabHost[];
  clientKey: string;
  clientKeyPath: string;
  knownHosts: string;
  hostsInput: string;
  startCommand: string;
  stopCommand: string;
  setKnobs(version: string, knobs: Knobs): Promise<void>;
  enableSite(host?: LabHost): Promise<void>;
  appPids(): Promise<Record<number, number>>;
  stop(): Promise<void>;
}

export interface StartLabOptions {
  hosts?: number;
  app?: string;
  /**
   * An existing unprivileged user the actions log in as instead of root. The lab lets it log in
   * with the client key and run the lab's app scripts; everything else (state and include
   * directories, sudo for nginx) is left as a fresh host has it, for host set-up to prepare.
   */
  loginUser?: string;
  /**
   * Each host gets its own /usr/local/sbin, /etc/sudoers.d and /var/lib/logrotate (bind-mounted in a mount namespace
   * of its sshd), as separate machines have: host-setup's default helper path and sudoers file
   * then work on every host of the lab, and nothing is left in the machine's own folders.
   */
  ownSystemDirs?: boolean;
  /** Extra environment for commands run over a host's sshd (its `SetEnv`), e.g. DOCKER_HOST. */
  hostEnv?: (hostName: string) => Record<string, string>;
  /**
   * `haproxy`: each host also runs a real HAProxy (Debian's 2.6) on a free port, with a backend
   * named after the app whose servers `blue` and `green` are the host's color ports (weight 0 until
   * a first switch) and an admin socket, started and stopped with the lab. nginx runs either way.
   */
  router?: 'nginx' | 'haproxy';
}

// ------------------------------------------------------------------ processes

/** True when the process exists and is not a zombie (PID 1 here does not reap orphans). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

export async function waitDead(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(25);
    alive = alive.filter(isAlive);
  }
  return alive;
}

/** Stop pids with `sig`, escalate to SIGKILL after `graceMs`. */
export async function terminate(pids: number[], sig: NodeJS.Signals, graceMs: number): Promise<void> {
  const live = pids.filter(isAlive);
  if (live.length === 0) return;
  for (const p of live) signal(p, sig);
  const left = await waitDead(live, graceMs);
  for (const p of left) signal(p, 'SIGKILL');
  await waitDead(left, 2000);
}

function readPidFileSync(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function childrenOf(ppids: Set<number>): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (ppids.has(Number(rest[1]))) out.push(Number(e));
    } catch {
      /* raced */
    }
  }
  return out;
}

/**
 * Live processes that belong to the lab in `dir`: every process whose command
 * line mentions the folder (sshd, nginx masters, apps) plus the nginx workers
 * (children of those nginx masters).
 */
export function labProcesses(dir: string): number[] {
  const found = new Set<number>();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const needle = dir.endsWith('/') ? dir : dir + '/';
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle) && isAlive(pid)) found.add(pid);
    } catch {
      /* raced */
    }
  }
  for (const c of childrenOf(found)) if (isAlive(c)) found.add(c);
  return [...found];
}

// ---------------------------------------------------------------------- ports

const PORT_REGISTRY = path.join(os.tmpdir(), 'al-lab-ports');
const claimedHere = new Set<number>();

function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo && hi) return [lo, hi];
  } catch {
    /* not Linux */
  }
  return [32768, 60999];
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function bindZero(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Claim a port in a machine-wide registry so that concurrent labs never share one. */
async function claimPort(port: number, owner: string): Promise<boolean> {
  if (claimedHere.has(port)) return false;
  const file = path.join(PORT_REGISTRY, String(port));
  try {
    await fsp.writeFile(file, `${process.pid} ${owner}\n`, { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // Stale when the owning process is gone or the owning lab folder is gone.
    let stale = false;
    try {
      const [pidText, ownerDir] = (await fsp.readFile(file, 'utf8')).trim().split(' ');
      stale = !isAlive(Number(pidText)) || !ownerDir || !fs.existsSync(ownerDir);
    } catch {
      stale = true;
    }
    if (!stale) return false;
    await fsp.rm(file, { force: true });
    try {
      await fsp.writeFile(file, `${process.pid} ${owner}\n`, { flag: 'wx' });
    } catch {
      return false;
    }
  }
  if (!(await canBind(port))) {
    await fsp.rm(file, { force: true });
    return false;
  }
  claimedHere.add(port);
  return true;
}

export function releasePorts(ports: number[]): void {
  for (const p of ports) {
    claimedHere.delete(p);
    try {
      fs.rmSync(path.join(PORT_REGISTRY, String(p)), { force: true });
    } catch {
      /* ignore */
    }
  }
}

/**
 * `count` distinct free ports on 127.0.0.1. Taken below the kernel's ephemeral
 * range so that outgoing connections (ssh, curl, traffic) can never sit on a
 * port an app binds minutes later; claimed in a registry under os.tmpdir() so
 * labs in parallel test files do not collide.
 */
export async function allocatePorts(count: number, owner: string): Promise<number[]> {
  await fsp.mkdir(PORT_REGISTRY, { recursive: true });
  const [ephLo] = ephemeralRange();
  const lo = 20000;
  const hi = ephLo - 1;
  const out: number[] = [];
  if (hi - lo < 2000) {
    // Odd kernel config: fall back to the kernel's choice.
    while (out.length < count) {
      const p = await bindZero();
      if (await claimPort(p, owner)) out.push(p);
    }
    return out;
  }
  let attempts = 0;
  while (out.length < count) {
    if (++attempts > count * 50) throw new Error(`could not find ${count} free ports in ${lo}-${hi}`);
    const p = lo + Math.floor(Math.random() * (hi - lo + 1));
    if (out.includes(p)) continue;
    if (await claimPort(p, owner)) out.push(p);
  }
  return out;
}

export function waitForPort(port: number, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = connect({ port, host: '127.0.0.1' });
      sock.once('connect', () => {
        sock.destroy();
        resolve();
      });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`port ${port} did not open within ${timeoutMs} ms: ${what()}`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ------------------------------------------------------------------- scripts

function startScript(labDir: string): string {
  return `#!/bin/sh
# usage: start-app.sh APP COLOR PORT VERSION
set -eu
if [ "$#" -ne 4 ]; then echo "usage: start-app.sh APP COLOR PORT VERSION" >&2; exit 2; fi
APP="$1"; COLOR="$2"; PORT="$3"; VERSION="$4"
case "$PORT" in ''|*[!0-9]*) echo "start-app.sh: bad port '$PORT'" >&2; exit 2;; esac
LAB=${shq(labDir)}
PIDFILE="$LAB/run/app-$PORT.pid"
LOG="$LAB/logs/app-$PORT.log"
# Stop whatever this pid file points at first.
sh "$LAB/bin/stop-app.sh" "$PORT" </dev/null >/dev/null 2>&1 || true
# Detached: own session, no controlling terminal, every fd redirected so the
# ssh channel closes as soon as this script exits.
nohup setsid ${shq(process.execPath)} "$LAB/app-server.mjs" --app "$APP" --color "$COLOR" --port "$PORT" \\
  --version "$VERSION" --knobs "$LAB/knobs" </dev/null >>"$LOG" 2>&1 &
echo $! > "$PIDFILE.tmp"
mv "$PIDFILE.tmp" "$PIDFILE"
echo "started $APP $VERSION ($COLOR) on port $PORT pid $(cat "$PIDFILE")"
`;
}

function stopScript(labDir: string): string {
  return `#!/bin/sh
# usage: stop-app.sh PORT — exit 0 when nothing runs.
set -u
PORT="\${1:-}"
case "$PORT" in ''|*[!0-9]*) echo "stop-app.sh: bad port '$PORT'" >&2; exit 2;; esac
LAB=${shq(labDir)}
PIDFILE="$LAB/run/app-$PORT.pid"
[ -f "$PIDFILE" ] || exit 0
PID=$(cat "$PIDFILE" 2>/dev/null || true)
# Alive = exists and is not a zombie (orphans are not always reaped here).
alive() {
  [ -r "/proc/$1/stat" ] || return 1
  st=$(sed -n 's/^.*) \\(.\\).*$/\\1/p' "/proc/$1/stat" 2>/dev/null)
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
case "$PID" in ''|*[!0-9]*) rm -f "$PIDFILE"; exit 0;; esac
# Only signal our own app (pid reuse): its command line names app-server.mjs.
if alive "$PID" && tr '\\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null | grep -q "app-server.mjs"; then
  kill -TERM "$PID" 2>/dev/null || true
  i=0
  while alive "$PID"; do
    i=$((i + 1))
    if [ "$i" -ge 200 ]; then kill -KILL "$PID" 2>/dev/null || true; break; fi
    sleep 0.05
  done
  echo "stopped pid $PID on port $PORT"
fi
rm -f "$PIDFILE"
exit 0
`;
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The access log format the canary monitor reads, on one line of nginx.conf (least-privilege.test.ts removes that line). */
const LOG_FORMAT =
  `log_format agent_loop escape=json '{"time":$msec,"status":$status,"request_time":$request_time,` +
  `"upstream":"$proxy_host","upstream_addr":"$upstream_addr","upstream_status":"$upstream_status",` +
  `"upstream_time":"$upstream_response_time","method":"$request_method","uri":"$uri"}';`;

function nginxConf(prefix: string): string {
  return `worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 1024; }
http {
  client_body_temp_path temp/client; proxy_temp_path temp/proxy; fastcgi_temp_path temp/fastcgi; uwsgi_temp_path temp/uwsgi; scgi_temp_path temp/scgi;
  access_log off;
  ${LOG_FORMAT}
  include ${prefix}/conf.d/*.conf;
  include ${prefix}/sites/*.conf;
}
`;
}

function siteConf(app: string, host: LabHost): string {
  return `server {
  listen 127.0.0.1:${host.proxyPort};
  location / {
    proxy_pass http://$${appVar(app)};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_next_upstream error timeout http_502;
    access_log ${host.accessLog} agent_loop;
  }
}
`;
}

/**
 * The script `unshare --mount` runs for a host with its own system folders: binds the host's
 * copies over /usr/local/sbin, /etc/sudoers.d and /var/lib/logrotate (logrotate's state, which
 * one logrotate at a time may hold: separate machines rotate at once), then becomes its sshd ($1
 * config).
 */
async function ownSystemDirs(hostDir: string): Promise<string> {
  const sbin = path.join(hostDir, 'system', 'usr-local-sbin');
  const sudoers = path.join(hostDir, 'system', 'sudoers.d');
  const logrotate = path.join(hostDir, 'system', 'logrotate');
  await fsp.mkdir(sbin, { recursive: true, mode: 0o755 });
  await fsp.mkdir(logrotate, { recursive: true, mode: 0o755 });
  await fsp.cp('/etc/sudoers.d', sudoers, { recursive: true });
  await fsp.chmod(sudoers, 0o750);
  const binds = [
    [sbin, '/usr/local/sbin'],
    [sudoers, '/etc/sudoers.d'],
    [logrotate, '/var/lib/logrotate'],
  ].map(([from, to]) => `mount --bind ${shq(from!)} ${to}`);
  return `mkdir -p /var/lib/logrotate && ${binds.join(' && ')} && exec /usr/sbin/sshd -D -e -f "$1"`;
}

function appVar(app: string): string {
  return `agent_loop_${app.replace(/-/g, '_')}`;
}

async function run(cmd: string, args: string[], what: string): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileP(cmd, args, { timeout: 30_000 });
  } catch (e) {
    const err = e as Error & { stderr?: string; stdout?: string };
    throw new Error(`${what} failed: ${err.message}\n${err.stderr ?? ''}${err.stdout ?? ''}`.trim());
  }
}

// ---------------------------------------------------------------------- lab

interface HostRuntime {
  host: LabHost;
  sshd?: ChildProcess;
  sshdStderr: string[];
  nginxPidFile: string;
  haproxy?: Haproxy;
}

const liveLabs = new Set<{ dir: string; emergencyStop(): void }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const l of liveLabs) l.emergencyStop();
  });
}

export async function startLab(opts: StartLabOptions = {}): Promise<Lab> {
  const count = opts.hosts ?? 1;
  const app = opts.app ?? 'agentloop';
  if (!Number.isInteger(count) || count < 1 || count > 200) throw new Error(`hosts must be 1..200, got ${count}`);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(app)) throw new Error(`app must match [a-z0-9][a-z0-9-]*, got ${app}`);
  if (opts.loginUser !== undefined && !/^[a-z_][a-z0-9_-]{0,31}$/.test(opts.loginUser))
    throw new Error(`loginUser must be a user name, got ${opts.loginUser}`);
  const serverSrc = path.join(HERE, 'app-server.mjs');

  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'al-lab-'));
  await fsp.chmod(dir, 0o755);
  const runtimes: HostRuntime[] = [];
  let ports: number[] = [];
  let stopping: Promise<void> | undefined;

  const emergencyStop = () => {
    for (const rt of runtimes) {
      if (rt.sshd?.pid) signal(rt.sshd.pid, 'SIGKILL');
      const np = readPidFileSync(rt.nginxPidFile);
      if (np && isAlive(np)) signal(np, 'SIGTERM');
    }
    for (const pid of labProcesses(dir)) signal(pid, 'SIGKILL');
    releasePorts(ports);
    if (!process.env.KEEP_LAB) fs.rmSync(dir, { recursive: true, force: true });
  };
  const token = { dir, emergencyStop };
  liveLabs.add(token);
  installExitHook();

  const appPids = async (): Promise<Record<number, number>> => {
    const out: Record<number, number> = {};
    let files: string[] = [];
    try {
      files = await fsp.readdir(path.join(dir, 'run'));
    } catch {
      return out;
    }
    for (const f of files) {
      const m = /^app-(\d+)\.pid$/.exec(f);
      if (!m) continue;
      const pid = readPidFileSync(path.join(dir, 'run', f));
      if (!pid || !isAlive(pid)) continue;
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (!cmd.includes('app-server.mjs')) continue;
      } catch {
        continue;
      }
      out[Number(m[1])] = pid;
    }
    return out;
  };

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // Apps first (they are behind nginx and HAProxy), then nginx and HAProxy, then sshd.
      const apps = Object.values(await appPids());
      const nginxMasters = runtimes
        .map((rt) => readPidFileSync(rt.nginxPidFile))
        .filter((p): p is number => p !== undefined && isAlive(p));
      const workers = childrenOf(new Set(nginxMasters));
      await Promise.all([
        terminate(apps, 'SIGTERM', 10_000),
        // SIGQUIT = graceful shutdown (`nginx -s quit`); workers exit with the master.
        terminate(nginxMasters, 'SIGQUIT', 5_000).then(() => terminate(workers, 'SIGKILL', 1000)),
        ...runtimes.map((rt) => rt.haproxy?.stop()),
      ]);
      await terminate(
        runtimes.map((rt) => rt.sshd?.pid).filter((p): p is number => p !== undefined),
        'SIGTERM',
        3_000,
      );
      // Anything left that still names the lab folder (an app started outside the
      // pid files, an ssh session child...).
      await terminate(labProcesses(dir), 'SIGKILL', 0);
      releasePorts(ports);
      liveLabs.delete(token);
      if (!process.env.KEEP_LAB) await fsp.rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  try {
    for (const d of ['bin', 'knobs', 'run', 'logs', 'hosts']) await fsp.mkdir(path.join(dir, d));
    // The app scripts write pid files and logs here as the login user.
    if (opts.loginUser) for (const d of ['run', 'logs']) await fsp.chmod(path.join(dir, d), 0o1777);
    await fsp.copyFile(serverSrc, path.join(dir, 'app-server.mjs'));
    await fsp.writeFile(path.join(dir, 'bin', 'start-app.sh'), startScript(dir), { mode: 0o755 });
    await fsp.writeFile(path.join(dir, 'bin', 'stop-app.sh'), stopScript(dir), { mode: 0o755 });
    await fsp.mkdir('/run/sshd', { recursive: true });

    const clientKeyPath = path.join(dir, 'client_key');
    const perHost = opts.router === 'haproxy' ? 6 : 5;
    ports = await allocatePorts(count * perHost, dir);
    const keygen = (file: string, comment: string) =>
      run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], `ssh-keygen ${file}`);

    const hostDirs = Array.from({ length: count }, (_, i) => path.join(dir, 'hosts', `h${i + 1}`));
    await Promise.all([
      keygen(clientKeyPath, 'agent-loop-lab-client'),
      ...hostDirs.map(async (hd, i) => {
        for (const d of [
          '',
          'state',
          'nginx',
          'nginx/conf',
          'nginx/conf.d',
          'nginx/sites',
          'nginx/logs',
          'nginx/temp',
        ]) {
          await fsp.mkdir(path.join(hd, d), { recursive: true });
        }
        await keygen(path.join(hd, 'ssh_host_ed25519_key'), `agent-loop-lab-h${i + 1}`);
      }),
    ]);
    const clientPub = await fsp.readFile(clientKeyPath + '.pub', 'utf8');
    const clientKey = await fsp.readFile(clientKeyPath, 'utf8');

    const hosts: LabHost[] = [];
    for (let i = 0; i < count; i++) {
      const hd = hostDirs[i]!;
      const [sshPort, proxyPort, statusPort, bluePort, greenPort] = ports.slice(i * perHost, i * perHost + 5) as [
        number,
        number,
        number,
        number,
        number,
      ];
      const hostPub = (await fsp.readFile(path.join(hd, 'ssh_host_ed25519_key.pub'), 'utf8')).trim().split(/\s+/);
      const nginxPrefix = path.join(hd, 'nginx');
      const host: LabHost = {
        name: `h${i + 1}`,
        dir: hd,
        sshPort,
        target: `${opts.loginUser ?? 'root'}@127.0.0.1:${sshPort}`,
        rootTarget: `root@127.0.0.1:${sshPort}`,
        knownHostsLine: `[127.0.0.1]:${sshPort} ${hostPub[0]} ${hostPub[1]}`,
        proxyPort,
        statusPort,
        bluePort,
        greenPort,
        stateDir: path.join(hd, 'state'),
        nginxPrefix,
        nginxConfDir: path.join(nginxPrefix, 'conf.d'),
        nginxCommand: `nginx -p ${nginxPrefix}/ -c conf/nginx.conf`,
        accessLog: path.join(nginxPrefix, 'logs', `${app}.access.log`),
        proxyUrl: `http://127.0.0.1:${proxyPort}`,
      };
      hosts.push(host);
      runtimes.push({ host, sshdStderr: [], nginxPidFile: path.join(nginxPrefix, 'logs', 'nginx.pid') });
    }

    await Promise.all(
      runtimes.map(async (rt) => {
        const h = rt.host;
        // sshd reads authorized_keys as the user logging in: an unprivileged login needs to read it.
        await fsp.writeFile(path.join(h.dir, 'authorized_keys'), clientPub, { mode: opts.loginUser ? 0o644 : 0o600 });
        const sshdConfig = path.join(h.dir, 'sshd_config');
        await fsp.writeFile(
          sshdConfig,
          [
            `Port ${h.sshPort}`,
            'ListenAddress 127.0.0.1',
            `HostKey ${path.join(h.dir, 'ssh_host_ed25519_key')}`,
            `PidFile ${path.join(h.dir, 'sshd.pid')}`,
            `AuthorizedKeysFile ${path.join(h.dir, 'authorized_keys')}`,
            'PermitRootLogin prohibit-password',
            'PasswordAuthentication no',
            'KbdInteractiveAuthentication no',
            'UsePAM no',
            'StrictModes no',
            'MaxStartups 200',
            'MaxSessions 100',
            'LogLevel ERROR',
            // node-ssh's putFile needs SFTP; this config replaces Debian's, which has it.
            'Subsystem sftp internal-sftp',
            // bash run by sshd reads ~/.bashrc; this machine's root .bashrc runs `pyenv init`, which
            // adds ~100 ms to every command. A lab host's HOME is its own folder, without one.
            `SetEnv HOME=${h.dir}${Object.entries(opts.hostEnv?.(h.name) ?? {})
              .map(([key, value]) => ` ${key}=${value}`)
              .join('')}`,
            '',
          ].join('\n'),
        );
        await fsp.writeFile(path.join(h.nginxPrefix, 'conf', 'nginx.conf'), nginxConf(h.nginxPrefix));

        const child = opts.ownSystemDirs
          ? spawn(
              'unshare',
              ['--mount', '--propagation', 'private', 'sh', '-c', await ownSystemDirs(h.dir), 'sshd', sshdConfig],
              { stdio: ['ignore', 'ignore', 'pipe'] },
            )
          : spawn('/usr/sbin/sshd', ['-D', '-e', '-f', sshdConfig], { stdio: ['ignore', 'ignore', 'pipe'] });
        rt.sshd = child;
        child.stderr?.setEncoding('utf8');
        child.stderr?.on('data', (d: string) => {
          rt.sshdStderr.push(d);
          if (rt.sshdStderr.length > 50) rt.sshdStderr.shift();
        });
        child.on('error', (e) => rt.sshdStderr.push(`spawn error: ${e.message}`));
        // Do not let a forgotten lab keep the test process alive.
        child.unref();
        (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();

        const nginxArgs = ['-p', `${h.nginxPrefix}/`, '-c', 'conf/nginx.conf'];
        await run('nginx', nginxArgs, `nginx start (${h.name})`);

        if (opts.router === 'haproxy') {
          rt.haproxy = await startHaproxy({
            dir: path.join(h.dir, 'haproxy'),
            frontendPort: ports[runtimes.indexOf(rt) * perHost + 5] as number,
            bluePort: h.bluePort,
            greenPort: h.greenPort,
            backend: app,
            log: true,
            extraSockets: [{ path: path.join(h.dir, 'haproxy', 'operator.sock'), level: 'operator' }],
          });
          const started = rt.haproxy;
          h.haproxy = {
            socket: started.socket,
            backend: started.backend,
            frontendPort: started.frontendPort,
            url: started.url,
            pidFile: started.pidFile,
            log: started.log as string,
            operatorSocket: path.join(h.dir, 'haproxy', 'operator.sock'),
            cli: (line) => started.cli(line),
          };
        }

        await waitForPort(h.sshPort, 10_000, () => {
          const exit = child.exitCode !== null ? ` (sshd exited with ${child.exitCode})` : '';
          return `sshd ${h.name}${exit}: ${rt.sshdStderr.join('').trim() || '(no stderr)'}`;
        });
        const deadline = Date.now() + 5000;
        while (!readPidFileSync(rt.nginxPidFile)) {
          if (Date.now() > deadline) throw new Error(`nginx ${h.name} wrote no pid file`);
          await sleep(10);
        }
      }),
    );

    const knownHosts = hosts.map((h) => h.knownHostsLine).join('\n');
    const hostsInput = hosts
      .map((h) =>
        [
          `- host: ${h.target}`,
          `  blue-port: ${h.bluePort}`,
          `  green-port: ${h.greenPort}`,
          `  nginx-status-port: ${h.statusPort}`,
          `  state-dir: ${h.stateDir}`,
          `  nginx-conf-dir: ${h.nginxConfDir}`,
          `  nginx-command: ${h.nginxCommand}`,
          // Behind HAProxy: its admin socket and backend, and its log as the access log the deploy marks and haproxy-log reads.
          ...(h.haproxy
            ? [
                `  access-log: ${h.haproxy.log}`,
                `  haproxy-socket: ${h.haproxy.socket}`,
                `  haproxy-backend: ${h.haproxy.backend}`,
              ]
            : [`  access-log: ${h.accessLog}`]),
        ].join('\n'),
      )
      .join('\n');

    const setKnobs = async (version: string, knobs: Knobs): Promise<void> => {
      if (!/^[A-Za-z0-9._-]+$/.test(version) || version.startsWith('.')) throw new Error(`bad version ${version}`);
      const file = path.join(dir, 'knobs', `${version}.json`);
      const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await fsp.writeFile(tmp, JSON.stringify(knobs));
      await fsp.rename(tmp, file);
    };

    const enableSite = async (only?: LabHost): Promise<void> => {
      const targets = only ? [only] : hosts;
      await Promise.all(
        targets.map(async (h) => {
          await fsp.writeFile(path.join(h.nginxPrefix, 'sites', `${app}.conf`), siteConf(app, h));
          const nginxArgs = ['-p', `${h.nginxPrefix}/`, '-c', 'conf/nginx.conf'];
          await run('nginx', [...nginxArgs, '-t'], `nginx -t (${h.name})`);
          await run('nginx', [...nginxArgs, '-s', 'reload'], `nginx -s reload (${h.name})`);
          await waitForPort(h.proxyPort, 5000, () => `nginx ${h.name} proxy after reload`);
        }),
      );
    };

    return {
      dir,
      app,
      hosts,
      clientKey,
      clientKeyPath,
      knownHosts,
      hostsInput,
      startCommand: `sh ${dir}/bin/start-app.sh {app} {color} {port} {version}`,
      stopCommand: `sh ${dir}/bin/stop-app.sh {port}`,
      setKnobs,
      enableSite,
      appPids,
      stop,
    };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}
