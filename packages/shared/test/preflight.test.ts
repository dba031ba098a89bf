import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError, HostError } from '../src/action';
import { preflight } from '../src/runtime';
import { localRemote, nginxPrefix, tempDir, type NginxPrefix } from './support/local-remote';
import { judgePreflight, parsePreflight, preflightCommand, type PreflightFacts } from '../src/runtime/preflight';

const remote = localRemote('preflight-host');
const LIMITS = { minFreeDiskMb: 1, minFreeMemoryMb: 1 };
let nginx: NginxPrefix;
let stateRoot: string;

beforeAll(async () => {
  [nginx, stateRoot] = await Promise.all([nginxPrefix('preflight'), tempDir('preflight-state')]);
});
afterAll(async () => {
  await Promise.all([nginx?.destroy(), fs.rm(stateRoot, { recursive: true, force: true })]);
});

describe('preflightCommand', () => {
  it('passes the folders and the helper as separate words: the installed one through sudo, or its text with nginx', () => {
    const argv = preflightCommand('/var/lib/agent-loop', '/etc/nginx/conf.d', [
      'sudo',
      '-n',
      '/usr/local/sbin/agent-loop-nginx',
    ]);
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv.slice(3)).toEqual([
      'al-preflight',
      '/var/lib/agent-loop',
      '/etc/nginx/conf.d',
      '',
      '-',
      'sudo',
      '-n',
      '/usr/local/sbin/agent-loop-nginx',
    ]);
    // With an app, the helper's inspect is asked about its server block (a relative access log is not looked for).
    expect(
      preflightCommand('/s', '/i', ['sudo', '-n', '/usr/local/sbin/agent-loop-nginx'], {
        app: 'web',
        accessLog: '/var/log/nginx/agent-loop.access.log',
      }).slice(3, 8),
    ).toEqual(['al-preflight', '/s', '/i', 'web', '/var/log/nginx/agent-loop.access.log']);
    expect(preflightCommand('/s', '/i', ['nginx'], { app: 'web', accessLog: 'logs/web.log' }).slice(6, 8)).toEqual([
      'web',
      '-',
    ]);
    const direct = preflightCommand('/var/lib/agent-loop', '/etc/nginx/conf.d', ['nginx', '-p', '/opt/nginx/']);
    expect(direct.slice(3, 6)).toEqual(['al-preflight', '/var/lib/agent-loop', '/etc/nginx/conf.d']);
    expect(direct.slice(8, 10)).toEqual(['sh', '-c']);
    expect(direct[10]).toContain('include_dir=/etc/nginx/conf.d\nrun_nginx() { nginx -p /opt/nginx/ "$@"; }');
  });
});

describe('preflight on this machine with a real nginx', () => {
  it('finds a ready host: disk, memory, curl, the include folder and a valid nginx configuration', async () => {
    const stateDir = path.join(stateRoot, 'new', 'state');
    const facts = await preflight(remote, stateDir, nginx.confDir, nginx.command, LIMITS);
    expect(facts.nginxOk).toBe(true);
    expect(facts.nginxOutput).toBe(`valid include=${nginx.confDir}`);
    expect(facts.curl).toBe(true);
    expect(facts.includeDir).toBe(true);
    expect(facts.freeDiskMb).toBeGreaterThan(0);
    expect(facts.freeMemoryMb).toBeGreaterThan(0);
    // The state folder is created on the way, so the disk check measures the right file system.
    expect((await fs.stat(stateDir)).isDirectory()).toBe(true);
  });

  it('fails on an invalid nginx configuration, saying where (never quoting a file: the user may not read it)', async () => {
    const broken = path.join(nginx.confDir, 'broken.conf');
    await fs.writeFile(broken, 'upstream {\n');
    try {
      const error = await preflight(remote, stateRoot, nginx.confDir, nginx.command, LIMITS).catch(
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(HostError);
      const message = (error as Error).message;
      expect(message).toMatch(
        /^preflight-host: not ready: nginx is missing or its configuration is invalid before any change: /,
      );
      expect(message).toContain(`invalid at ${broken}:`);
      expect(message).not.toContain('upstream');
    } finally {
      await fs.rm(broken);
    }
  });

  it('reports a missing include folder and a missing nginx together, each with the command that fixes it', async () => {
    const missing = path.join(stateRoot, 'no-conf-dir');
    const error = await preflight(remote, stateRoot, missing, ['/nonexistent/nginx'], LIMITS).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    const message = (error as Error).message;
    expect(message).toMatch(
      /^preflight-host: 2 prerequisites missing \(run the host-setup action once, or these commands\):\n/,
    );
    expect(message).toContain(
      `  - the nginx include directory ${missing} does not exist (nginx-conf-dir)\n    fix: sudo install -d -o root -g root -m 0755 ${missing}`,
    );
    expect(message).toContain(
      "  - nginx ('/nonexistent/nginx') is not installed\n    fix: sudo apt-get install -y --no-install-recommends nginx",
    );
    // The preflight's own findings follow, once.
    expect(message).toMatch(
      new RegExp(
        /\(preflight: the nginx include directory .* does not exist \(nginx-conf-dir\); /.source +
          /nginx is missing or its configuration is invalid before any change: /.source +
          /invalid: nginx could not be run \(exit 127: not found or not executable\)\)$/.source,
      ),
    );
    expect(message.match(/\(preflight:/g)).toHaveLength(1);
  });

  it('reports too little disk and memory against the limits', async () => {
    const error = await preflight(remote, stateRoot, nginx.confDir, nginx.command, {
      minFreeDiskMb: 1e12,
      minFreeMemoryMb: 1e12,
    }).catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(
      new RegExp(
        /only \d+ MB of disk free, 1000000000000 MB required \(min-free-disk-mb\); /.source +
          /only \d+ MB of memory available, 1000000000000 MB required \(min-free-memory-mb\)$/.source,
      ),
    );
  });
});

describe('parsePreflight', () => {
  it('reads every fact, keeping every nginx output line and = signs inside values', () => {
    const facts = parsePreflight(
      [
        'disk_kb=2097152',
        'mem_kb=1048575',
        'curl=yes',
        'include_dir=yes',
        'nginx=failed',
        'nginx_output=nginx: [emerg] unexpected "}" in /etc/nginx/conf.d/a.conf:3',
        'nginx_output=nginx: configuration file /etc/nginx/nginx.conf test failed (key=value)',
        '',
      ].join('\n'),
    );
    expect(facts).toEqual({
      freeDiskMb: 2048,
      freeMemoryMb: 1023,
      curl: true,
      nginxOk: false,
      nginxOutput:
        'nginx: [emerg] unexpected "}" in /etc/nginx/conf.d/a.conf:3\nnginx: configuration file /etc/nginx/nginx.conf test failed (key=value)',
      includeDir: true,
      root: false,
      server: null,
    });
  });

  it("reads the helper's facts about the app's server block, and nothing else as such", () => {
    expect(parsePreflight('server=proxy=no log=yes').server).toEqual({ proxy: false, log: true });
    expect(parsePreflight('server=proxy=yes log=unchecked').server).toEqual({ proxy: true, log: null });
    expect(parsePreflight('server=proxy=maybe log=yes').server).toBeNull();
  });

  it('treats missing or empty facts as absent, never as ready', () => {
    expect(parsePreflight('')).toEqual({
      freeDiskMb: 0,
      freeMemoryMb: 0,
      curl: false,
      nginxOk: false,
      nginxOutput: '',
      includeDir: false,
      root: false,
      server: null,
    });
    expect(parsePreflight('uid=\ndisk_kb=\nmem_kb=\ncurl=no\nnginx=ok\ninclude_dir=no\nnot a fact')).toEqual({
      freeDiskMb: 0,
      freeMemoryMb: 0,
      curl: false,
      nginxOk: true,
      nginxOutput: '',
      includeDir: false,
      root: false,
      server: null,
    });
  });
});

describe('judgePreflight', () => {
  const ready: PreflightFacts = {
    freeDiskMb: 1000,
    freeMemoryMb: 500,
    curl: true,
    nginxOk: true,
    nginxOutput: 'ok',
    includeDir: true,
    root: false,
    server: null,
  };
  const limits = { minFreeDiskMb: 1000, minFreeMemoryMb: 500 };

  it('accepts a host exactly at the limits', () => {
    expect(judgePreflight(ready, limits, '/etc/nginx/conf.d')).toEqual([]);
  });

  it('names each problem and the input that sets its limit', () => {
    expect(judgePreflight({ ...ready, freeDiskMb: 999 }, limits, '/x')).toEqual([
      'only 999 MB of disk free, 1000 MB required (min-free-disk-mb)',
    ]);
    expect(judgePreflight({ ...ready, freeMemoryMb: 499 }, limits, '/x')).toEqual([
      'only 499 MB of memory available, 500 MB required (min-free-memory-mb)',
    ]);
    expect(judgePreflight({ ...ready, curl: false }, limits, '/x')).toEqual([
      'curl is not installed (the health checks run it on the host)',
    ]);
    expect(judgePreflight({ ...ready, includeDir: false }, limits, '/etc/nginx/conf.d')).toEqual([
      'the nginx include directory /etc/nginx/conf.d does not exist (nginx-conf-dir)',
    ]);
    expect(judgePreflight({ ...ready, nginxOk: false, nginxOutput: '' }, limits, '/x')).toEqual([
      'nginx is missing or its configuration is invalid before any change: no output',
    ]);
  });

  it('reports every problem at once', () => {
    expect(
      judgePreflight(
        {
          freeDiskMb: 0,
          freeMemoryMb: 0,
          curl: false,
          nginxOk: false,
          nginxOutput: 'x',
          includeDir: false,
          root: false,
          server: null,
        },
        limits,
        '/x',
      ),
    ).toHaveLength(5);
  });

  it('refuses nginx itself through sudo for a user that is not root, and a helper that writes elsewhere', () => {
    expect(judgePreflight(ready, limits, '/etc/nginx/conf.d', ['sudo', 'nginx'])).toEqual([
      'nginx-command runs nginx itself through sudo as a user that is not root: ' +
        'use the switch helper (sudo -n /usr/local/sbin/agent-loop-nginx, installed by host-setup)',
    ]);
    expect(judgePreflight({ ...ready, root: true }, limits, '/etc/nginx/conf.d', ['sudo', 'nginx'])).toEqual([]);
    const checked = { ...ready, nginxOutput: 'valid include=/etc/nginx/conf.d' };
    expect(
      judgePreflight(checked, limits, '/etc/nginx/conf.d/', ['sudo', '-n', '/usr/local/sbin/agent-loop-nginx']),
    ).toEqual([]);
    expect(
      judgePreflight(checked, limits, '/opt/nginx/conf.d', ['sudo', '-n', '/usr/local/sbin/agent-loop-nginx']),
    ).toEqual([
      'the nginx helper writes the include into /etc/nginx/conf.d, not into /opt/nginx/conf.d: ' +
        'set nginx-conf-dir to /etc/nginx/conf.d, or run host-setup with nginx-conf-dir /opt/nginx/conf.d',
    ]);
  });
});
