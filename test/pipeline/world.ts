// The world a pipeline scenario runs in, as a team adopting the suite has it: three hosts (two
// production, one staging) each with its own sshd, nginx and Docker Engine; a registry behind
// htpasswd; each host with its own /usr/local/sbin and /etc/sudoers.d; an unprivileged deploy user made with useradd that reaches each host's engine through
// a group (as Debian's docker group does) and may run nothing with sudo until host-setup says so;
// GitHub's and Slack's stand-ins; and the example application's repository.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack';
import { startAuditRegistry, type AuditRegistry } from '../support/npm-audit';
import { startContainerLab, type ContainerLab } from '../lab/containers';
import { allocatePorts, isAlive, releasePorts, waitForPort, type LabHost } from '../lab/index';
import { quote as shellWord } from '@agent-loop/shared/hosts';
import { FIXTURE_APP, makeAppRepo, type AppRepo } from './app-repo';

export const APP = 'agent-loop';
const MARK = 'agent-loop pipeline scenarios';

export interface World {
  ct: ContainerLab;
  /** The deploy user's name (made here with useradd). */
  user: string;
  production: LabHost[];
  staging: LabHost;
  github: FakeGitHub;
  slack: FakeSlack;
  /** The npm registry the runner uses, whose audit service is a stand-in (`npm audit` in the gates). */
  npm: AuditRegistry;
  repo: AppRepo;
  /** A scratch folder of the world (runs' work folders go below it). */
  dir: string;
  /** The image repository in the registry behind htpasswd. */
  imageRepository: string;
  /** Where the Ansible playbook starts staging on the staging host (its own port, beside the blue-green colors). */
  ansibleStagingUrl: string;
  /**
   * What the team's admin does after set-up (README, Preparing a host, step 4): adds the two lines
   * to each host's server block (root's) and reloads nginx.
   */
  addServerBlocks(): Promise<void>;
  /**
   * What an admin who upgrades another way than apt-get does (upkeep.ts): installs a root-owned
   * /usr/local/sbin/agent-loop-upgrade on each host, which the switch helper's upgrade verb runs
   * as root instead of apt-get (the hosts share this machine's packages, which no test upgrades).
   * Each writes `start <ms>` and `end <ms>` to `upgradeLog(host)` and reloads its host's nginx,
   * as a package upgrade of nginx does.
   */
  installUpgradePrograms(): void;
  upgradeLog(host: LabHost): string;
  stop(): Promise<void>;
}

const root = (command: string, args: string[]): string =>
  execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Makes every folder from `path` up to `/` traversable, so the deploy user can reach a socket in it. */
function traversable(path: string): void {
  for (let dir = dirname(path); dir !== '/'; dir = dirname(dir)) {
    const mode = Number.parseInt(root('stat', ['-c', '%a', dir]).trim(), 8);
    if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001);
  }
}

/**
 * One world at a time on a machine: the examples name the user `deploy`, and a world makes that
 * one user. A lock folder holds the pid of the process whose world owns it; another waits until
 * it is released or its process is gone (the scenario files run one after another in the README's
 * test command; this guards a hand-run `vitest` of several at once).
 */
const LOCK = join(tmpdir(), 'agent-loop-pipeline-world.lock');

async function takeWorldLock(timeoutMs: number): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      return () => rmSync(LOCK, { recursive: true, force: true });
    } catch {
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
      } catch {
        // Being written right now, or being removed.
      }
      if (Number.isInteger(owner) && owner !== process.pid && !isAlive(owner))
        rmSync(LOCK, { recursive: true, force: true });
      else if (Date.now() > deadline)
        throw new Error(`another pipeline world (pid ${owner}) still holds ${LOCK} after ${timeoutMs / 1000} s`);
      else await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

export async function startWorld(options: { waitMs?: number } = {}): Promise<World> {
  const release = await takeWorldLock(options.waitMs ?? 15 * 60_000);
  // The examples name the user `deploy`, as the README's step 1 makes it. One this test did not
  // make (its comment says so) is someone's real user: the world refuses to touch it.
  const user = 'deploy';
  const existing = spawnSync('getent', ['passwd', user], { encoding: 'utf8' }).stdout;
  if (existing && !existing.includes(MARK))
    throw new Error(
      `a user ${user} exists on this machine and is not this test's: the pipeline scenarios need to make their own`,
    );
  if (existing) spawnSync('userdel', [user]);
  const dir = mkdtempSync(join(tmpdir(), 'al-pipe-'));
  chmodSync(dir, 0o755);
  root('useradd', [
    '--create-home',
    '--home-dir',
    join(dir, 'home'),
    '--shell',
    '/bin/bash',
    '--user-group',
    '--comment',
    MARK,
    user,
  ]);
  root('usermod', ['-p', '*', user]);
  const parts: { ct?: ContainerLab; github?: FakeGitHub; slack?: FakeSlack; npm?: AuditRegistry; ports?: number[] } =
    {};
  const stop = async () => {
    await Promise.all([parts.ct?.stop(), parts.github?.close(), parts.slack?.close(), parts.npm?.close()]);
    if (parts.ports) releasePorts(parts.ports);
    spawnSync('userdel', [user]);
    rmSync(dir, { recursive: true, force: true });
    release();
  };
  try {
    const [ct, github, slack, npm] = await Promise.all([
      // Each host its own /usr/local/sbin and /etc/sudoers.d: host-setup's defaults work as on separate machines.
      startContainerLab({ hosts: 3, app: APP, loginUser: user, authRegistry: true, ownSystemDirs: true }),
      startFakeGitHub(),
      startFakeSlack(),
      startAuditRegistry(),
    ]);
    Object.assign(parts, { ct, github, slack, npm });
    const gid = Number(root('id', ['-g', user]).trim());
    const uid = Number(root('id', ['-u', user]).trim());
    const registry = ct.authRegistry!;
    for (const [index, host] of ct.lab.hosts.entries()) {
      // The engine's socket opens to the deploy user's group: the docker group of a Debian host,
      // root-equivalent (the README's threat model says so).
      const socket = ct.engines[index]!.host.replace(/^unix:\/\//, '');
      chownSync(socket, 0, gid);
      chmodSync(socket, 0o660);
      traversable(socket);
      // The deploy user's login on that host: HOME is the host's folder, with Debian's .bashrc
      // (bash reads it for an SSH command) after a line of the user's own, and the registry login.
      mkdirSync(join(host.dir, '.docker'), { recursive: true });
      const auth = Buffer.from(`${registry.user}:${registry.password}`).toString('base64');
      writeFileSync(
        join(host.dir, '.docker', 'config.json'),
        JSON.stringify({ auths: { [registry.address]: { auth } } }),
        { mode: 0o600 },
      );
      chownSync(join(host.dir, '.docker'), uid, gid);
      chownSync(join(host.dir, '.docker', 'config.json'), uid, gid);
      writeFileSync(
        join(host.dir, '.bashrc'),
        `export AGENT_LOOP_HOST=${host.name}\n${readFileSync('/etc/skel/.bashrc', 'utf8')}`,
        { mode: 0o644 },
      );
    }
    // The hosts' compose file, in the deploy user's home as a team keeps it (compose-file's default
    // docker-compose.yml is relative to it): the example application's, with the lab's knobs folder
    // (how the tests make a version misbehave). One home serves every lab host: one machine.
    const compose = readFileSync(join(FIXTURE_APP, 'docker-compose.yml'), 'utf8').replace(
      '${AGENT_LOOP_KNOBS:-/var/lib/agent-loop/knobs}',
      join(ct.lab.dir, 'knobs'),
    );
    writeFileSync(join(dir, 'home', 'docker-compose.yml'), compose, { mode: 0o644 });
    const [h1, h2, h3] = ct.lab.hosts as [LabHost, LabHost, LabHost];
    parts.ports = await allocatePorts(1, dir);
    const stagingPort = parts.ports[0]!;
    const repo = makeAppRepo(join(dir, 'repo'), {
      'ansible/staging.ini': [
        '[staging]',
        `${h3.name} ansible_host=127.0.0.1 ansible_port=${h3.sshPort} ansible_user=${user} ` +
          'ansible_python_interpreter=/usr/bin/python3 ' +
          `compose_file=${join(dir, 'home', 'docker-compose.yml')} staging_port=${stagingPort}`,
        '',
      ].join('\n'),
    });
    return {
      ct,
      user,
      production: [h1, h2],
      staging: h3,
      github,
      slack,
      npm,
      repo,
      dir,
      imageRepository: `${registry.address}/${APP}`,
      ansibleStagingUrl: `http://127.0.0.1:${stagingPort}`,
      installUpgradePrograms: () => {
        for (const host of ct.lab.hosts) {
          const log = join(host.dir, 'system', 'upgrades.log');
          const nginx = ['/usr/sbin/nginx', '-p', `${host.nginxPrefix}/`, '-c', 'conf/nginx.conf', '-s', 'reload']
            .map(shellWord)
            .join(' ');
          const program = [
            '#!/bin/sh',
            'set -eu',
            `echo "start $(date +%s%3N) uid=$(id -u)" >> ${shellWord(log)}`,
            'sleep 1',
            nginx,
            `echo "end $(date +%s%3N)" >> ${shellWord(log)}`,
            '',
          ].join('\n');
          writeFileSync(join(host.dir, 'system', 'usr-local-sbin', 'agent-loop-upgrade'), program, { mode: 0o755 });
        }
      },
      upgradeLog: (host) => {
        const log = join(host.dir, 'system', 'upgrades.log');
        return existsSync(log) ? readFileSync(log, 'utf8') : '';
      },
      addServerBlocks: async () => {
        for (const host of ct.lab.hosts) {
          const block = [
            'server {',
            `  listen 127.0.0.1:${host.proxyPort};`,
            '  location / {',
            `    proxy_pass http://$agent_loop_${APP.replace(/-/g, '_')};`,
            '    proxy_http_version 1.1;',
            '    proxy_set_header Connection "";',
            '    proxy_next_upstream error timeout http_502;',
            `    access_log ${host.accessLog} agent_loop;`,
            '  }',
            '}',
            '',
          ].join('\n');
          writeFileSync(join(host.nginxPrefix, 'sites', `${APP}.conf`), block, { mode: 0o644 });
          const nginx = ['-p', `${host.nginxPrefix}/`, '-c', 'conf/nginx.conf'];
          root('nginx', [...nginx, '-t']);
          root('nginx', [...nginx, '-s', 'reload']);
          await waitForPort(host.proxyPort, 5000, () => `nginx ${host.name} after the server block`);
        }
      },
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
