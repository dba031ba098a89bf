import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
  lstatSync,
  mkdtempSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AppState } from '@agent-loop/shared';
import { labActionInputs } from './support/deploy-settings';
import { startLab, type Lab, type LabHost } from './lab/index';
import { cancelLikeRunner, runAction, startAction, type RunActionResult } from './lab/run-action';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github';
import { startRecorder, type Recorder } from './support/recorder';

/**
 * The suite's first promise, tried as an SRE would with the bundles run as the runner runs them:
 * a rollback puts back the last good version; a cancelled, killed or racing run leaves nothing
 * behind that a plain re-run does not settle; the state always says what nginx serves.
 */

// Each case runs several bundles against real hosts; on a loaded 2-core machine one can take minutes.
vi.setConfig({ testTimeout: 240_000, hookTimeout: 240_000 });

const scratch = mkdtempSync(join(tmpdir(), 'al-trust-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function statePath(lab: Lab, host: LabHost): string {
  return join(host.stateDir, lab.app, 'state.json');
}
function readHostState(lab: Lab, host: LabHost = lab.hosts[0]!): AppState {
  return JSON.parse(readFileSync(statePath(lab, host), 'utf8')) as AppState;
}
function lockExists(lab: Lab, host: LabHost): boolean {
  return existsSync(join(host.stateDir, lab.app, 'lock'));
}

/** The weights nginx serves now, from the status server the include defines. */
function liveWeights(lab: Lab, host: LabHost): { blue: number; green: number } | null {
  try {
    const body = execFileSync(
      'curl',
      [
        '-s',
        '-f',
        '--max-time',
        '2',
        '-H',
        `Host: agent-loop-${lab.app}`,
        `http://127.0.0.1:${host.statusPort}/agent-loop/${lab.app}`,
      ],
      { encoding: 'utf8' },
    );
    return (JSON.parse(body) as { weights: { blue: number; green: number } }).weights;
  } catch {
    return null;
  }
}
/** The weights the include file on disk says. */
function fileWeights(lab: Lab, host: LabHost): { blue: number; green: number } | null {
  const file = join(host.nginxConfDir, `agent-loop-${lab.app}.conf`);
  if (!existsSync(file)) return null;
  const match = /^# agent-loop: (\{.*\})$/m.exec(readFileSync(file, 'utf8'));
  return match ? (JSON.parse(match[1]!) as { weights: { blue: number; green: number } }).weights : null;
}

/** Which versions answer through the host's nginx (n requests). */
async function served(host: LabHost, n = 30): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const response = await fetch(`${host.proxyUrl}/run-agent-probe`, { headers: { connection: 'close' } });
    const version = response.headers.get('x-version') ?? 'none';
    counts[version] = (counts[version] ?? 0) + 1;
    await response.arrayBuffer();
  }
  return counts;
}

function hostsYaml(
  lab: Lab,
  override: (host: LabHost) => Record<string, string | undefined> = () => ({}),
  order: LabHost[] = lab.hosts,
): string {
  return order
    .map((h) => {
      const fields: Record<string, string | undefined> = {
        'blue-port': String(h.bluePort),
        'green-port': String(h.greenPort),
        'nginx-status-port': String(h.statusPort),
        'state-dir': h.stateDir,
        'nginx-conf-dir': h.nginxConfDir,
        'nginx-command': h.nginxCommand,
        'access-log': h.accessLog,
        ...override(h),
      };
      return [
        `- host: ${h.target}`,
        ...Object.entries(fields).flatMap(([k, v]) => (v === undefined ? [] : [`  ${k}: ${v}`])),
      ].join('\n');
    })
    .join('\n');
}

function inputs(lab: Lab, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...labActionInputs(lab),
    'split-key': '$request_id',
    'min-free-disk-mb': '1',
    'min-free-memory-mb': '1',
    'drain-seconds': '0',
    'health-timeout-seconds': '20',
    ...overrides,
  };
}

async function deploy(lab: Lab, version: string, overrides: Record<string, string> = {}): Promise<RunActionResult> {
  return runAction({
    action: 'blue-green',
    inputs: inputs(lab, { phase: 'deploy', image: `registry.example/agent-loop:${version}`, version, ...overrides }),
  });
}
async function promote(lab: Lab, overrides: Record<string, string> = {}): Promise<RunActionResult> {
  return runAction({ action: 'blue-green', inputs: inputs(lab, { phase: 'promote', ...overrides }) });
}
async function rollback(lab: Lab, overrides: Record<string, string> = {}): Promise<RunActionResult> {
  return runAction({
    action: 'rollback',
    inputs: inputs(lab, { method: 'nginx', 'create-incident': 'false', ...overrides }),
  });
}

function ok(result: RunActionResult): RunActionResult {
  if (result.code !== 0)
    throw new Error(
      `expected success, got exit ${result.code}:\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-1000)}`,
    );
  return result;
}

/** After any phase: the include on disk is what nginx serves, and the state says the same. */
function consistent(lab: Lab): void {
  for (const host of lab.hosts) {
    const live = liveWeights(lab, host);
    expect(fileWeights(lab, host), `${host.name}: include on disk vs nginx`).toEqual(live);
    const state = readHostState(lab, host);
    expect(state.pending, `${host.name}: no switch left pending`).toBeNull();
    if (live && state.active) {
      const major = live.blue >= live.green ? 'blue' : 'green';
      expect(state.active, `${host.name}: the state's active color serves the most`).toBe(major);
      const minor = major === 'blue' ? 'green' : 'blue';
      if (live[minor] > 0)
        expect(state.canary?.color, `${host.name}: a canary share nginx serves is on record`).toBe(minor);
      else expect(state.canary, `${host.name}: no canary on record that nginx does not serve`).toBeNull();
    }
    expect(lockExists(lab, host), `${host.name}: no lock left behind`).toBe(false);
  }
}

// ------------------------------------------------------------------------------------------------

describe('rollback puts back the last good release', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ hosts: 2 });
  });
  afterAll(async () => lab?.stop());

  it('after a failed deploy it never promotes the failed build (finding 1)', async () => {
    ok(await deploy(lab, 'v1'));
    await lab.enableSite();
    ok(await deploy(lab, 'v2'));
    ok(await promote(lab));
    await lab.setKnobs('v3', { errorRate: 1 });
    const failed = await deploy(lab, 'v3');
    expect(failed.code).toBe(1);
    expect(readHostState(lab).releases.at(-1)).toMatchObject({ version: 'v3', status: 'failed' });

    // The live release (v2) is taken out of service and the last good one before it comes back;
    // the failed v3, which never served, is skipped and said to be.
    const result = ok(await rollback(lab, { reason: 'v2 is slow for customers' }));
    expect(result.outputs).toMatchObject({ noop: 'false', version: 'v1', 'failed-version': 'v2' });
    expect(result.stdout).toMatch(
      /rolling back v2 \(live\) to v1, skipping v3 \(failed\), which never served or were rejected/,
    );
    for (const host of lab.hosts) expect(await served(host)).toEqual({ v1: 30 });
    consistent(lab);
  });

  it('is idempotent: once v1 is back, another rollback moves nothing (finding 2)', async () => {
    for (let i = 0; i < 2; i++) {
      const again = ok(await rollback(lab));
      expect(again.outputs.noop).toBe('true');
      expect(again.stdout).toMatch(
        new RegExp(
          /v1 already serves all traffic on blue \(v1 was put back by a rollback at [^)]+\); /.source +
            /to go further back, name a version with target-version: /.source +
            /v3 \(failed\), v2 \(rolled-back\), v1 \(live\)/.source,
        ),
      );
      for (const host of lab.hosts) expect(await served(host, 10)).toEqual({ v1: 10 });
    }
    const releases = readHostState(lab).releases.map((release) => `${release.version}:${release.status}`);
    expect(releases).toEqual(['v1:live', 'v2:rolled-back', 'v3:failed']);
    consistent(lab);
  });

  it('a rejected version comes back only when named, with a warning; the summary and errors list what one can choose', async () => {
    const named = ok(await rollback(lab, { 'target-version': 'v2' }));
    expect(named.stdout).toMatch(
      /v2 was rolled-back \(v2 is slow for customers\); rolling back to it because it was named/,
    );
    for (const host of lab.hosts) expect(await served(host, 10)).toEqual({ v2: 10 });
    const unknown = await rollback(lab, { 'target-version': 'v9' });
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toMatch(
      /version v9 is not in this host's history \(known: v3 \(failed\), v2 \(live\), v1 \(rolled-back\)\)/,
    );
    consistent(lab);
  });
});

// ------------------------------------------------------------------------------------------------

describe('a cancelled or killed run leaves nothing behind', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ hosts: 2 });
    ok(await deploy(lab, 'v1'));
    await lab.enableSite();
  });
  afterAll(async () => lab?.stop());

  /** Waits until the bundle has printed `text`. */
  async function until(started: { output(): string }, text: RegExp, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!text.test(started.output())) {
      if (Date.now() > deadline) throw new Error(`never saw ${text}:\n${started.output().slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('SIGINT during the health wait: exits within the grace time, lock released, release cancelled, traffic unchanged (finding 3)', async () => {
    await lab.setKnobs('v2', { readyDelayMs: 60_000 });
    const started = await startAction({
      action: 'blue-green',
      inputs: inputs(lab, {
        phase: 'deploy',
        image: 'registry.example/agent-loop:v2',
        version: 'v2',
        'health-timeout-seconds': '120',
      }),
    });
    await until(started, /start v2 as green on port \d+ ok/);
    const exitMs = await cancelLikeRunner(started);
    const result = await started.result;
    expect(exitMs).toBeLessThan(7500);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/SIGINT received: the run is cancelled/);
    expect(result.state.mainDone).toBe('true');
    for (const host of lab.hosts) {
      expect(readHostState(lab, host).releases.at(-1)).toMatchObject({ version: 'v2', status: 'cancelled' });
      expect(await served(host, 10)).toEqual({ v1: 10 });
    }
    consistent(lab);
  });

  it('SIGKILL during the health wait: the post step releases the locks; a plain re-run converges', async () => {
    const started = await startAction({
      action: 'blue-green',
      inputs: inputs(lab, {
        phase: 'deploy',
        image: 'registry.example/agent-loop:v2',
        version: 'v2',
        'health-timeout-seconds': '120',
      }),
    });
    await until(started, /start v2 as green on port \d+ ok/);
    started.child.kill('SIGKILL');
    const killed = await started.result;
    for (const host of lab.hosts) expect(lockExists(lab, host)).toBe(true);
    // What the runner does next: the post step, with the state the main step saved.
    const post = await runAction({
      action: 'blue-green',
      inputs: inputs(lab, { phase: 'deploy', image: 'registry.example/agent-loop:v2', version: 'v2' }),
      state: killed.state,
    });
    expect(post.code).toBe(0);
    expect(post.stdout).toMatch(/the deploy did not finish; settled its traffic and released its lock on/);
    for (const host of lab.hosts) expect(lockExists(lab, host)).toBe(false);
    await lab.setKnobs('v2', {});
    ok(await deploy(lab, 'v2'));
    for (const host of lab.hosts) expect(readHostState(lab, host).canary).toMatchObject({ version: 'v2', percent: 10 });
    consistent(lab);
    ok(await promote(lab));
    consistent(lab);
  });

  it("SIGKILL with no post step: the dead run's lock is known dead within lock-stale-seconds and broken by the next run", async () => {
    await lab.setKnobs('v3', { readyDelayMs: 60_000 });
    const started = await startAction({
      action: 'blue-green',
      inputs: inputs(lab, {
        phase: 'deploy',
        image: 'registry.example/agent-loop:v3',
        version: 'v3',
        'health-timeout-seconds': '120',
      }),
    });
    await until(started, /start v3 as blue on port \d+ ok/);
    started.child.kill('SIGKILL');
    await started.result;
    const refused = await deploy(lab, 'v3', { 'lock-stale-seconds': '10' });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      new RegExp(
        /another deploy holds the lock: run 4242-1 by lab-user \(deploy of v3, since [^)]+\), /.source +
          /alive \d+ s ago; set lock-wait-seconds \(e\.g\. 600\) to wait for it/.source,
      ),
    );
    expect(refused.summary).toMatch(
      /the step stopped\n\n```text\n[^`]*another deploy holds the lock: run 4242-1[^`]*set lock-wait-seconds/,
    );
    await lab.setKnobs('v3', {});
    // Waiting is enough: the heartbeat stopped with the run, so the lock goes stale and is broken.
    const rerun = ok(await deploy(lab, 'v3', { 'lock-stale-seconds': '10', 'lock-wait-seconds': '40' }));
    expect(rerun.stdout).toMatch(/breaking a stale lock \(no sign of life for 1\d s\) held by run 4242-1/);
    consistent(lab);
  });

  /** An nginx command that, on reload, marks the moment and waits before (or after) reloading, so a test can strike there. */
  function slowReload(host: LabHost, marker: string, when: 'before' | 'after'): string {
    const wrapper = join(host.dir, `slow-nginx-${when}.sh`);
    const nginx = `nginx -p ${host.nginxPrefix}/ -c conf/nginx.conf`;
    const onReload =
      when === 'before'
        ? `touch ${marker}; sleep 1.5; exec ${nginx} "$@"`
        : `${nginx} "$@"; s=$?; touch ${marker}; sleep 1.5; exit $s`;
    writeFileSync(wrapper, `#!/bin/sh\ncase "$*" in *"-s reload"*) ${onReload} ;; esac\nexec ${nginx} "$@"\n`);
    chmodSync(wrapper, 0o755);
    return wrapper;
  }

  /** A killed run's switch goes on on the host (sshd does not end it): wait for it, so what follows is deterministic. */
  async function switchesDone(lab: Lab): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      let running = '';
      try {
        running = execFileSync('pgrep', ['-f', `al-switch ${lab.dir}`], { encoding: 'utf8' });
      } catch {
        running = '';
      }
      if (!running.trim() || Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function waitFile(file: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (!existsSync(file)) {
      if (Date.now() > deadline) throw new Error(`${file} never appeared`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  for (const [when, signal] of [
    ['before', 'SIGKILL'],
    ['after', 'SIGKILL'],
    ['after', 'SIGINT'],
  ] as const) {
    it(`${signal} ${when === 'before' ? 'just before' : 'just after'} the switch: no canary is left that nothing watches`, async () => {
      // From a plain state (no canary): a deploy over a canary first takes that canary out, with a reload of its own.
      if (readHostState(lab).canary) ok(await rollback(lab));
      const version = `v4${when[0]}${signal === 'SIGINT' ? 'i' : 'k'}`;
      const marker = join(scratch, `${version}.reload`);
      const hostsInput = hostsYaml(lab, (host) => ({ 'nginx-command': slowReload(host, marker, when) }));
      const before = lab.hosts.map((host) => liveWeights(lab, host));
      const started = await startAction({
        action: 'blue-green',
        inputs: inputs(lab, {
          phase: 'deploy',
          image: `registry.example/agent-loop:${version}`,
          version,
          hosts: hostsInput,
        }),
      });
      await waitFile(marker);
      let result: RunActionResult;
      if (signal === 'SIGKILL') {
        started.child.kill('SIGKILL');
        result = await started.result;
        await switchesDone(lab);
        // The state knows a switch was in flight.
        expect(lab.hosts.some((host) => readHostState(lab, host).pending !== null)).toBe(true);
        const post = await runAction({
          action: 'blue-green',
          inputs: inputs(lab, { phase: 'deploy', image: `registry.example/agent-loop:${version}`, version }),
          state: result.state,
        });
        expect(post.code).toBe(0);
      } else {
        const exitMs = await cancelLikeRunner(started);
        result = await started.result;
        expect(exitMs).toBeLessThan(7500 + 1000);
        expect(result.stdout).toMatch(/traffic moved back|no traffic was moved/);
      }
      expect(result.code).not.toBe(0);
      for (const [index, host] of lab.hosts.entries()) {
        expect(liveWeights(lab, host)).toEqual(before[index]);
        expect(readHostState(lab, host).releases.at(-1)).toMatchObject({ version, status: 'cancelled' });
      }
      consistent(lab);
    });
  }

  it("SIGINT during promote's drain: the promotion stands and is on record; a re-run is a no-op", async () => {
    ok(await deploy(lab, 'v5'));
    const canaryColor = readHostState(lab).canary!.color;
    const started = await startAction({
      action: 'blue-green',
      inputs: inputs(lab, { phase: 'promote', 'drain-seconds': '60' }),
    });
    await until(started, /draining the previous color for 60 s/);
    const exitMs = await cancelLikeRunner(started);
    await started.result;
    expect(exitMs).toBeLessThan(7500);
    for (const host of lab.hosts) {
      expect(liveWeights(lab, host)?.[canaryColor]).toBe(100);
      expect(readHostState(lab, host).releases.at(-1)).toMatchObject({ version: 'v5', status: 'live' });
    }
    consistent(lab);
    expect(ok(await promote(lab)).stdout).toMatch(
      new RegExp(`v5 already serves all traffic on ${canaryColor}; nothing to promote`),
    );
  });

  it("two jobs of one run (same run id and attempt): the post step of one leaves the other's lock and pending switch alone (security finding 3)", async () => {
    if (readHostState(lab).canary) ok(await rollback(lab));
    const run = { GITHUB_RUN_ID: '5151', GITHUB_RUN_ATTEMPT: '1' };
    const lockOwner = (host: LabHost) => readFileSync(join(host.stateDir, lab.app, 'lock', 'owner.json'), 'utf8');
    const stateText = (host: LabHost) => readFileSync(statePath(lab, host), 'utf8');
    const before = lab.hosts.map((host) => liveWeights(lab, host));

    // Job B (deploy-eu) is killed at its switch, whose reload never happens (so nothing the host goes
    // on with after the kill can move traffic later): its locks and its pending switch stay on the hosts.
    const marker = join(scratch, 'v6j.reload');
    const wrapper = (host: LabHost) => {
      const file = join(host.dir, 'reload-never-v6j.sh');
      writeFileSync(
        file,
        `#!/bin/sh\ncase "$*" in *"-s reload"*) touch ${marker}; sleep 2; exit 1 ;; esac\nexec nginx -p ${host.nginxPrefix}/ -c conf/nginx.conf "$@"\n`,
      );
      chmodSync(file, 0o755);
      return file;
    };
    const jobB = inputs(lab, {
      phase: 'deploy',
      image: 'registry.example/agent-loop:v6j',
      version: 'v6j',
      hosts: hostsYaml(lab, (host) => ({ 'nginx-command': wrapper(host) })),
    });
    const b = await startAction({ action: 'blue-green', inputs: jobB, env: { ...run, GITHUB_JOB: 'deploy-eu' } });
    await waitFile(marker);
    b.child.kill('SIGKILL');
    const killedB = await b.result;
    await switchesDone(lab);
    for (
      const deadline = Date.now() + 20_000;
      Date.now() < deadline;
      await new Promise((resolve) => setTimeout(resolve, 100))
    ) {
      if (spawnSync('pgrep', ['-f', 'reload-never-v6j.sh']).status !== 0) break;
    }
    expect(lab.hosts.some((host) => readHostState(lab, host).pending !== null)).toBe(true);
    const locksB = lab.hosts.map(lockOwner);
    const statesB = lab.hosts.map(stateText);

    // Job A (deploy-us) of the same run and attempt waits for B's lock and is killed too; the runner then runs A's post step.
    const jobA = inputs(lab, {
      phase: 'deploy',
      image: 'registry.example/agent-loop:v6k',
      version: 'v6k',
      'lock-wait-seconds': '600',
    });
    const a = await startAction({ action: 'blue-green', inputs: jobA, env: { ...run, GITHUB_JOB: 'deploy-us' } });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    a.child.kill('SIGKILL');
    const killedA = await a.result;
    expect(killedA.state.mainDone).toBeUndefined();
    const postA = await runAction({
      action: 'blue-green',
      inputs: jobA,
      env: { ...run, GITHUB_JOB: 'deploy-us' },
      state: killedA.state,
    });
    expect(postA.code).toBe(0);
    expect(lab.hosts.map((host) => lockExists(lab, host) && lockOwner(host))).toEqual(locksB);
    expect(lab.hosts.map(stateText)).toEqual(statesB);
    expect(postA.stdout).not.toMatch(/settled its traffic and released its lock/);
    for (const host of lab.hosts)
      expect(postA.stdout).toContain(
        `${host.target}: the lock belongs to another job of run 5151-1 (job deploy-eu): left alone`,
      );
    // What told them apart: the job and the token each main step kept in its state.
    expect(killedA.state.jobToken).toMatch(/^[0-9a-f]{32}$/);
    expect(killedA.state.jobToken).not.toBe(killedB.state.jobToken);
    expect(JSON.parse(locksB[0]!)).toMatchObject({
      runId: '5151-1',
      job: 'deploy-eu',
      jobToken: killedB.state.jobToken,
    });

    // B's own post step (nginx reloads again) settles B's switch and releases B's locks.
    const postB = await runAction({
      action: 'blue-green',
      inputs: { ...jobB, hosts: lab.hostsInput },
      env: { ...run, GITHUB_JOB: 'deploy-eu' },
      state: killedB.state,
    });
    expect(postB.code).toBe(0);
    expect(postB.stdout).toMatch(/the deploy did not finish; settled its traffic and released its lock on/);
    for (const [index, host] of lab.hosts.entries()) {
      expect(liveWeights(lab, host)).toEqual(before[index]);
      expect(readHostState(lab, host).releases.at(-1)).toMatchObject({ version: 'v6j', status: 'cancelled' });
    }
    consistent(lab);
  });
});

// ------------------------------------------------------------------------------------------------

describe('races, reloads without effect, torn and hostile state', () => {
  let lab: Lab;
  let github: FakeGitHub;
  let slack: Recorder;
  beforeAll(async () => {
    lab = await startLab({ hosts: 2 });
    github = await startFakeGitHub();
    slack = await startRecorder();
    ok(await deploy(lab, 'v1'));
    await lab.enableSite();
  });
  afterAll(async () => {
    await lab?.stop();
    await github?.close();
    await slack?.close();
  });

  it('two runs started together, hosts listed in opposite orders: exactly one proceeds, the other names it (finding 4)', async () => {
    for (const wait of ['0', '5']) {
      const a = startAction({
        action: 'blue-green',
        inputs: inputs(lab, {
          phase: 'deploy',
          image: 'registry.example/agent-loop:v2',
          version: 'v2',
          'lock-wait-seconds': wait,
          'max-parallel': '1',
        }),
        env: { GITHUB_RUN_ID: '1001' },
      });
      const b = startAction({
        action: 'blue-green',
        inputs: inputs(lab, {
          phase: 'deploy',
          image: 'registry.example/agent-loop:v3',
          version: 'v3',
          'lock-wait-seconds': wait,
          'max-parallel': '1',
          hosts: hostsYaml(lab, () => ({}), [...lab.hosts].reverse()),
        }),
        env: { GITHUB_RUN_ID: '1002' },
      });
      const results = await Promise.all([(await a).result, (await b).result]);
      const winners = results.filter((result) => result.code === 0);
      if (wait === '0') {
        expect(winners).toHaveLength(1);
        const loser = results.find((result) => result.code !== 0)!;
        expect(loser.stdout).toMatch(/another deploy holds the lock: run 100[12]-1 by lab-user \(deploy of v[23]/);
        expect(loser.stdout).not.toMatch(/unknown run|no owner file/);
      } else {
        // With a wait, the second simply goes after the first: both finish, neither deadlocks.
        expect(winners.length).toBeGreaterThanOrEqual(1);
        expect(
          results.every(
            (result) => result.code === 0 || /holds the lock|no canary|the canary runs/.test(result.stdout),
          ),
        ).toBe(true);
      }
      consistent(lab);
      ok(await rollback(lab));
    }
  });

  it('a reload that exits 0 but never takes effect: the include is put back, the other host moves back, the next reload is a no-op (finding 5)', async () => {
    const broken = lab.hosts[1]!;
    const fake = join(broken.dir, 'reload-does-nothing.sh');
    writeFileSync(
      fake,
      `#!/bin/sh\ncase "$*" in *"-s reload"*) exit 0 ;; esac\nexec nginx -p ${broken.nginxPrefix}/ -c conf/nginx.conf "$@"\n`,
    );
    chmodSync(fake, 0o755);
    const before = lab.hosts.map((host) => liveWeights(lab, host));
    const result = await deploy(lab, 'v6', {
      hosts: hostsYaml(lab, (host) => (host === broken ? { 'nginx-command': fake } : {})),
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/did not serve the new weights within 5000 ms; the previous file was put back/);
    expect(lab.hosts.map((host) => liveWeights(lab, host))).toEqual(before);
    // A certificate hook reloads nginx later: nothing this run gave up on may come back.
    execFileSync('nginx', ['-p', `${broken.nginxPrefix}/`, '-c', 'conf/nginx.conf', '-s', 'reload']);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(liveWeights(lab, broken)).toEqual(before[1]);
    consistent(lab);
  });

  it('a torn state.json: a clear error naming repair-state; repair-state rebuilds it from the audit log and nginx (finding 7)', async () => {
    const host = lab.hosts[0]!;
    const good = readHostState(lab, host);
    writeFileSync(statePath(lab, host), readFileSync(statePath(lab, host), 'utf8').slice(0, 200));
    const refused = await deploy(lab, 'v7');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      /state\.json is not valid JSON \(torn or edited by hand\); re-run with repair-state: true/,
    );
    // The summary says the same: a plain re-run would meet the same file.
    expect(refused.summary).toContain('re-run the step with repair-state: true');
    expect(refused.summary).not.toContain('a plain re-run converges');
    const repaired = ok(await deploy(lab, 'v7', { 'repair-state': 'true' }));
    // (a warning's text reaches the runner with % escaped as %25, as the toolkit writes it)
    expect(repaired.stdout).toMatch(
      /state rebuilt from the audit log's last state \([^)]+\); nginx serves blue \d+%25 \/ green \d+%25: active \w+/,
    );
    const after = readHostState(lab, host);
    expect(after.releases.map((release) => release.version)).toEqual([
      ...good.releases.map((release) => release.version),
      'v7',
    ]);
    consistent(lab);
    ok(await rollback(lab));
  });

  it('a crafted state.json and lock owner print nothing the runner would take as a command (finding 9)', async () => {
    const host = lab.hosts[0]!;
    const state = readHostState(lab, host);
    const active = state.active!;
    const hostile = {
      ...state,
      colors: {
        ...state.colors,
        [active]: {
          ...state.colors[active]!,
          version: 'v1\n::add-mask::hidden\n::stop-commands::pwned\n::set-output name=x::y',
        },
      },
    };
    const saved = readFileSync(statePath(lab, host), 'utf8');
    writeFileSync(statePath(lab, host), JSON.stringify(hostile));
    const refused = await deploy(lab, 'v8');
    writeFileSync(statePath(lab, host), saved);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/is not an agent-loop state file: colors\.\w+\.version: a version label/);
    const lockDir = join(host.stateDir, lab.app, 'lock');
    execFileSync('mkdir', ['-p', lockDir]);
    writeFileSync(
      join(lockDir, 'owner.json'),
      JSON.stringify({
        token: 't',
        runId: 'x\u001b[2J',
        actor: '\n::add-mask::a',
        version: 'v\u001b]8;;http://evil\u0007',
        phase: 'deploy',
        time: 'now',
      }),
    );
    const held = await deploy(lab, 'v8');
    rmSync(lockDir, { recursive: true, force: true });
    for (const result of [refused, held]) {
      // The only ::add-mask:: lines are the action's own, masking the private key it was given.
      const lines = `${result.stdout}\n${result.stderr}`.split('\n');
      expect(lines.filter((line) => /^\s*::(add-mask::(hidden|a)$|stop-commands|set-output)/.test(line))).toEqual([]);
      expect(
        lines.filter(
          (line) => line.startsWith('::add-mask::') && !lab.clientKey.includes(line.slice(12).split('%0A')[0]!),
        ),
      ).toEqual([]);
      expect(result.stdout.includes('\u001b')).toBe(false);
    }
    // Each field of a lock owner is read with its pattern; one that does not fit is flagged, escaped.
    expect(held.stdout).toMatch(
      /another deploy holds the lock: run \(not a run id: 'x\\u001b\[2J'\) by \(not a user name: '\\n::add-mask::a'\)/,
    );
  });

  it('a hand-made empty lock folder is a stop sign: refused naming take-over-lock, even when old, taken over only with it (security finding 11)', async () => {
    const host = lab.hosts[1]!;
    const lockDir = join(host.stateDir, lab.app, 'lock');
    execFileSync('mkdir', [lockDir]);
    execFileSync('touch', ['-d', '1 hour ago', lockDir]);
    const releases = lab.hosts.map((h) => readHostState(lab, h).releases.length);
    // break-stale-lock (the default) and a short lock-stale-seconds: an ownerless lock is no dead run's.
    const refused = await deploy(lab, 'v8t', { 'lock-stale-seconds': '10' });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(
      `::error::${host.target}: the lock is a folder with no owner file (made by hand to stop deploys, or left by an old version); ` +
        'it never goes stale: remove it when deploys may go on, or re-run with take-over-lock: true to take it over',
    );
    expect(readdirSync(lockDir)).toEqual([]);
    expect(lab.hosts.map((h) => readHostState(lab, h).releases.length)).toEqual(releases);
    expect(lockExists(lab, lab.hosts[0]!)).toBe(false);

    const taken = ok(await deploy(lab, 'v8t', { 'take-over-lock': 'true' }));
    expect(taken.stdout).toContain(
      `::warning::${host.target}: taking over a lock with no owner file (take-over-lock: true)`,
    );
    for (const h of lab.hosts) expect(readHostState(lab, h).canary).toMatchObject({ version: 'v8t' });
    ok(await rollback(lab));
    consistent(lab);
  });

  it('a planted symlink is never written through, and no temporary file is left (finding 10)', async () => {
    const host = lab.hosts[0]!;
    const victim = join(scratch, 'victim.json');
    writeFileSync(victim, readFileSync(statePath(lab, host), 'utf8'));
    const before = readFileSync(victim, 'utf8');
    rmSync(statePath(lab, host));
    symlinkSync(victim, statePath(lab, host));
    ok(await deploy(lab, 'v9'));
    expect(readFileSync(victim, 'utf8')).toBe(before);
    expect(lstatSync(statePath(lab, host)).isSymbolicLink()).toBe(false);
    expect(readHostState(lab, host).canary).toMatchObject({ version: 'v9' });
    for (const h of lab.hosts) {
      expect(
        readdirSync(join(h.stateDir, lab.app)).filter((name) => name !== 'state.json' && name !== 'audit.log'),
      ).toEqual([]);
      expect(readdirSync(h.nginxConfDir).filter((name) => name.startsWith('.'))).toEqual([]);
    }
    ok(await rollback(lab));
    consistent(lab);
  });

  it(
    'a full disk after the switch: the phase fails and traffic goes back; once there is room, a plain re-run converges (finding 6)',
    { timeout: 240_000 },
    async () => {
      const host = lab.hosts[0]!;
      const small = join(host.dir, 'small-state');
      execFileSync('mkdir', ['-p', small]);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', small]);
      try {
        execFileSync('cp', ['-a', join(host.stateDir, lab.app), small]);
        const marker = join(scratch, 'full-disk.reload');
        const wrapper = join(host.dir, 'reload-then-wait.sh');
        const nginx = `nginx -p ${host.nginxPrefix}/ -c conf/nginx.conf`;
        writeFileSync(
          wrapper,
          `#!/bin/sh
case "$*" in *"-s reload"*) ${nginx} "$@"; s=$?; touch ${marker}; sleep 1.5; exit $s ;; esac
exec ${nginx} "$@"
`,
        );
        chmodSync(wrapper, 0o755);
        const hostsInput = hostsYaml(lab, (h) => (h === host ? { 'state-dir': small, 'nginx-command': wrapper } : {}));
        const started = await startAction({
          action: 'blue-green',
          inputs: inputs(lab, {
            phase: 'deploy',
            image: 'registry.example/agent-loop:v10',
            version: 'v10',
            hosts: hostsInput,
          }),
        });
        const deadline = Date.now() + 60_000;
        while (!existsSync(marker) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        // The switch is live; the disk fills before its outcome can be written.
        execFileSync('sh', ['-c', `dd if=/dev/zero of=${small}/fill bs=4k 2>/dev/null || true`]);
        const result = await started.result;
        expect(result.code).toBe(1);
        expect(result.stdout).toMatch(/the switch was made but could not be recorded .*; putting traffic back/);
        for (const h of lab.hosts) expect(liveWeights(lab, h)).toEqual({ blue: 100, green: 0 });
        rmSync(join(small, 'fill'));
        ok(await deploy(lab, 'v10', { hosts: hostsYaml(lab, (h) => (h === host ? { 'state-dir': small } : {})) }));
        const state = JSON.parse(readFileSync(join(small, lab.app, 'state.json'), 'utf8')) as AppState;
        expect(state.pending).toBeNull();
        expect(state.canary).toMatchObject({ version: 'v10', percent: 10 });
        expect(liveWeights(lab, host)).toEqual({ blue: 90, green: 10 });
        ok(await rollback(lab, { hosts: hostsYaml(lab, (h) => (h === host ? { 'state-dir': small } : {})) }));
        execFileSync('cp', ['-a', join(small, lab.app, '.'), join(host.stateDir, lab.app)]);
      } finally {
        execFileSync('umount', [small]);
      }
      consistent(lab);
    },
  );

  it(
    'abort: a rollback while canary-monitor watches takes effect in seconds; the monitor stops with verdict aborted (finding 11)',
    { timeout: 180_000 },
    async () => {
      ok(await deploy(lab, 'v11'));
      const monitor = await startAction({
        action: 'canary-monitor',
        inputs: { ...labActionInputs(lab), duration: '600', interval: '2', memory: 'none', sources: 'host' },
        env: { GITHUB_RUN_ID: '2001' },
        timeoutMs: 120_000,
      });
      const deadline = Date.now() + 30_000;
      while (!/t=\d+s|requests/.test(monitor.output()) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      const asked = Date.now();
      const result = ok(await rollback(lab, { reason: 'customer reports', 'lock-wait-seconds': '0' }));
      const tookMs = Date.now() - asked;
      const watched = await monitor.result;
      expect(watched.outputs.verdict).toBe('aborted');
      expect(watched.outputs['rolled-back']).toBe('false');
      expect(watched.stdout).toMatch(
        /analysis stopped: aborted by rollback run 4242-1 by lab-user \(customer reports\)/,
      );
      expect(result.stdout).toMatch(/canary-monitor run 2001-1 holds the lock: asking it to stop/);
      expect(result.outputs).toMatchObject({ 'rolled-back': 'true', 'failed-version': 'v11' });
      expect(tookMs).toBeLessThan(30_000);
      for (const host of lab.hosts) expect(liveWeights(lab, host)).toEqual({ blue: 100, green: 0 });
      expect(readHostState(lab).releases.at(-1)).toMatchObject({ version: 'v11', status: 'rejected' });
      consistent(lab);
    },
  );

  it('a failed rollback tells everyone: the deployment is marked failed, an incident is opened, Slack hears it (finding 8)', async () => {
    const dir = mkdtempSync(join(scratch, 'kubectl-'));
    writeFileSync(join(dir, 'kubectl'), '#!/bin/sh\necho "error: deployments.apps \\"web\\" not found" >&2\nexit 1\n');
    chmodSync(join(dir, 'kubectl'), 0o755);
    const deploymentId = String(github.deployments.length + 1000);
    github.deployments.push({
      id: Number(deploymentId),
      sha: 'abc',
      ref: 'main',
      environment: 'production',
      payload: { app: 'web' },
      created_at: new Date().toISOString(),
      statuses: [],
    });
    const result = await runAction({
      action: 'rollback',
      inputs: {
        app: 'web',
        method: 'kubernetes',
        deployment: 'web',
        'github-token': 'ghs_test',
        'failed-deployment-id': deploymentId,
        'slack-webhook-url': `${slack.url}/services/T/B/x`,
      },
      env: { PATH: `${dir}:${process.env.PATH}`, GITHUB_API_URL: github.url },
    });
    expect(result.code).toBe(1);
    expect(github.deployments.find((deployment) => deployment.id === Number(deploymentId))?.statuses[0]).toMatchObject({
      state: 'failure',
    });
    expect(github.issues.at(-1)?.title).toMatch(/^Rollback FAILED: web/);
    expect(slack.requests.at(-1)?.body).toMatch(/ROLLBACK FAILED: web in production/);
  });
});
