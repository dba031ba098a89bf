// HaproxyRouter against a real HAProxy (Debian's 2.6): weights set on its admin socket, read back,
// and put back when HAProxy refuses them; its arguments checked before any command is sent.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError, HostError } from '../src/action';
import type { Argv, ExecResult, Remote } from '../src/hosts';
import {
  HaproxyRouter,
  haproxyReadCommand,
  haproxyRecordPath,
  haproxySwitchCommand,
  parseHaproxyView,
  parseIncludeHeader,
  type HaproxySite,
  type Weights,
} from '../src/traffic';
import { startTraffic } from '../../../test/lab/traffic';
import { localRemote, tempDir } from './support/local-remote';
import { APP, colorApps, colorsServed, get, haproxyWorld, type ColorApps, type HaproxyWorld } from './support/routers';

const execFileP = promisify(execFile);

/** A Remote that only records what it is asked to run. */
function recordingRemote(): Remote & { calls: Argv[] } {
  const calls: Argv[] = [];
  return {
    label: 'recorded',
    calls,
    run(argv: Argv): Promise<ExecResult> {
      calls.push(argv);
      return Promise.resolve({ code: 0, stdout: '', stderr: '' });
    },
    close() {},
  };
}

const site: HaproxySite = { app: APP, socket: '/run/haproxy/admin.sock', backend: 'shop_api' };

describe('arguments, checked before any command is sent', () => {
  it.each([
    ['a relative socket path', { socket: 'run/haproxy.sock' }],
    ['a socket path with ..', { socket: '/run/../etc/haproxy.sock' }],
    ['a socket path with a socat option', { socket: '/run/haproxy.sock,fork' }],
    ['a socket path with a colon', { socket: '/run/x:y' }],
    ['a socket path with a space', { socket: '/run/haproxy admin.sock' }],
    ['a socket path longer than a unix socket allows', { socket: `/${'s'.repeat(107)}` }],
    ['a backend with a second command', { backend: 'shop; disable frontend www' }],
    ['a backend with a space', { backend: 'shop api' }],
    ['a backend with a new line', { backend: 'shop\nshutdown sessions' }],
    ['a backend with a slash', { backend: 'shop/blue' }],
    ['an empty backend', { backend: '' }],
    ['an app name with a path', { app: '../x' }],
  ])('refuses %s', (_what, change) => {
    const remote = recordingRemote();
    expect(() => new HaproxyRouter(remote, { ...site, ...change }, '/var/lib/agent-loop')).toThrow(ConfigurationError);
    expect(remote.calls).toEqual([]);
  });

  it('refuses a state folder with ..', () => {
    expect(() => new HaproxyRouter(recordingRemote(), site, '/var/lib/../../etc')).toThrow(/invalid state-dir/);
  });

  it.each([
    [{ blue: 60, green: 60 }],
    [{ blue: -10, green: 110 }],
    [{ blue: 100, green: 1 }],
    [{ blue: 9.5, green: 90.5 }],
  ])('refuses weights %j', async (weights) => {
    const remote = recordingRemote();
    await expect(new HaproxyRouter(remote, site, '/var/lib/agent-loop').setWeights(weights)).rejects.toThrow(
      'weights must be two whole shares that add up to 100',
    );
    expect(remote.calls).toEqual([]);
  });

  it('the switch command checks its arguments again, before writing anything or running socat', async () => {
    const dir = await tempDir('haproxy-args');
    try {
      const record = path.join(dir, 'record');
      for (const [bad, message] of [
        [{ ...site, backend: 'a;b' }, 'refused: the HAProxy backend'],
        [{ ...site, socket: 'relative.sock' }, 'refused: the HAProxy socket must be an absolute path'],
      ] as const) {
        const [program = 'sh', ...args] = haproxySwitchCommand(bad, { blue: 90, green: 10 }, [
          { path: record, content: 'x', mode: '644' },
        ]) as Argv;
        const error = (await execFileP(program, args).catch((caught: unknown) => caught)) as {
          code: number;
          stderr: string;
        };
        expect(error.code).toBe(2);
        expect(error.stderr).toContain(message);
      }
      await expect(fs.access(record)).rejects.toThrow();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('passes the socket, backend and weights as separate words, and keeps its record next to the state', () => {
    const argv = haproxySwitchCommand(site, { blue: 90, green: 10 }) as string[];
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv[3]).toBe('al-haproxy-switch');
    expect(argv[4]).toMatch(/^[0-9a-f]{24}$/);
    expect(argv.slice(5)).toEqual(['/run/haproxy/admin.sock', 'shop_api', '90', '10', '0', '0']);
    expect(haproxyReadCommand(site, '/x/record').slice(3)).toEqual([
      'al-haproxy-weights',
      '/run/haproxy/admin.sock',
      'shop_api',
      '/x/record',
    ]);
    expect(haproxyRecordPath('/var/lib/agent-loop/', 'shop-api')).toBe('/var/lib/agent-loop/shop-api/haproxy.weights');
  });
});

describe("docs/hosts.md's HAProxy configuration", () => {
  it('is valid for HAProxy 2.6, with the socket a deploy user reaches through its group', async () => {
    const readme = await fs.readFile(path.join(import.meta.dirname, '../../../docs/hosts.md'), 'utf8');
    const config = /```haproxy\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(config).toContain('stats socket /run/haproxy/agent-loop.sock mode 660 group agent-loop level admin');
    expect(config).toContain('server blue 127.0.0.1:8001 weight 0');
    const dir = await tempDir('haproxy-readme');
    try {
      // `group` names a group of this machine: the README's does not exist here.
      const file = path.join(dir, 'haproxy.cfg');
      await fs.writeFile(
        file,
        (config as string)
          .replace('group agent-loop', 'group nogroup')
          .replaceAll('/run/haproxy/', `${dir}/`)
          .replaceAll('/var/lib/haproxy/', `${dir}/`),
      );
      const checked = await execFileP('haproxy', ['-c', '-f', file]);
      expect(checked.stdout).toContain('Configuration file is valid');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('reading what HAProxy serves (pure)', () => {
  const record = (weights: Weights, generation: string) => `file ${JSON.stringify({ app: APP, weights, generation })}`;

  it('takes the weights as shares when they add up to 100, and the record’s generation when it says the same', () => {
    expect(parseHaproxyView(`weights 90 10\n${record({ blue: 90, green: 10 }, 'g-1')}\nend\n`)).toEqual({
      live: { weights: { blue: 90, green: 10 }, generation: 'g-1' },
      file: { weights: { blue: 90, green: 10 }, generation: 'g-1' },
      health: {},
      unread: null,
    });
  });

  it('names the generation after the weights when the record says otherwise (HAProxy restarted, or someone else set them)', () => {
    expect(parseHaproxyView(`weights 0 100\n${record({ blue: 90, green: 10 }, 'g-1')}\nend\n`).live).toEqual({
      weights: { blue: 0, green: 100 },
      generation: 'haproxy-0-100',
    });
  });

  it('scales weights an admin set to shares, and reads both at 0 or an unreadable socket as nothing served', () => {
    expect(parseHaproxyView('weights 1 3\nend\n').live?.weights).toEqual({ blue: 25, green: 75 });
    expect(parseHaproxyView('weights 0 0\nend\n').live).toBeNull();
    const unread = parseHaproxyView(
      `unread HAProxy answered 'No such backend.'\n${record({ blue: 100, green: 0 }, 'g-2')}\nend\n`,
    );
    expect(unread.live).toBeNull();
    expect(unread.file?.weights).toEqual({ blue: 100, green: 0 });
    expect(unread.unread).toBe("HAProxy answered 'No such backend.'");
  });
});

describe('HaproxyRouter on a running HAProxy', () => {
  let apps: ColorApps;
  let world: HaproxyWorld;
  let router: HaproxyRouter;
  let socketsDir: string;
  const levelSocket = (level: 'user' | 'operator') => path.join(socketsDir, `${level}.sock`);
  /** The weights as HAProxy itself reports them on its admin socket. */
  const haproxySays = async (backend = world.haproxy.backend): Promise<string> =>
    (await world.haproxy.cli(`get weight ${backend}/blue; get weight ${backend}/green`))
      .trim()
      .split(/\n+/)
      .map((line) => line.split(' ')[0])
      .join('/');

  beforeAll(async () => {
    apps = await colorApps();
    socketsDir = await tempDir('haproxy-sockets');
    world = await haproxyWorld(apps, {
      extraSockets: [
        { path: levelSocket('user'), level: 'user' },
        { path: levelSocket('operator'), level: 'operator' },
      ],
      // A static algorithm takes only 0 or the configured weight.
      extraConfig: [
        '',
        'backend legacy',
        '  balance static-rr',
        `  server blue 127.0.0.1:${apps.bluePort} weight 100`,
        `  server green 127.0.0.1:${apps.greenPort} weight 100`,
        '',
      ].join('\n'),
    });
    router = world.router();
  });
  afterAll(async () => {
    await world?.stop();
    await apps?.close();
    if (socketsDir) await fs.rm(socketsDir, { recursive: true, force: true });
  });

  it('sets the weights as they are (10% is weight 10) with no reload and no new process, and reads them back', async () => {
    const pid = world.haproxy.pid();
    const result = await router.setWeights({ blue: 90, green: 10 });
    expect(result).toMatchObject({ weights: { blue: 90, green: 10 }, recorded: false });
    expect(result.settledMs).toBe(result.liveMs);
    expect(result.liveMs).toBeGreaterThan(0);
    expect(await haproxySays()).toBe('90/10');
    // Round robin over weights 90 and 10: exactly one request in ten goes to green.
    expect(await colorsServed(world.url, 100)).toEqual({ blue: 90, green: 10 });
    expect(world.haproxy.pid()).toBe(pid);
    const header = parseIncludeHeader(await fs.readFile(router.recordPath, 'utf8'));
    expect(header?.weights).toEqual({ blue: 90, green: 10 });
    expect(await router.getWeights()).toEqual(header);
  });

  it('a weight of 0 takes no new request; a request in flight finishes, and a keep-alive connection stays open', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await router.setWeights({ blue: 100, green: 0 });
      expect((await get(world.url, agent)).body).toBe('blue');
      const slow = get(`${world.url}slow`, false);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await router.setWeights({ blue: 0, green: 100 });
      expect(await slow).toMatchObject({ status: 200, body: 'blue' });
      const after: Array<{ body: string; reused: boolean }> = [];
      for (let i = 0; i < 5; i++) after.push(await get(world.url, agent));
      expect(after.map((answer) => answer.body)).toEqual(Array(5).fill('green'));
      // The same client connection carried the requests before and after the change.
      expect(after.map((answer) => answer.reused)).toEqual(Array(5).fill(true));
    } finally {
      agent.destroy();
    }
  });

  it.each(['user', 'operator'] as const)(
    'fails a switch the socket refuses (a socket at level %s), and the previous weights stay live',
    async (level) => {
      const before = await haproxySays();
      const record = await fs.readFile(router.recordPath, 'utf8');
      const userLevel = new HaproxyRouter(
        localRemote('haproxy-host'),
        { app: APP, socket: levelSocket(level), backend: world.haproxy.backend },
        world.stateDir,
      );
      const error = await userLevel.setWeights({ blue: 50, green: 50 }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(HostError);
      expect((error as Error).message).toBe(
        "haproxy-host: HAProxy refused the weight command: HAProxy answered 'Permission denied'; " +
          'the previous weights (blue 0, green 100) are still the ones served',
      );
      expect(await haproxySays()).toBe(before);
      expect(await fs.readFile(router.recordPath, 'utf8')).toBe(record);
    },
  );

  it('fails a switch HAProxy refuses part of (the second server), and puts the first one back', async () => {
    // The growing share is set first: green 100 → 0 means blue first, then a green HAProxy does not know.
    const refusing = await world.withSocat(
      'second-refused',
      [
        `line=$(cat); case $line in "set server"*) [ -e "${world.dir}/refused-once" ] || {`,
        `  : > "${world.dir}/refused-once"; line=$(printf '%s' "$line" | sed 's#/green weight#/nosuch weight#'); } ;; esac`,
        `printf '%s\\n' "$line" | exec "$REAL_SOCAT" "$@"`,
      ].join('\n'),
    );
    const error = await refusing.setWeights({ blue: 100, green: 0 }).catch((caught: unknown) => caught);
    expect((error as Error).message).toBe(
      `haproxy-host: HAProxy refused the weight command: HAProxy answered 'No such server.'; the previous weights (blue 0, green 100) were put back`,
    );
    expect(await haproxySays()).toBe('0/100');
    expect(await colorsServed(world.url, 10)).toEqual({ green: 10 });
  });

  it('fails a switch on a backend whose algorithm refuses the weight, and changes nothing', async () => {
    const legacy = new HaproxyRouter(
      localRemote('haproxy-host'),
      { app: APP, socket: world.haproxy.socket, backend: 'legacy' },
      world.stateDir,
    );
    const error = await legacy.setWeights({ blue: 90, green: 10 }).catch((caught: unknown) => caught);
    expect((error as Error).message).toContain(
      "HAProxy refused the weight command: HAProxy answered 'Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.'",
    );
    expect(await haproxySays('legacy')).toBe('100/100');
  });

  it('touches nothing when the backend or socat is missing, or the socket does not answer', async () => {
    const cases: Array<[HaproxyRouter, RegExp]> = [
      [
        new HaproxyRouter(
          localRemote('haproxy-host'),
          { app: APP, socket: world.haproxy.socket, backend: 'no_such_backend' },
          world.stateDir,
        ),
        /HAProxy could not be asked for its weights, so traffic was not touched: HAProxy answered 'No such backend\.'; nothing was changed$/,
      ],
      [
        new HaproxyRouter(
          localRemote('haproxy-host'),
          { app: APP, socket: path.join(world.dir, 'nothing-here.sock'), backend: world.haproxy.backend },
          world.stateDir,
        ),
        /HAProxy's admin socket .*nothing-here\.sock could not be reached: .*No such file or directory.*; nothing was changed$/,
      ],
    ];
    const noSocat = path.join(world.dir, 'no-socat');
    await fs.mkdir(noSocat, { recursive: true });
    for (const tool of ['sh', 'date', 'sed', 'cut', 'mkdir', 'mv', 'rm'])
      await fs.symlink((await execFileP('sh', ['-c', `command -v ${tool}`])).stdout.trim(), path.join(noSocat, tool));
    cases.push([
      new HaproxyRouter(
        localRemote('haproxy-host', { PATH: noSocat }),
        { app: APP, socket: world.haproxy.socket, backend: world.haproxy.backend },
        world.stateDir,
      ),
      /socat is not installed on this host \(Debian's package socat\)/,
    ]);
    for (const [other, message] of cases) {
      await expect(other.setWeights({ blue: 50, green: 50 })).rejects.toThrow(message);
      expect(await haproxySays()).toBe('0/100');
    }
  });

  it('puts the previous weights back when HAProxy reads back other weights than those set', async () => {
    const unconfirmed = await world.unconfirmed();
    const error = await unconfirmed.setWeights({ blue: 50, green: 50 }).catch((caught: unknown) => caught);
    expect((error as Error).message).toBe(
      'haproxy-host: HAProxy did not serve the new weights: HAProxy reads back blue 1, green 1; the previous weights (blue 0, green 100) were put back',
    );
    expect(await haproxySays()).toBe('0/100');
  });

  it('reads the weights HAProxy serves even when they are not the recorded ones, and tells them apart', async () => {
    await world.haproxy.cli(
      `set server ${world.haproxy.backend}/blue weight 30; set server ${world.haproxy.backend}/green weight 70`,
    );
    const view = await router.inspect();
    expect(view.live).toEqual({ weights: { blue: 30, green: 70 }, generation: 'haproxy-30-70' });
    expect(view.file?.weights).toEqual({ blue: 0, green: 100 });
    await router.setWeights({ blue: 0, green: 100 });
    expect((await router.inspect()).live).toEqual((await router.inspect()).file);
  });

  it('moves traffic under keep-alive load with no failed request and no connection reset', async () => {
    const traffic = startTraffic({ url: world.url, concurrency: 16, durationMs: 60_000, retryOnReset: false });
    const pid = world.haproxy.pid();
    let switches = 0;
    for (let round = 0; round < 5; round++) {
      for (const weights of [
        { blue: 90, green: 10 },
        { blue: 100, green: 0 },
        { blue: 10, green: 90 },
        { blue: 0, green: 100 },
      ]) {
        await router.setWeights(weights);
        switches++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const result = await traffic.stop();
    expect(switches).toBe(20);
    expect(result.sent).toBeGreaterThan(200);
    expect({ failed: result.failed, resets: result.resets, non2xx: result.non2xx }).toEqual({
      failed: 0,
      resets: 0,
      non2xx: 0,
    });
    expect(world.haproxy.pid()).toBe(pid);
  });
});
