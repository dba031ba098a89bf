import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostError } from '../src/action';
import type { Remote } from '../src/hosts';
import {
  NginxRouter,
  formatWeights,
  includeFileName,
  nginxName,
  parseIncludeHeader,
  helperArgs,
  nginxControl,
  readWeightsCommand,
  statusHost,
  statusPath,
  switchCommand,
  weightsFor,
  type NginxSite,
  type Weights,
} from '../src/traffic';
import { freePort, isAlive, localRemote, nginxPrefix, type NginxPrefix } from './support/local-remote';

const execFileP = promisify(execFile);
const remote = localRemote('nginx-host');

/** The include the helper renders for these weights (its `render` verb, run by sh as on a host). */
async function renderInclude(target: NginxSite, weights: Weights, generation: string): Promise<string> {
  const [program = 'sh', ...args] = nginxControl(['nginx'], '/unused');
  return (await execFileP(program, [...args, 'render', ...helperArgs(target, weights, generation, 'abc')])).stdout;
}

let live: NginxPrefix;
/** A prefix where nginx never runs: for `nginx -t` checks and for a failing reload. */
let idle: NginxPrefix;
let site: NginxSite;
let proxyPort: number;
const apps: http.Server[] = [];

/** The status server's answer, as a browser would see it. */
function get(port: number, urlPath: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, headers: { host }, agent: false }, (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function servedStatus(target: NginxSite = site): Promise<{ weights: Weights; generation: string }> {
  const answer = await get(target.statusPort, statusPath(target.app), statusHost(target.app));
  expect(answer.status).toBe(200);
  // The answer names the worker that gave it; what it serves is the rest.
  const { worker, ...served } = JSON.parse(answer.body) as { weights: Weights; generation: string; worker: number };
  expect(Number.isInteger(worker)).toBe(true);
  return served;
}

/** Of these processes, those still running (not gone, not a zombie waiting for its parent). */
function running(pids: readonly number[]): number[] {
  return pids.filter((pid) => {
    try {
      return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  });
}

/** The socket inodes a process holds. */
function socketsOf(pid: number): Set<string> {
  const held = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    const target = (() => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    })();
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) held.add(inode);
  }
  return held;
}

/** The TCP sockets on 127.0.0.1 (their inodes), from the kernel's table: listening ones, or one connection. */
function tcpInodes(match: (local: number, remote: number, state: string) => boolean): string[] {
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((w) => w.length > 9 && match(parseInt(w[1]!.split(':')[1]!, 16), parseInt(w[2]!.split(':')[1]!, 16), w[3]!))
    .map((w) => w[9]!);
}

/** Whether a process may still accept connections: it holds a listening socket. */
function listens(pid: number): boolean {
  const held = socketsOf(pid);
  return tcpInodes((_local, _remote, state) => state === '0A').some((inode) => held.has(inode));
}

/** A tiny app that answers with its color. */
async function colorApp(color: string): Promise<number> {
  const server = http.createServer((_request, response) => response.end(color));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  apps.push(server);
  return (server.address() as AddressInfo).port;
}

async function nginxTest(prefix: NginxPrefix): Promise<{ ok: boolean; output: string }> {
  const [program = 'nginx', ...args] = prefix.command;
  try {
    const { stderr } = await execFileP(program, [...args, '-t']);
    return { ok: true, output: stderr };
  } catch (error) {
    return { ok: false, output: String((error as { stderr?: string }).stderr) };
  }
}

beforeAll(async () => {
  [live, idle] = await Promise.all([nginxPrefix('router'), nginxPrefix('router-idle')]);
  const [bluePort, greenPort, statusPort] = [await colorApp('blue'), await colorApp('green'), await freePort()];
  proxyPort = await freePort();
  site = { app: 'shop-api', bluePort, greenPort, statusPort, splitKey: '$request_id' };
  await live.start();
});

afterAll(async () => {
  const master = await live?.pid();
  await Promise.all([live?.destroy(), idle?.destroy()]);
  if (master !== null && master !== undefined) expect(isAlive(master)).toBe(false);
  await Promise.all(apps.map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('pure parts', () => {
  it('names things after the app', () => {
    expect(nginxName('shop-api')).toBe('agent_loop_shop_api');
    expect(includeFileName('shop-api')).toBe('agent-loop-shop-api.conf');
    expect(statusHost('shop-api')).toBe('agent-loop-shop-api');
    expect(statusPath('shop-api')).toBe('/agent-loop/shop-api');
  });

  it('weightsFor gives a color its percent and the other color the rest', () => {
    expect(weightsFor('blue', 100)).toEqual({ blue: 100, green: 0 });
    expect(weightsFor('green', 10)).toEqual({ blue: 90, green: 10 });
    expect(formatWeights({ blue: 90, green: 10 })).toBe('blue 90% / green 10%');
  });

  it('uses a map for an all-one-color split and split_clients with the smaller share listed otherwise', async () => {
    const all = await renderInclude(site, { blue: 0, green: 100 }, 'g1');
    expect(all).toContain('map $host $agent_loop_shop_api {\n    default agent_loop_shop_api_green;\n}');
    expect(all).not.toContain('split_clients');
    const canary = await renderInclude(site, { blue: 90, green: 10 }, 'g2');
    expect(canary).toContain(
      'split_clients "$request_id" $agent_loop_shop_api {\n    10% agent_loop_shop_api_green;\n    * agent_loop_shop_api_blue;\n}',
    );
    expect(canary).toContain(`server 127.0.0.1:${site.bluePort} max_fails=0;`);
    expect(canary).toContain(`listen 127.0.0.1:${site.statusPort};`);
  });

  it.each([[{ blue: 60, green: 60 }], [{ blue: -10, green: 110 }], [{ blue: 100, green: 1 }]])(
    'refuses weights %j, in the router and in the helper',
    async (weights) => {
      await expect(new NginxRouter(remote, site, '/unused', ['nginx']).setWeights(weights)).rejects.toThrow(
        'weights must be two whole shares that add up to 100',
      );
      await expect(renderInclude(site, weights, 'g')).rejects.toThrow(
        /refused: (each weight must be a whole number from 0 to 100|the weights must be two shares that add up to 100)/,
      );
    },
  );

  it('records the weights and generation in a header that parseIncludeHeader reads back', async () => {
    const content = await renderInclude(site, { blue: 25, green: 75 }, 'gen-7');
    expect(parseIncludeHeader(content)).toEqual({ weights: { blue: 25, green: 75 }, generation: 'gen-7' });
    expect(parseIncludeHeader('# agent-loop: {"weights":{"blue":"x"}}')).toBeNull();
    expect(parseIncludeHeader('# agent-loop: {broken')).toBeNull();
    expect(parseIncludeHeader('server {}')).toBeNull();
  });

  it('passes the records, then the helper and its data as separate words: no path, no content', () => {
    const control = ['sudo', '-n', '/usr/local/sbin/agent-loop-nginx'];
    const argv = switchCommand(control, site, { blue: 90, green: 10 }, 'gen-1') as string[];
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    const key = argv[4] as string;
    expect(key).toMatch(/^[0-9a-f]{24}$/);
    expect([argv[3], ...argv.slice(5)]).toEqual([
      'al-switch',
      '0',
      '0',
      ...control,
      'switch',
      site.app,
      String(site.bluePort),
      String(site.greenPort),
      String(site.statusPort),
      '$request_id',
      '90',
      '10',
      'gen-1',
      '5000',
      key,
    ]);
    expect(readWeightsCommand('/x.conf', site).slice(3)).toEqual([
      'al-weights',
      '/x.conf',
      'agent-loop-shop-api',
      `http://127.0.0.1:${site.statusPort}/agent-loop/shop-api`,
    ]);
  });

  it.each([
    ['an app name with a path in it', { app: '../../sudoers.d/x' }],
    ['an app name with a newline', { app: 'a\nb' }],
    ['a split key that closes the string', { splitKey: '$request_id" $x { 1% y; } include /etc/shadow; #' }],
    ['a privileged status port', { statusPort: 25 }],
    ['a port beyond 65535', { bluePort: 70000 }],
  ])('the helper refuses %s before touching anything', async (_what, change) => {
    await expect(renderInclude({ ...site, ...change } as NginxSite, { blue: 90, green: 10 }, 'g')).rejects.toThrow(
      /refused: /,
    );
  });
});

describe('the rendered include against nginx -t', () => {
  it.each([
    [{ blue: 100, green: 0 }],
    [{ blue: 0, green: 100 }],
    [{ blue: 90, green: 10 }],
    [{ blue: 10, green: 90 }],
    [{ blue: 50, green: 50 }],
  ])('%j is valid nginx configuration', async (weights) => {
    const file = path.join(idle.confDir, includeFileName(site.app));
    await fs.writeFile(file, await renderInclude(site, weights, 'check'));
    try {
      const result = await nginxTest(idle);
      expect(result.output).toContain('test is successful');
      expect(result.ok).toBe(true);
    } finally {
      await fs.rm(file);
    }
  });
});

describe('NginxRouter on a running nginx', () => {
  let router: NginxRouter;
  const includeFile = () => path.join(live.confDir, includeFileName(site.app));

  beforeAll(() => {
    router = new NginxRouter(remote, site, `${live.confDir}/`, live.command);
  });

  it('reads nothing before the first switch', async () => {
    expect(await router.getWeights()).toBeNull();
    expect(router.includePath).toBe(includeFile());
  });

  it('writes the include, reloads nginx and waits until the status server serves it', async () => {
    const result = await router.setWeights({ blue: 100, green: 0 });
    expect(result.weights).toEqual({ blue: 100, green: 0 });
    expect(Number.isFinite(result.liveMs)).toBe(true);
    expect(result.liveMs).toBeGreaterThanOrEqual(0);
    expect(result.liveMs).toBeLessThan(5000);
    const header = parseIncludeHeader(await fs.readFile(includeFile(), 'utf8'));
    expect(header?.weights).toEqual({ blue: 100, green: 0 });
    expect(await servedStatus()).toEqual({
      app: site.app,
      weights: { blue: 100, green: 0 },
      generation: header?.generation,
    });
    expect(await router.getWeights()).toEqual(header);
    expect((await fs.readdir(live.confDir)).sort()).toEqual([includeFileName(site.app)]);
  });

  it('moves real traffic: a site that proxies to $agent_loop_<app> reaches the chosen color', async () => {
    await fs.writeFile(
      path.join(live.sitesDir, 'shop.conf'),
      `server {\n  listen 127.0.0.1:${proxyPort};\n  location / { proxy_pass http://$${nginxName(site.app)}; }\n}\n`,
    );
    await router.setWeights({ blue: 0, green: 100 });
    const answers = await Promise.all(Array.from({ length: 10 }, () => get(proxyPort, '/', 'shop')));
    expect(answers.map((answer) => answer.body)).toEqual(Array(10).fill('green'));

    await router.setWeights({ blue: 50, green: 50 });
    const split = await Promise.all(Array.from({ length: 60 }, () => get(proxyPort, '/', 'shop')));
    const blue = split.filter((answer) => answer.body === 'blue').length;
    expect(blue).toBeGreaterThan(5);
    expect(blue).toBeLessThan(55);
    expect(split.every((answer) => answer.body === 'blue' || answer.body === 'green')).toBe(true);
  });

  it('changes the live generation on every switch and reads the new weights back', async () => {
    const before = await servedStatus();
    const result = await router.setWeights({ blue: 90, green: 10 });
    expect(Number.isFinite(result.liveMs)).toBe(true);
    const after = await servedStatus();
    expect(after.weights).toEqual({ blue: 90, green: 10 });
    expect(after.generation).not.toBe(before.generation);
    expect(await router.getWeights()).toEqual({ weights: { blue: 90, green: 10 }, generation: after.generation });
  });

  it('keeps the previous include and does not reload when nginx -t rejects the new one', async () => {
    const previous = await fs.readFile(includeFile(), 'utf8');
    await live.settle();
    const before = await servedStatus();
    const workers = await live.workers();
    const badKey = new NginxRouter(remote, { ...site, splitKey: '$no_such_variable' }, live.confDir, live.command);
    const error = await badKey.setWeights({ blue: 10, green: 90 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HostError);
    expect((error as Error).message).toContain(
      'nginx-host: nginx rejected the new configuration (the previous file was kept and nginx was not reloaded)',
    );
    // Where, never what: nginx's message quotes what it read (this one names no file).
    expect((error as Error).message).toContain("invalid (nginx -t named no file: see nginx's error log on the host)");
    expect((error as Error).message).not.toContain('no_such_variable');
    expect(await fs.readFile(includeFile(), 'utf8')).toBe(previous);
    // Not reloaded: the same worker process, still serving the old generation.
    expect(await live.workers()).toEqual(workers);
    expect(await servedStatus()).toEqual(before);
    expect((await fs.readdir(live.confDir)).sort()).toEqual([includeFileName(site.app)]);
  });

  it('keeps the previous include when another file breaks the configuration', async () => {
    const previous = await fs.readFile(includeFile(), 'utf8');
    await live.settle();
    const before = await servedStatus();
    const workers = await live.workers();
    const broken = path.join(live.confDir, 'zz-broken.conf');
    await fs.writeFile(broken, 'this is not nginx configuration;\n');
    try {
      const error = await router.setWeights({ blue: 0, green: 100 }).catch((caught: unknown) => caught);
      expect((error as Error).message).toMatch(
        /nginx rejected the new configuration.*invalid at .*zz-broken\.conf:1$/s,
      );
      expect((error as Error).message).not.toContain('this');
      expect(await fs.readFile(includeFile(), 'utf8')).toBe(previous);
      expect(await live.workers()).toEqual(workers);
      expect(await servedStatus()).toEqual(before);
      expect(await router.getWeights()).toEqual({ weights: before.weights, generation: before.generation });
    } finally {
      await fs.rm(broken);
    }
    // With the other file gone, the same switch goes through.
    await router.setWeights({ blue: 0, green: 100 });
    expect((await servedStatus()).weights).toEqual({ blue: 0, green: 100 });
  });

  it('removes a rejected include that had no previous version', async () => {
    const other: NginxSite = { ...site, app: 'other', statusPort: await freePort(), splitKey: '$no_such_variable' };
    const otherRouter = new NginxRouter(remote, other, live.confDir, live.command);
    await expect(otherRouter.setWeights({ blue: 90, green: 10 })).rejects.toThrow(HostError);
    expect(await fs.readdir(live.confDir)).not.toContain(includeFileName('other'));
    expect(await otherRouter.getWeights()).toBeNull();
  });

  it('writes the record of a switch before touching nginx, in the same command, and does not touch nginx when it cannot', async () => {
    const records = path.join(live.dir, 'records');
    await fs.mkdir(records, { recursive: true });
    const record = path.join(records, 'state.json');
    await router.setWeights(
      { blue: 100, green: 0 },
      { before: [{ path: record, content: '{"pending":"to blue"}\n', mode: '644' }] },
    );
    expect(await fs.readFile(record, 'utf8')).toBe('{"pending":"to blue"}\n');
    expect(((await fs.stat(record)).mode & 0o777).toString(8)).toBe('644');
    expect(await fs.readdir(records)).toEqual(['state.json']);

    const previous = await fs.readFile(includeFile(), 'utf8');
    await live.settle();
    const before = await servedStatus();
    const workers = await live.workers();
    await fs.writeFile(path.join(records, 'not-a-folder'), 'x');
    const error = await router
      .setWeights(
        { blue: 0, green: 100 },
        { before: [{ path: path.join(records, 'not-a-folder', 'state.json'), content: '{}', mode: '644' }] },
      )
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HostError);
    expect((error as Error).message).toContain(
      'the switch could not be recorded before making it, so traffic was not touched',
    );
    expect(await fs.readFile(includeFile(), 'utf8')).toBe(previous);
    expect(await live.workers()).toEqual(workers);
    expect(await servedStatus()).toEqual(before);
    expect((await fs.readdir(live.confDir)).sort()).toEqual([includeFileName(site.app)]);
  });

  it('records the outcome in the same command once the new weights are live; when it cannot, says the weights are live', async () => {
    const records = path.join(live.dir, 'outcomes');
    await fs.mkdir(records, { recursive: true });
    const record = path.join(records, 'state.json');
    const done = await router.setWeights(
      { blue: 90, green: 10 },
      {
        before: [{ path: record, content: 'intent\n', mode: '644' }],
        after: [{ path: record, content: 'outcome\n', mode: '644' }],
      },
    );
    expect(done.recorded).toBe(true);
    expect(await fs.readFile(record, 'utf8')).toBe('outcome\n');
    // Confirmed means every worker that accepts a connection serves the new weights: read at once.
    expect((await servedStatus()).weights).toEqual({ blue: 90, green: 10 });
    expect(await fs.readdir(records)).toEqual(['state.json']);

    // The intent can be written, the outcome cannot (its folder is a file): the weights are live.
    const blocked = path.join(records, 'blocked');
    await fs.writeFile(blocked, 'x');
    const error = await router
      .setWeights(
        { blue: 100, green: 0 },
        {
          before: [{ path: record, content: 'intent 2\n', mode: '644' }],
          after: [{ path: path.join(blocked, 'state.json'), content: 'outcome 2\n', mode: '644' }],
        },
      )
      .catch((caught: unknown) => caught);
    expect((error as Error).message).toContain('the new weights are live, but their outcome could not be recorded');
    expect(await fs.readFile(record, 'utf8')).toBe('intent 2\n');
    expect((await servedStatus()).weights).toEqual({ blue: 100, green: 0 });
    expect(parseIncludeHeader(await fs.readFile(includeFile(), 'utf8'))?.weights).toEqual({ blue: 100, green: 0 });
  });

  it('returns only once the workers of the previous configuration are gone: fresh connections agree at once', async () => {
    for (const weights of [
      { blue: 10, green: 90 },
      { blue: 100, green: 0 },
      { blue: 50, green: 50 },
      { blue: 0, green: 100 },
      { blue: 90, green: 10 },
    ]) {
      const previous = await live.workers();
      const result = await router.setWeights(weights);
      // Read at once, no retry: none of them runs any more, so every worker has the new weights.
      expect(running(previous)).toEqual([]);
      expect(result.draining).toBe(0);
      expect(result.settledMs).toBeGreaterThanOrEqual(result.liveMs);
      const answers = await Promise.all(Array.from({ length: 10 }, () => servedStatus()));
      expect(answers.map((answer) => answer.weights)).toEqual(Array(10).fill(weights));
    }
  });

  it('waits for a worker of the previous configuration that gets no CPU, even where /proc/uptime is another clock (a container under LXCFS)', async () => {
    // The helper runs where /proc/uptime says 50 s (LXCFS gives a container its own): workers' start
    // times are on the kernel's clock, and must be compared with a process started by the switch.
    const uptime = path.join(live.dir, 'container-uptime');
    await fs.writeFile(uptime, '50.00 40.00\n');
    const local = localRemote('container');
    const container: Remote = {
      ...local,
      run: (argv, options) =>
        local.run(
          [
            'unshare',
            '--mount',
            '--propagation',
            'private',
            'sh',
            '-c',
            'mount --bind "$0" /proc/uptime && exec "$@"',
            uptime,
            ...argv,
          ],
          options,
        ),
    };
    const inContainer = new NginxRouter(container, site, live.confDir, live.command);
    await live.settle();
    const [previous] = await live.workers();
    // Stopped, the previous worker keeps its listening socket and cannot be told to close it.
    process.kill(previous!, 'SIGSTOP');
    let resumedAt = 0;
    const resume = setTimeout(() => {
      resumedAt = Date.now();
      process.kill(previous!, 'SIGCONT');
    }, 300);
    try {
      const result = await inContainer.setWeights({ blue: 30, green: 70 });
      // Not before the previous worker could run again, close its sockets and exit.
      expect(resumedAt).toBeGreaterThan(0);
      expect(running([previous!])).toEqual([]);
      expect(result.draining).toBe(0);
      const answers = await Promise.all(Array.from({ length: 10 }, () => servedStatus()));
      expect(answers.map((answer) => answer.weights)).toEqual(Array(10).fill({ blue: 30, green: 70 }));
    } finally {
      clearTimeout(resume);
      if (running([previous!]).length > 0) process.kill(previous!, 'SIGCONT');
    }
  });

  const drainingTitle =
    'says when a previous worker still finishes a connection it had: ' +
    'it takes no new one, and a request on that one still gets the previous weights';
  it(drainingTitle, async () => {
    await live.settle();
    const [previous] = await live.workers();
    const before = await servedStatus();
    // A client that connected before the switch and sends its request after it.
    const held = net.connect(site.statusPort, '127.0.0.1');
    await once(held, 'connect');
    try {
      // The setting, not the outcome: wait until the previous worker has accepted it.
      const deadline = Date.now() + 2000;
      const connection = () => tcpInodes((local, remote) => local === site.statusPort && remote === held.localPort);
      while (!connection().some((inode) => socketsOf(previous!).has(inode))) {
        if (Date.now() > deadline) throw new Error(`worker ${previous} did not accept the connection`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const result = await router.setWeights({ blue: 60, green: 40 });
      expect(result.draining).toBe(1);
      expect(running([previous!])).toEqual([previous]);
      expect(listens(previous!)).toBe(false);
      const answers = await Promise.all(Array.from({ length: 10 }, () => servedStatus()));
      expect(answers.map((answer) => answer.weights)).toEqual(Array(10).fill({ blue: 60, green: 40 }));

      held.write(`GET ${statusPath(site.app)} HTTP/1.1\r\nHost: ${statusHost(site.app)}\r\nConnection: close\r\n\r\n`);
      let response = '';
      held.setEncoding('utf8').on('data', (chunk: string) => (response += chunk));
      await once(held, 'end');
      const answer = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as {
        weights: Weights;
        worker: number;
      };
      expect(answer).toMatchObject({ weights: before.weights, worker: previous });
    } finally {
      held.destroy();
    }
  });

  it(
    'fails, and puts the previous file back, when the worker that answered cannot be seen (nginx in another PID namespace)',
    { timeout: 15_000 },
    async () => {
      const isolated = await nginxPrefix('router-pidns');
      // nginx as the first process of its own PID namespace: the pids it reports ($pid) name other processes here.
      const unshare = spawn('unshare', ['--pid', '--fork', '--kill-child', ...isolated.command, '-g', 'daemon off;'], {
        stdio: 'ignore',
      });
      try {
        const deadline = Date.now() + 5000;
        let master = 0;
        while (
          !(master = Number(
            readFileSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`, 'utf8').trim().split(' ')[0],
          )) ||
          !(await isolated.pid())
        ) {
          if (Date.now() > deadline) throw new Error('nginx did not start in its PID namespace');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const other: NginxSite = { ...site, statusPort: await freePort() };
        const router = new NginxRouter(remote, other, isolated.confDir, [
          'nsenter',
          '-t',
          String(master),
          '-p',
          ...isolated.command,
        ]);
        const error = await router.setWeights({ blue: 100, green: 0 }).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(HostError);
        expect((error as Error).message).toMatch(
          new RegExp(
            [
              String.raw`nginx did not serve the new weights on every worker: nginx reloaded, `,
              String.raw`but the worker that served the new weights \(pid \d+\) is `,
              String.raw`(not in \/proc here|not, in \/proc here, an nginx worker this reload started) `,
              String.raw`\(does nginx run in another PID namespace\?\), `,
              String.raw`so whether a worker of the previous configuration still takes connections cannot be told; `,
              String.raw`the previous file was put back \(restored\)`,
            ].join(''),
          ),
        );
        expect(await fs.readdir(isolated.confDir)).toEqual([]);
      } finally {
        unshare.kill('SIGKILL');
        await once(unshare, 'close');
        await isolated.destroy();
      }
    },
  );

  it('confirms the switch with one curl for all its polls, and with a curl that has no --rate (before 7.84) too', async () => {
    const curl = (await execFileP('sh', ['-c', 'command -v curl'])).stdout.trim();
    const calls = path.join(live.dir, 'curl-calls');
    const wrapped = async (name: string, body: string): Promise<NginxRouter> => {
      const bin = path.join(live.dir, name);
      await fs.mkdir(bin, { recursive: true });
      await fs.writeFile(path.join(bin, 'curl'), `#!/bin/sh\necho "$*" >> ${calls}\n${body}\nexec ${curl} "$@"\n`, {
        mode: 0o755,
      });
      return new NginxRouter(
        localRemote(name, { ...process.env, PATH: `${bin}:${process.env.PATH}` }),
        site,
        live.confDir,
        live.command,
      );
    };
    const current = await wrapped('curl-counted', '');
    await fs.rm(calls, { force: true });
    await current.setWeights({ blue: 10, green: 90 });
    expect((await fs.readFile(calls, 'utf8')).trim().split('\n')).toEqual([expect.stringContaining('--rate 50/s')]);

    const old = await wrapped(
      'curl-old',
      'for a; do [ "$a" = --rate ] && { echo "curl: option --rate: is unknown" >&2; exit 2; }; done',
    );
    const result = await old.setWeights({ blue: 0, green: 100 });
    expect(result.liveMs).toBeGreaterThanOrEqual(0);
    expect((await servedStatus()).weights).toEqual({ blue: 0, green: 100 });
  });

  it('reports a missing include folder before touching nginx', async () => {
    const missing = new NginxRouter(remote, site, path.join(live.dir, 'no-such-dir'), live.command);
    await expect(missing.setWeights({ blue: 100, green: 0 })).rejects.toThrow(
      /writing the nginx include failed: the nginx include directory .*no-such-dir does not exist/,
    );
  });
});

describe('NginxRouter when nginx does not run', () => {
  it('puts the previous state back when the reload fails, and reads weights from the file', async () => {
    const other: NginxSite = { ...site, statusPort: await freePort() };
    const router = new NginxRouter(remote, other, idle.confDir, idle.command);
    const error = await router.setWeights({ blue: 100, green: 0 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HostError);
    expect((error as Error).message).toMatch(
      /nginx could not be reloaded \(the previous file was put back\): .*nginx\.pid/s,
    );
    expect(await fs.readdir(idle.confDir)).toEqual([]);

    // A file left by an earlier run is read when no status server answers.
    await fs.writeFile(
      path.join(idle.confDir, includeFileName(site.app)),
      await renderInclude(other, { blue: 30, green: 70 }, 'from-file'),
    );
    try {
      expect(await router.getWeights()).toEqual({ weights: { blue: 30, green: 70 }, generation: 'from-file' });
    } finally {
      await fs.rm(path.join(idle.confDir, includeFileName(site.app)));
    }
  });
});
