import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect } from 'node:net';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLab, labProcesses, isAlive, type Lab, type LabHost } from './lab/index';
import { sendTraffic, startTraffic } from './lab/traffic';
import { parseCommandFile, inputEnvName, runAction } from './lab/run-action';

const execFileP = promisify(execFile);
const T = 30_000;
const HERE = path.dirname(fileURLToPath(import.meta.url));

let lab: Lab;
let knownHostsFile: string;

beforeAll(async () => {
  lab = await startLab({ hosts: 2 });
  knownHostsFile = path.join(lab.dir, 'test_known_hosts');
  await fsp.writeFile(knownHostsFile, lab.knownHosts + '\n');
}, T);

afterAll(async () => {
  await lab?.stop();
}, T);

function sshArgs(host: LabHost, knownHosts: string, command: string): string[] {
  return [
    '-i',
    lab.clientKeyPath,
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'ConnectTimeout=5',
    '-p',
    String(host.sshPort),
    'root@127.0.0.1',
    command,
  ];
}

function fill(cmd: string, v: Record<string, string>): string {
  return cmd.replace(/\{(app|color|port|version)\}/g, (_, k: string) => `'${v[k]!.replace(/'/g, `'\\''`)}'`);
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => (s.destroy(), resolve(false)));
  });
}

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch {
      /* retry */
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// Prometheus text exposition: name{labels} value [timestamp]
const LABEL = /[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\n"])*"/.source;
const SAMPLE = new RegExp(
  String.raw`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{(${LABEL})(,${LABEL})*,?\})?` +
    String.raw`\s(-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|NaN|[-+]Inf)(\s-?\d+)?$`,
);

describe('lab hosts', () => {
  it('has the documented layout', () => {
    expect(fs.statSync(lab.dir).mode & 0o777).toBe(0o755);
    for (const f of ['bin/start-app.sh', 'bin/stop-app.sh', 'app-server.mjs', 'client_key', 'client_key.pub']) {
      expect(fs.existsSync(path.join(lab.dir, f)), f).toBe(true);
    }
    expect(lab.clientKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    const ports = lab.hosts.flatMap((h) => [h.sshPort, h.proxyPort, h.statusPort, h.bluePort, h.greenPort]);
    expect(new Set(ports).size).toBe(10);
    expect(lab.hosts.map((h) => h.name)).toEqual(['h1', 'h2']);
    for (const h of lab.hosts) {
      expect(h.target).toBe(`root@127.0.0.1:${h.sshPort}`);
      expect(h.knownHostsLine).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${h.sshPort} ssh-ed25519 AAAA\\S+$`));
      expect(fs.statSync(h.stateDir).isDirectory()).toBe(true);
      expect(lab.hostsInput).toContain(`- host: ${h.target}\n  blue-port: ${h.bluePort}\n  green-port: ${h.greenPort}`);
      expect(lab.hostsInput).toContain(`  nginx-command: ${h.nginxCommand}`);
    }
  });

  it(
    'accepts the client key over ssh on every host, with strict host key checking',
    async () => {
      for (const h of lab.hosts) {
        const { stdout } = await execFileP('ssh', sshArgs(h, knownHostsFile, 'echo hi'), { timeout: 10_000 });
        expect(stdout.trim()).toBe('hi');
      }
    },
    T,
  );

  it(
    'refuses a host whose key does not match known_hosts',
    async () => {
      const [h1, h2] = lab.hosts as [LabHost, LabHost];
      const wrong = path.join(lab.dir, 'wrong_known_hosts');
      // h2's key under h1's address.
      await fsp.writeFile(wrong, `[127.0.0.1]:${h1.sshPort} ${h2.knownHostsLine.split(' ').slice(1).join(' ')}\n`);
      const err = await execFileP('ssh', sshArgs(h1, wrong, 'echo hi'), { timeout: 10_000 }).then(
        () => undefined,
        (e: Error & { code?: number; stderr?: string }) => e,
      );
      expect(err, 'ssh should fail').toBeDefined();
      expect(err!.code).toBe(255);
      expect(err!.stderr).toMatch(/host key/i);
    },
    T,
  );

  it(
    'runs a valid nginx per host',
    async () => {
      for (const h of lab.hosts) {
        const { stderr } = await execFileP('sh', ['-c', `${h.nginxCommand} -t`], { timeout: 10_000 });
        expect(stderr).toMatch(/test is successful/);
        expect(stderr).toContain(h.nginxPrefix);
      }
    },
    T,
  );
});

describe('app processes', () => {
  it(
    'starts an app with startCommand, serves health/ready/metrics/run-agent, obeys knobs, stops with stopCommand',
    async () => {
      const h = lab.hosts[0]!;
      const port = h.bluePort;
      await lab.setKnobs('v1', { readyDelayMs: 600 });
      const t0 = Date.now();
      await execFileP(
        'sh',
        ['-c', fill(lab.startCommand, { app: lab.app, color: 'blue', port: String(port), version: 'v1' })],
        {
          timeout: 10_000,
        },
      );

      const health = await until(
        async () => {
          const r = await fetch(`http://127.0.0.1:${port}/health`);
          return r.status === 200 ? r : undefined;
        },
        10_000,
        'health',
      );
      expect(health.headers.get('x-version')).toBe('v1');
      expect(health.headers.get('x-color')).toBe('blue');
      expect(await health.json()).toEqual({ status: 'ok', version: 'v1', color: 'blue' });

      // Not ready until readyDelayMs after start, then ready.
      const early = await fetch(`http://127.0.0.1:${port}/ready`);
      if (Date.now() - t0 < 500) expect(early.status).toBe(503);
      await until(
        async () => ((await fetch(`http://127.0.0.1:${port}/ready`)).status === 200 ? true : undefined),
        5000,
        'ready',
      );
      expect(Date.now() - t0).toBeGreaterThanOrEqual(600);

      const pids = await lab.appPids();
      expect(Object.keys(pids).map(Number)).toEqual([port]);
      expect(isAlive(pids[port]!)).toBe(true);

      const agent = await fetch(`http://127.0.0.1:${port}/run-agent`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instruction: 'summarise the logs', use_ollama: false }),
      });
      expect(agent.status).toBe(200);
      const body = (await agent.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ version: 'v1', color: 'blue', instruction: 'summarise the logs' });
      expect(typeof body.result).toBe('string');
      const bad = await fetch(`http://127.0.0.1:${port}/run-agent`, { method: 'POST', body: '{nope' });
      expect(bad.status).toBe(400);
      const any = await fetch(`http://127.0.0.1:${port}/some/arbitrary/path?x=1`);
      expect(any.status).toBe(200);
      expect(await any.json()).toEqual({ app: lab.app, version: 'v1', color: 'blue', path: '/some/arbitrary/path' });

      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.status).toBe(200);
      const text = await metrics.text();
      const lines = text.split('\n').filter((l) => l !== '');
      for (const l of lines) {
        if (l.startsWith('#')) expect(l, l).toMatch(/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/);
        else expect(l, l).toMatch(SAMPLE);
      }
      for (const family of [
        'http_requests_total counter',
        'http_request_duration_seconds histogram',
        'process_resident_memory_bytes gauge',
        'agent_loop_memory_usage_ratio gauge',
        'agent_loop_model_drift_score gauge',
        'agent_loop_info gauge',
      ]) {
        expect(text).toContain(`# TYPE ${family}\n`);
      }
      expect(text).toMatch(/^http_requests_total\{[^}]*path="\/run-agent",status="200"\} 1$/m);
      expect(text).toMatch(/^http_request_duration_seconds_bucket\{[^}]*le="\+Inf"\} \d+$/m);
      expect(text).toContain('agent_loop_info{version="v1",color="blue"} 1');

      // Knobs are re-read while running.
      await lab.setKnobs('v1', { errorRate: 1, memoryPercent: 85, driftScore: 0.4 });
      const t1 = Date.now();
      await until(
        async () => ((await fetch(`http://127.0.0.1:${port}/`)).status === 500 ? true : undefined),
        1000,
        '500s',
      );
      expect(Date.now() - t1).toBeLessThanOrEqual(1000);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      const m2 = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(m2).toMatch(/^agent_loop_memory_usage_ratio 0\.85$/m);
      expect(m2).toMatch(/^agent_loop_model_drift_score 0\.4$/m);

      const pid = pids[port]!;
      const s0 = Date.now();
      await execFileP('sh', ['-c', fill(lab.stopCommand, { port: String(port) })], { timeout: 15_000 });
      expect(Date.now() - s0).toBeLessThan(5000);
      expect(isAlive(pid)).toBe(false);
      expect(await portOpen(port)).toBe(false);
      expect(await lab.appPids()).toEqual({});
      // Stopping again is a no-op.
      await execFileP('sh', ['-c', fill(lab.stopCommand, { port: String(port) })], { timeout: 15_000 });
    },
    T,
  );

  it(
    'starts and replaces an app over ssh; the ssh command returns promptly',
    async () => {
      const h = lab.hosts[1]!;
      const port = h.greenPort;
      const start = (version: string) =>
        execFileP(
          'ssh',
          sshArgs(
            h,
            knownHostsFile,
            fill(lab.startCommand, { app: lab.app, color: 'green', port: String(port), version }),
          ),
          {
            timeout: 5000,
          },
        );
      const t0 = Date.now();
      await start('v2');
      expect(Date.now() - t0).toBeLessThan(3000);
      const first = await until(async () => (await lab.appPids())[port], 5000, 'pid');
      await until(
        async () => ((await fetch(`http://127.0.0.1:${port}/health`)).ok ? true : undefined),
        10_000,
        'health',
      );

      // Starting again on the same port replaces the running app.
      await start('v3');
      expect(isAlive(first)).toBe(false);
      const r = await until(
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/`);
          return res.headers.get('x-version') === 'v3' ? res : undefined;
        },
        10_000,
        'v3',
      );
      expect(r.status).toBe(200);
    },
    T,
  );

  it(
    'counts versions with sendTraffic against an app directly',
    async () => {
      const h = lab.hosts[1]!;
      const res = await sendTraffic({ url: `http://127.0.0.1:${h.greenPort}`, maxRequests: 300, concurrency: 8 });
      expect(res.sent).toBe(300);
      expect(res.ok).toBe(300);
      expect(res.failed).toBe(0);
      expect(res.byVersion).toEqual({ v3: 300 });
      expect(res.byColor).toEqual({ green: 300 });
      expect(res.statuses).toEqual({ '200': 300 });
      expect(res.latenciesMs).toHaveLength(300);
      expect(res.timeline).toHaveLength(300);
    },
    T,
  );

  it(
    'bounds traffic by duration and rate, and stop() ends it early',
    async () => {
      const url = `http://127.0.0.1:${lab.hosts[1]!.greenPort}`;
      const t0 = Date.now();
      const paced = await sendTraffic({ url, durationMs: 500, ratePerSecond: 40, concurrency: 4 });
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(paced.sent).toBeGreaterThanOrEqual(15);
      expect(paced.sent).toBeLessThanOrEqual(22);

      const run = startTraffic({ url, durationMs: 20_000, concurrency: 2 });
      await new Promise((r) => setTimeout(r, 200));
      const t1 = Date.now();
      const res = await run.stop();
      expect(Date.now() - t1).toBeLessThan(1000);
      expect(res.sent).toBeGreaterThan(0);
      expect(res.sent).toBe(res.ok);
      expect(() => startTraffic({ url })).toThrow(/maxRequests or durationMs/);

      // Nothing listening: no response, counted as failed.
      const dead = await sendTraffic({
        url: `http://127.0.0.1:${lab.hosts[0]!.bluePort}`,
        maxRequests: 3,
        concurrency: 1,
      });
      expect(dead).toMatchObject({ sent: 3, ok: 0, failed: 3, statuses: { error: 3 } });
    },
    T,
  );

  it(
    'proxies through nginx once the action-style conf.d file exists and the site is enabled',
    async () => {
      const h = lab.hosts[1]!;
      const v = `agent_loop_${lab.app.replace(/-/g, '_')}`;
      // What the deploy action will write: upstreams + the variable naming the live one.
      await fsp.writeFile(
        path.join(h.nginxConfDir, `agent-loop-${lab.app}.conf`),
        `upstream ${v}_blue { server 127.0.0.1:${h.bluePort}; keepalive 8; }\n` +
          `upstream ${v}_green { server 127.0.0.1:${h.greenPort}; keepalive 8; }\n` +
          `map $request_id $${v} { default ${v}_green; }\n`,
      );
      await lab.enableSite(h);
      expect(fs.existsSync(path.join(h.nginxPrefix, 'sites', `${lab.app}.conf`))).toBe(true);
      const res = await sendTraffic({ url: h.proxyUrl, path: '/via/proxy', maxRequests: 50, concurrency: 4 });
      expect(res).toMatchObject({ ok: 50, failed: 0, byVersion: { v3: 50 }, byColor: { green: 50 } });
      const log = await until(
        async () => {
          const t = await fsp.readFile(h.accessLog, 'utf8');
          return t.trim().split('\n').length >= 50 ? t : undefined;
        },
        3000,
        'access log',
      );
      const entry = JSON.parse(log.trim().split('\n')[0]!) as Record<string, unknown>;
      expect(entry).toMatchObject({
        status: 200,
        upstream: `${v}_green`,
        upstream_addr: `127.0.0.1:${h.greenPort}`,
        uri: '/via/proxy',
      });

      // Without the conf.d file the site is invalid: enableSite reports nginx's error.
      await expect(lab.enableSite(lab.hosts[0]!)).rejects.toThrow(/nginx -t \(h1\) failed[\s\S]*agent_loop_/);
      await fsp.rm(path.join(lab.hosts[0]!.nginxPrefix, 'sites', `${lab.app}.conf`));
    },
    T,
  );
});

describe('run-action', () => {
  it('parses runner command files', () => {
    expect(
      parseCommandFile('a<<EOF\nline 1\nline 2\nEOF\nb=x=y\n\nc<<ghadelimiter_1\n\nghadelimiter_1\na<<D\nlast\nD\n'),
    ).toEqual({ a: 'last', b: 'x=y', c: '' });
    expect(parseCommandFile('')).toEqual({});
    expect(parseCommandFile('k<<D\r\nv\r\nD\r\n')).toEqual({ k: 'v' });
    expect(() => parseCommandFile('k<<D\nv\n')).toThrow(/delimiter D/);
    expect(() => parseCommandFile('garbage\n')).toThrow(/not name=value/);
    expect(inputEnvName('canary-percent')).toBe('INPUT_CANARY-PERCENT');
    expect(inputEnvName('my input')).toBe('INPUT_MY_INPUT');
  });

  it(
    'runs an action on Node 24 with the runner env and collects outputs, state and summary',
    async () => {
      const r = await runAction({
        action: 'echo',
        entry: path.join(HERE, 'lab', 'fixtures', 'echo-action.mjs'),
        inputs: { 'canary-percent': '10', hosts: lab.hostsInput },
        event: { ref: 'refs/heads/main' },
        env: { GITHUB_API_URL: 'http://127.0.0.1:1' },
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('echo action ran');
      expect(JSON.parse(r.outputs.inputs!)).toEqual({ 'CANARY-PERCENT': '10', HOSTS: lab.hostsInput });
      expect(r.outputs.multiline).toBe('line 1\nline 2');
      expect(r.outputs.plain).toBe('a=b');
      expect(r.outputs.node).toMatch(/^v24\./);
      expect(JSON.parse(r.outputs.event!)).toEqual({ ref: 'refs/heads/main' });
      expect(r.outputs.api).toBe('http://127.0.0.1:1');
      const env = JSON.parse(r.outputs.env!) as string[];
      for (const k of [
        'GITHUB_OUTPUT',
        'GITHUB_STATE',
        'GITHUB_STEP_SUMMARY',
        'GITHUB_ENV',
        'GITHUB_PATH',
        'RUNNER_TEMP',
        'GITHUB_ACTIONS',
        'PATH',
        'HOME',
      ]) {
        expect(env).toContain(k);
      }
      expect(env.filter((k) => !/^(GITHUB_|RUNNER_|INPUT_)/.test(k)).sort()).toEqual(['HOME', 'PATH']);
      expect(r.state).toEqual({ saved: 'yes' });
      expect(r.summary).toBe('## Echo\n');
      await fsp.rm(r.dir, { recursive: true, force: true });

      const failing = await runAction({
        action: 'echo',
        entry: path.join(HERE, 'lab', 'fixtures', 'echo-action.mjs'),
        inputs: { exit: '3' },
      });
      expect(failing.code).toBe(3);
      await fsp.rm(failing.dir, { recursive: true, force: true });
      await expect(runAction({ action: 'no-such-action', inputs: {} })).rejects.toThrow(/bundle not found/);
    },
    T,
  );
});

describe('stop', () => {
  it(
    'leaves no sshd, nginx or app process of the lab and removes its folder',
    async () => {
      const h1 = lab.hosts[0]!;
      await execFileP('sh', [
        '-c',
        fill(lab.startCommand, { app: lab.app, color: 'blue', port: String(h1.bluePort), version: 'v1' }),
      ]);
      await until(async () => (await lab.appPids())[h1.bluePort], 5000, 'app pid');
      const pids = labProcesses(lab.dir);
      const nginxMasters = lab.hosts.map((h) =>
        Number(fs.readFileSync(path.join(h.nginxPrefix, 'logs', 'nginx.pid'), 'utf8')),
      );
      const sshds = lab.hosts.map((h) => Number(fs.readFileSync(path.join(h.dir, 'sshd.pid'), 'utf8')));
      const apps = Object.values(await lab.appPids());
      expect(apps).toHaveLength(2); // blue on h1 and green on h2
      for (const p of [...nginxMasters, ...sshds, ...apps]) expect(pids).toContain(p);
      expect(pids.length).toBeGreaterThanOrEqual(2 + 2 + 2 + 2); // + nginx workers

      const t0 = Date.now();
      await lab.stop();
      expect(Date.now() - t0).toBeLessThan(10_000);
      for (const p of pids) expect(isAlive(p), `pid ${p}`).toBe(false);
      for (const h of lab.hosts) expect(await portOpen(h.sshPort)).toBe(false);
      expect(fs.existsSync(lab.dir)).toBe(process.env.KEEP_LAB ? true : false);
      await lab.stop(); // idempotent
    },
    T,
  );
});
