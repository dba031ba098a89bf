// What the deploy user needs of a host behind HAProxy, and what host-setup says of it, against a
// real HAProxy (Debian's 2.6): socat, the admin socket (there, answering, the user's through its
// group), level admin, the app's backend with the servers blue and green. nginx is not looked at.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../src/action';
import type { Argv, HostSpec, Remote } from '../src/hosts';
import { doctor, judgeDoctor } from '../src/runtime/doctor';
import { parseDoctor } from '../src/runtime/doctor-script';
import {
  judgePreflight,
  parsePreflight,
  preflight,
  preflightCommand,
  type PreflightFacts,
} from '../src/runtime/preflight';
import type { HaproxySite } from '../src/traffic/haproxy';
import {
  haproxyPrerequisites,
  judgeHaproxy,
  parseHaproxyFacts,
  type HaproxyFacts,
} from '../src/traffic/haproxy-prerequisites';
import { haproxySetup } from '../src/traffic/haproxy-setup';
import { helperFile, routerPrerequisites, routers } from '../src/traffic';
import { setupHost } from '../src/hosts';
import { upkeepCommand } from '../src/procedures/maintenance';
import { APP, colorApps, haproxyWorld, type ColorApps, type HaproxyWorld } from './support/routers';
import { localRemote, tempDir } from './support/local-remote';

const execFileP = promisify(execFile);

const site: HaproxySite = { app: APP, socket: '/run/haproxy/agent-loop.sock', backend: 'shop_api' };
const ports = { blue: 8001, green: 8002 };
const ready: HaproxyFacts = {
  user: 'deploy',
  socat: true,
  socket: 'usable',
  group: 'agent-loop',
  mode: '660',
  level: 'admin',
  blue: '0 (initial 0)',
  green: '0 (initial 0)',
  unreachable: '',
};

describe('judgeHaproxy: each thing missing with the command that fixes it', () => {
  it('finds nothing missing on a ready host', () => {
    expect(judgeHaproxy(ready, site, ports)).toEqual([]);
  });

  it('asks for socat', () => {
    expect(judgeHaproxy({ ...ready, socat: false, level: '', blue: '', green: '' }, site, ports)).toEqual([
      {
        problem: "socat is not installed (the HAProxy router sends HAProxy's runtime API commands through it)",
        fix: 'sudo apt-get install -y --no-install-recommends socat',
      },
    ]);
  });

  it("gives the deploy user the socket through the socket's own group, or says which line gives it one", () => {
    const [throughGroup] = judgeHaproxy({ ...ready, socket: 'denied', level: '', blue: '', green: '' }, site, ports);
    expect(throughGroup).toEqual({
      problem: "deploy may not use HAProxy's admin socket /run/haproxy/agent-loop.sock (group agent-loop, mode 660)",
      fix: 'sudo usermod -aG agent-loop deploy (the next SSH login of deploy has it)',
    });
    // Debian's default socket is root's and 600 (or group haproxy at 660, which HAProxy's own processes use): a group of its own is asked for.
    const [rootOnly] = judgeHaproxy({ ...ready, socket: 'denied', group: 'root', mode: '600' }, site, ports);
    expect(rootOnly?.fix).toBe(
      "in the global section of HAProxy's configuration write " +
        "'stats socket /run/haproxy/agent-loop.sock mode 660 group agent-loop level admin', then: " +
        'sudo groupadd -f agent-loop && sudo usermod -aG agent-loop deploy && sudo systemctl reload haproxy',
    );
    expect(rootOnly?.kind).toBe('configuration');
    expect(judgeHaproxy({ ...ready, socket: 'denied', group: 'agent-loop', mode: '600' }, site, ports)[0]?.fix).toMatch(
      /^in the global section/,
    );
  });

  it('names a missing socket, a socket at a lower level, a missing backend or server', () => {
    expect(judgeHaproxy({ ...ready, socket: 'missing' }, site, ports).map((item) => item.problem)).toEqual([
      "HAProxy's admin socket /run/haproxy/agent-loop.sock does not exist (haproxy-socket): " +
        'HAProxy is not running, or no stats socket of its configuration has that path',
    ]);
    expect(judgeHaproxy({ ...ready, level: 'operator' }, site, ports)).toEqual([
      {
        problem:
          "HAProxy's admin socket /run/haproxy/agent-loop.sock is at level operator: setting a server's weight needs level admin",
        fix:
          "write 'level admin' on that stats socket line " +
          "('stats socket /run/haproxy/agent-loop.sock mode 660 group agent-loop level admin'), " +
          'then reload HAProxy (sudo systemctl reload haproxy)',
        kind: 'configuration',
      },
    ]);
    expect(judgeHaproxy({ ...ready, blue: 'No such backend.', green: 'No such backend.' }, site, ports)).toEqual([
      {
        problem: 'HAProxy has no backend shop_api (haproxy-backend)',
        fix:
          "add 'backend shop_api' with 'balance roundrobin', 'server blue 127.0.0.1:8001 weight 0' " +
          "and 'server green 127.0.0.1:8002 weight 0' to HAProxy's configuration, " +
          'then reload HAProxy (sudo systemctl reload haproxy); or correct haproxy-backend',
        kind: 'configuration',
      },
    ]);
    expect(judgeHaproxy({ ...ready, green: 'No such server.' }, site, ports).map((item) => item.fix)).toEqual([
      "add 'server green 127.0.0.1:8002 weight 0' to backend shop_api, then reload HAProxy (sudo systemctl reload haproxy)",
    ]);
    expect(
      judgeHaproxy(
        { ...ready, unreachable: 'E connect(5, AF=1 "/run/haproxy/agent-loop.sock", 31): Connection refused' },
        site,
        ports,
      )[0]?.problem,
    ).toMatch(/^HAProxy does not answer on its admin socket \/run\/haproxy\/agent-loop.sock: E connect/);
  });

  it('reads the first value of each key, and a socket it cannot tell as denied', () => {
    expect(
      parseHaproxyFacts(
        'user=deploy\nsocat=yes\nsocket=usable\ngroup=g\nmode=660\nlevel=admin\nblue=1 (initial 0)\ngreen=99 (initial 0)\nlevel=user\n',
      ),
    ).toEqual({ ...ready, group: 'g', blue: '1 (initial 0)', green: '99 (initial 0)' });
    expect(parseHaproxyFacts('user=x\nsocket=???\n').socket).toBe('denied');
  });
});

describe('the doctor and the preflight look at HAProxy, not nginx, when it moves the traffic', () => {
  const nginxFree: PreflightFacts = {
    freeDiskMb: 5000,
    freeMemoryMb: 5000,
    curl: true,
    nginxOk: false,
    nginxOutput: '',
    includeDir: false,
    root: false,
    server: null,
    nginxSkipped: true,
  };

  it('sends no nginx command line, and judges no nginx', () => {
    const argv = preflightCommand(
      '/var/lib/agent-loop',
      '/etc/nginx/conf.d',
      ['sudo', '-n', '/usr/local/sbin/agent-loop-nginx'],
      { app: 'web', accessLog: '/var/log/haproxy.log' },
      false,
    );
    expect(argv.slice(4)).toEqual(['/var/lib/agent-loop', '/etc/nginx/conf.d', 'web', '/var/log/haproxy.log']);
    expect(
      judgePreflight(nginxFree, { minFreeDiskMb: 1, minFreeMemoryMb: 1 }, '/etc/nginx/conf.d', ['sudo', 'nginx']),
    ).toEqual([]);
    expect(parsePreflight('uid=1000\ndisk_kb=1024000\nmem_kb=1024000\ncurl=yes\nnginx=skipped\n').nginxSkipped).toBe(
      true,
    );
    const doctorFacts = parseDoctor(
      'user=deploy\nuid=1000\nstate=writable\nnginx=skipped\ncurl=no\nsudo=no\nlog=denied\n',
    );
    expect(doctorFacts.nginxSkipped).toBe(true);
    expect(
      judgeDoctor(doctorFacts, {
        stateDir: '/var/lib/agent-loop',
        includeDir: '/etc/nginx/conf.d',
        nginx: ['nginx'],
        accessLog: '/var/log/haproxy.log',
      }).map((item) => item.problem),
    ).toEqual([
      'curl is not installed (the health checks run it on the host)',
      'deploy cannot read the access log /var/log/haproxy.log (access-log)',
    ]);
  });
});

// ------------------------------------------------------------------------------ a real HAProxy

let apps: ColorApps;
let world: HaproxyWorld;
let host: HostSpec;
const group = `alhp${process.pid % 100000}`;
const user = `alhpu${process.pid % 100000}`;

beforeAll(async () => {
  apps = await colorApps();
  world = await haproxyWorld(apps, { backend: 'shop_api', extraSockets: [] });
  host = {
    target: { user: 'root', host: '127.0.0.1', port: 22, label: 'haproxy-host' },
    bluePort: apps.bluePort,
    greenPort: apps.greenPort,
    nginxStatusPort: 8099,
    stateDir: world.stateDir,
    // No nginx on this "host": none of it is looked at.
    nginxConfDir: path.join(world.dir, 'no-nginx-here'),
    nginxCommand: ['/nonexistent/nginx'],
    accessLog: '',
    haproxySocket: world.haproxy.socket,
    haproxyBackend: 'shop_api',
  };
  spawnSync('userdel', [user]);
  spawnSync('groupdel', [group]);
  for (const [command, args] of [
    ['groupadd', [group]],
    ['useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh', user]],
  ] as const) {
    const made = spawnSync(command, args, { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${made.stderr}`);
  }
  // The socket as the README has it: in a group of its own, mode 660. Its folder is the test's, which the user may enter.
  await fs.chmod(world.dir, 0o755);
  await fs.chmod(path.dirname(world.haproxy.socket), 0o755);
  await execFileP('chgrp', [group, world.haproxy.socket]);
  await fs.chmod(world.haproxy.socket, 0o660);
});

afterAll(async () => {
  spawnSync('userdel', [user]);
  spawnSync('groupdel', [group]);
  await world?.stop();
  await apps?.close();
});

/** The deploy user's login: every command run as `user`, as its SSH session would (runuser sets its groups from /etc/group). */
function asUser(name: string): Remote {
  const local = localRemote(name);
  return {
    ...local,
    label: name,
    run: (argv: Argv, options) => local.run(['runuser', '-u', name, '--', ...argv], options),
  };
}

describe('on a real HAProxy', () => {
  it("tells the admin, then the deploy user, that the user needs the socket's group, and is satisfied once it has it", async () => {
    const before = await haproxySetup(
      localRemote('admin'),
      { app: APP, socket: world.haproxy.socket, backend: 'shop_api' },
      user,
    );
    expect(before).toContainEqual({
      outcome: 'ok',
      what: "socat is installed (HAProxy's runtime API is reached through it)",
    });
    expect(before).toContainEqual({
      outcome: 'todo',
      what:
        `${user} may not use HAProxy's admin socket ${world.haproxy.socket} (group ${group}, mode 660): ` +
        `sudo usermod -aG ${group} ${user} (the next SSH login of ${user} has it)`,
    });
    const denied = await haproxyPrerequisites(
      asUser(user),
      { app: APP, socket: world.haproxy.socket, backend: 'shop_api' },
      ports,
    );
    expect(denied).toEqual([
      {
        problem: `${user} may not use HAProxy's admin socket ${world.haproxy.socket} (group ${group}, mode 660)`,
        fix: `sudo usermod -aG ${group} ${user} (the next SSH login of ${user} has it)`,
      },
    ]);

    // The todo's command, as the admin runs it.
    await execFileP('usermod', ['-aG', group, user]);
    expect(
      await haproxySetup(localRemote('admin'), { app: APP, socket: world.haproxy.socket, backend: 'shop_api' }, user),
    ).toContainEqual({
      outcome: 'ok',
      what: `${user} may use HAProxy's admin socket ${world.haproxy.socket} (through its group)`,
    });
    expect(
      await haproxyPrerequisites(asUser(user), { app: APP, socket: world.haproxy.socket, backend: 'shop_api' }, ports),
    ).toEqual([]);
    // The router registry gives the same check to the doctor and host-setup.
    expect(await routers.get('haproxy').prerequisites?.({ remote: asUser(user), host, app: APP })).toEqual([]);
  });

  it('names a backend HAProxy does not have, and a socket that is not there or does not answer', async () => {
    const missingBackend = await haproxyPrerequisites(
      localRemote(),
      { app: APP, socket: world.haproxy.socket, backend: 'shop_web' },
      ports,
    );
    expect(missingBackend.map((item) => item.problem)).toEqual(['HAProxy has no backend shop_web (haproxy-backend)']);
    const gone = await haproxyPrerequisites(
      localRemote(),
      { app: APP, socket: path.join(world.dir, 'nothing.sock'), backend: 'shop_api' },
      ports,
    );
    expect(gone.map((item) => item.problem)).toEqual([
      `HAProxy's admin socket ${path.join(world.dir, 'nothing.sock')} does not exist (haproxy-socket): ` +
        'HAProxy is not running, or no stats socket of its configuration has that path',
    ]);
    // A socket file nobody listens on, as a stopped HAProxy can leave.
    const stale = path.join(world.dir, 'stale.sock');
    await execFileP('python3', [
      '-c',
      'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])',
      stale,
    ]);
    const [refused] = await haproxyPrerequisites(
      localRemote(),
      { app: APP, socket: stale, backend: 'shop_api' },
      ports,
    );
    expect(refused?.problem).toMatch(
      new RegExp(`^HAProxy does not answer on its admin socket ${stale}: .*Connection refused`),
    );
  });

  it('refuses a socket below level admin', async () => {
    const dir = await tempDir('haproxy-operator');
    const operator = await haproxyWorld(apps, {
      backend: 'shop_api',
      extraSockets: [{ path: path.join(dir, 'operator.sock'), level: 'operator' }],
    });
    try {
      const found = await haproxyPrerequisites(
        localRemote(),
        { app: APP, socket: path.join(dir, 'operator.sock'), backend: 'shop_api' },
        ports,
      );
      expect(found.map((item) => item.problem)).toEqual([
        `HAProxy's admin socket ${path.join(dir, 'operator.sock')} is at level operator: setting a server's weight needs level admin`,
      ]);
    } finally {
      await operator.stop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("the doctor lists the router's findings and nothing of nginx; the preflight passes a ready host and stops one that lacks its backend", async () => {
    const router = { name: 'haproxy', host, app: APP };
    const target = {
      stateDir: host.stateDir,
      includeDir: host.nginxConfDir,
      nginx: host.nginxCommand,
      accessLog: '',
      app: APP,
    };
    expect(await doctor(asUser(user), { ...target, router })).toEqual([
      // The state folder is root's here: the doctor says so, and nothing about the missing nginx.
      {
        problem: `${user} cannot write the state directory ${host.stateDir} (state-dir)`,
        fix: `sudo install -d -o ${user} -g ${user} -m 0750 ${host.stateDir}`,
      },
    ]);
    // With nginx, the same host lacks nginx and its include directory.
    expect((await doctor(localRemote(), target)).map((item) => item.problem).join('\n')).toMatch(/nginx/);

    const limits = { minFreeDiskMb: 1, minFreeMemoryMb: 1 };
    const facts = await preflight(
      localRemote(),
      host.stateDir,
      host.nginxConfDir,
      host.nginxCommand,
      limits,
      { app: APP, accessLog: '' },
      router,
    );
    expect(facts.nginxSkipped).toBe(true);
    const error = await preflight(
      localRemote('h1'),
      host.stateDir,
      host.nginxConfDir,
      host.nginxCommand,
      limits,
      { app: APP, accessLog: '' },
      { ...router, host: { ...host, haproxyBackend: 'shop_web' } },
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain(
      'h1: 1 prerequisite missing (run the host-setup action once, or these commands):\n  - HAProxy has no backend shop_web (haproxy-backend)',
    );
  });
});

describe('maintenance of a host without nginx, behind HAProxy', () => {
  it('host-setup installs the helper with its maintenance verbs alone, which the deploy user runs through sudo as the maintenance sends them', async () => {
    const helper = `/usr/local/sbin/agent-loop-nginx-hpm-${process.pid}`;
    const sudoers = `/etc/sudoers.d/agent-loop-hpm-${process.pid}`;
    const config = `/etc/logrotate.d/agent-loop-hpm-${process.pid}`;
    const log = path.join(world.dir, 'maintained.log');
    const plan = {
      router: 'haproxy',
      deployUser: user,
      stateDir: path.join(world.dir, 'maintenance-state'),
      includeDir: host.nginxConfDir,
      accessLog: '',
      sudoersFile: sudoers,
      switchHelper: helper,
      nginx: ['nginx'],
    };
    try {
      const report = await setupHost(localRemote('admin'), plan, (nginx) =>
        helperFile({ includeDir: plan.includeDir, nginx }),
      );
      expect(report.fatal).toBeUndefined();
      expect(report.items.filter((item) => item.outcome === 'todo')).toEqual([]);
      expect(report.items).toContainEqual({
        outcome: 'changed',
        what:
          `installed the switch helper ${helper}: no nginx here: it runs the maintenance's package upgrade ` +
          `and log rotation as root (nginx-command: sudo -n ${helper})`,
      });
      expect(report.items).toContainEqual({
        outcome: 'changed',
        what: `installed ${sudoers} (checked with visudo -c): ${user} may run ${helper} as root, nothing else`,
      });
      // No include directory was made, and the helper names no nginx.
      expect(existsSync(plan.includeDir)).toBe(false);
      const installed = await fs.readFile(helper, 'utf8');
      expect(installed).toContain('run_nginx() { return 127; }');
      expect((await fs.stat(helper)).uid).toBe(0);

      // As the maintenance sends its verbs to this host (nginx-command: sudo -n HELPER), as the deploy user.
      const spec: HostSpec = { ...host, nginxCommand: ['sudo', '-n', helper] };
      const deploy = asUser(user);
      const upgrade = await deploy.run(upkeepCommand(spec, 'upgrade', ['-o', 'APT::Update::Pre-Invoke::=id']));
      expect(upgrade.code).toBe(2);
      expect(upgrade.stderr).toContain('upgrade takes no arguments');
      await fs.writeFile(log, 'one line\n');
      await fs.writeFile(config, `${log} {\n  rotate 1\n  size 1\n  create\n}\n`, { mode: 0o644 });
      const rotated = await deploy.run(upkeepCommand(spec, 'rotate-logs', [config]));
      expect(rotated.stderr).toBe('');
      expect(rotated.stdout.trim()).toBe(`rotated with ${config}`);
      expect(existsSync(`${log}.1`)).toBe(true);
      // The user's own configuration is refused, and sudo runs nothing else.
      const own = path.join(world.dir, 'own.conf');
      await fs.writeFile(own, `${log} {\n  rotate 1\n}\n`);
      await execFileP('chown', [user, own]);
      const refused = await deploy.run(upkeepCommand(spec, 'rotate-logs', [own]));
      expect(refused.code).toBe(40);
      expect((await deploy.run(['sudo', '-n', 'true'])).code).not.toBe(0);
      // Its nginx verbs find no nginx, and change nothing.
      const check = await deploy.run([...spec.nginxCommand, 'check']);
      expect(check.code).toBe(20);
      expect(check.stderr).toContain('invalid: nginx could not be run (exit 127: not found or not executable)');
      // After the upgrade the maintenance asks the router, not nginx: HAProxy's own prerequisites (met here).
      expect(await routerPrerequisites('haproxy', { remote: deploy, host: spec, app: APP })).toEqual([]);
    } finally {
      for (const file of [sudoers, helper, config]) await fs.rm(file, { force: true });
    }
  });
});
