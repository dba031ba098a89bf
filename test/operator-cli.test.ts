import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSessions, deploy, openSessions, type AppState, type HostSpec, type HostStatus } from '@agent-loop/shared';
import { startLab, type Lab } from './lab/index';
import { sendTraffic, startTraffic } from './lab/traffic';
import { deploySettings, labHosts, sessionSettings } from './support/deploy-settings';
import { changedKnownHosts } from './support/fixtures';

/** The operator's command line against the lab's real sshd and nginx: what every host is doing, read without a lock. */

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
/**
 * bin/agent-loop runs the bundle in cli/dist (made by npm run build). CLI_UNDER_TEST names another
 * entry, to try a change of cli/src before that build: a .ts file (cli/src/index.ts) runs through
 * tsx, any other file with node (e.g. cli/src bundled by esbuild under node_modules/.cache).
 */
const under = process.env.CLI_UNDER_TEST;
const [cli, ...cliArgs] = !under
  ? [join(root, 'bin', 'agent-loop')]
  : under.endsWith('.ts')
    ? [join(root, 'node_modules', '.bin', 'tsx'), under]
    : [process.execPath, under];
let lab: Lab;
let hosts: HostSpec[];

async function agentLoop(
  args: string[],
  env: Record<string, string> = {},
  timeout = 60_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(cli!, [...cliArgs, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
      timeout,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? '',
    };
  }
}

/** The lab's inputs as an operator gives them: the key and known hosts as files, the rest in the environment. */
function operatorEnv(hostsInput = lab.hostsInput): Record<string, string> {
  const knownHosts = join(lab.dir, 'operator_known_hosts');
  writeFileSync(knownHosts, lab.knownHosts);
  return {
    AGENT_LOOP_HOSTS: hostsInput,
    AGENT_LOOP_APP: lab.app,
    AGENT_LOOP_SSH_PRIVATE_KEY_FILE: lab.clientKeyPath,
    AGENT_LOOP_SSH_KNOWN_HOSTS_FILE: knownHosts,
  };
}

function stateFiles(): string[] {
  return lab.hosts.map((host) => readFileSync(`${host.stateDir}/${lab.app}/state.json`, 'utf8'));
}

beforeAll(async () => {
  lab = await startLab({ hosts: 2 });
  hosts = labHosts(lab);
  expect((await deploy(hosts, deploySettings(lab, 'v1'))).ok).toBe(true);
  await lab.enableSite();
  expect((await deploy(hosts, deploySettings(lab, 'v2', { splitKey: '$request_id' }))).ok).toBe(true);
});

afterAll(async () => {
  await lab?.stop();
});

describe('agent-loop status', () => {
  it('shows what nginx serves, each color, the canary and where a rollback can go, and changes nothing', async () => {
    const before = stateFiles();
    const result = await agentLoop(['status', '--json'], operatorEnv());
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { app, hosts: statuses } = JSON.parse(result.stdout) as { app: string; hosts: HostStatus[] };
    expect(app).toBe(lab.app);
    expect(statuses.map((status) => status.host)).toEqual(hosts.map((host) => host.target.label));
    for (const status of statuses) {
      expect(status).toMatchObject({
        error: null,
        served: { blue: 90, green: 10 },
        file: { blue: 90, green: 10 },
        active: 'blue',
        lock: null,
        pending: null,
      });
      expect(status.canary).toMatchObject({ color: 'green', version: 'v2', percent: 10 });
      expect(status.colors.blue).toMatchObject({ version: 'v1', status: 'running' });
      expect(status.colors.green).toMatchObject({ version: 'v2', status: 'running' });
      expect(status.releases.map((release) => `${release.version} ${release.status}`)).toEqual([
        'v2 canary',
        'v1 live',
      ]);
      expect(status.rollbackPrevious).toBe('v1 on blue (running), taking v2 out');
      expect(status.rollbackTo).toEqual(['v2', 'v1']);
    }
    // Read only: no state written, no lock left behind.
    expect(stateFiles()).toEqual(before);
    for (const host of lab.hosts) expect(readdirSync(join(host.stateDir, lab.app))).not.toContain('lock');
  });

  it('names the run that holds the lock, in plain words, without waiting for it', async () => {
    const sessions = await openSessions(hosts, sessionSettings(lab), {
      runId: 'run-4242',
      actor: 'octocat',
      version: 'v2',
      phase: 'monitor canary',
      time: new Date().toISOString(),
    });
    try {
      const result = await agentLoop(['status', '--app', lab.app], operatorEnv());
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`${lab.app} on 2 host(s)`);
      expect(result.stdout).toMatch(
        /serves blue 90% \/ green 10%; blue v1 running, green v2 running; canary v2 at 10%/,
      );
      expect(result.stdout).toMatch(/lock: held by run run-4242 \(octocat, monitor canary of v2\), alive \d+ s ago/);
      expect(result.stdout).toContain(
        'rollback (target previous): v1 on blue (running), taking v2 out; by name: v2, v1',
      );
      // A phase that needs the lock refuses with its own exit code, naming what holds it: no usage line.
      const env = {
        ...operatorEnv(),
        AGENT_LOOP_RUNTIME: 'command',
        AGENT_LOOP_START_COMMAND: lab.startCommand,
        AGENT_LOOP_STOP_COMMAND: lab.stopCommand,
      };
      const refused = await agentLoop(['promote'], env);
      expect(refused.code).toBe(3);
      expect(refused.stderr).toMatch(
        new RegExp(
          /^agent-loop: \S+: a canary-monitor \(canary\) holds the lock: run run-4242 by octocat /.source +
            /\(monitor canary of v2, since [^)]+\), alive \d+ s ago; set lock-wait-seconds/.source,
        ),
      );
      expect(refused.stderr).not.toMatch(/usage|--help/);
    } finally {
      await closeSessions(sessions);
    }
  });

  it('warns on stderr about a changed host key it accepts only because insecure-skip-host-key-check is true (security finding 7)', async () => {
    const knownHosts = join(lab.dir, 'changed_known_hosts');
    writeFileSync(knownHosts, changedKnownHosts(lab));
    const result = await agentLoop(['status', '--json'], {
      ...operatorEnv(),
      AGENT_LOOP_SSH_KNOWN_HOSTS_FILE: knownHosts,
      AGENT_LOOP_INSECURE_SKIP_HOST_KEY_CHECK: 'true',
    });
    expect(result.code).toBe(0);
    // The JSON on stdout is whole; the warnings are beside it.
    expect((JSON.parse(result.stdout) as { hosts: HostStatus[] }).hosts.every((status) => status.error === null)).toBe(
      true,
    );
    for (const host of hosts) expect(result.stderr).toContain(`warning: ${host.target.label}: host key SHA256:`);
    expect(result.stderr.match(/is changed, accepted because insecure-skip-host-key-check is true/g)).toHaveLength(
      hosts.length,
    );
  });

  it('reports a host it cannot reach next to the others, and fails', async () => {
    // A host whose key is not in the known hosts: refused, as the actions refuse it.
    const result = await agentLoop(['status', '--json'], { ...operatorEnv(`${lab.hostsInput}\n- root@127.0.0.1:1`) });
    expect(result.code).toBe(1);
    const { hosts: statuses } = JSON.parse(result.stdout) as { hosts: HostStatus[] };
    expect(statuses).toHaveLength(3);
    expect(statuses.slice(0, 2).every((status) => status.error === null)).toBe(true);
    expect(statuses[2]!.error).toMatch(/root@127\.0\.0\.1:1/);
  });

  it('refuses bad usage before contacting any host, and never prints the key', async () => {
    const unknown = await agentLoop(['status', '--hots', 'x'], operatorEnv());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown option --hots');
    const badApp = await agentLoop(['status', '--app', 'Bad App!'], operatorEnv());
    expect(badApp.code).toBe(2);
    expect(badApp.stderr).toContain("Input 'app'");
    const noKey = await agentLoop(['status'], { ...operatorEnv(), AGENT_LOOP_SSH_PRIVATE_KEY_FILE: '' });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("Input 'ssh-private-key': is required");
    const key = readFileSync(lab.clientKeyPath, 'utf8').split('\n')[1]!;
    for (const result of [unknown, badApp, noKey]) expect(result.stdout + result.stderr).not.toContain(key);
  });

  it('refuses a rollback without runtime inputs when the releases record no runtime (an older state), and changes nothing (issue 21)', async () => {
    // v1 and v2 were deployed by the core without a runtime record, as an older version wrote them.
    const before = stateFiles();
    const canary = (JSON.parse(before[0]!) as AppState).canary!;
    const result = await agentLoop(['rollback', '--reason', 'no runtime given'], {
      ...operatorEnv(),
      AGENT_LOOP_SPLIT_KEY: '$request_id',
    });
    expect(result.code, result.stdout + result.stderr).toBe(4);
    expect(result.stderr).toMatch(/^notice: nothing to roll back; nothing was changed:$/m);
    expect(result.stderr).toMatch(
      new RegExp(
        `cannot stop ${canary.color} \\(v2\\): no runtime input names one and its release records none .*` +
          'pass the runtime inputs it runs with: runtime: command with start-command and stop-command, ' +
          'or runtime: compose with compose-file',
      ),
    );
    expect(result.stdout + result.stderr).not.toMatch(/stop \S+ \(v2\) ok/);
    expect(stateFiles()).toEqual(before);
    // The canary still runs and still takes its share.
    for (const host of lab.hosts) {
      const port = canary.color === 'blue' ? host.bluePort : host.greenPort;
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    }
    // Commands without a runtime are refused before any host, not ignored.
    const half = await agentLoop(['rollback', '--stop-command', lab.stopCommand], operatorEnv());
    expect(half.code).toBe(2);
    expect(half.stderr).toContain("Input 'runtime': is required with stop-command: pass runtime: command too");
  });

  it('rolls back from the command line with the same locks, state and audit log, showing each step; a second one does nothing', async () => {
    const env = {
      ...operatorEnv(),
      AGENT_LOOP_RUNTIME: 'command',
      AGENT_LOOP_START_COMMAND: lab.startCommand,
      AGENT_LOOP_STOP_COMMAND: lab.stopCommand,
      AGENT_LOOP_SPLIT_KEY: '$request_id',
    };
    const result = await agentLoop(['rollback', '--reason', 'error rate 4% on the canary'], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    for (const host of hosts) expect(result.stdout).toContain(`${host.target.label}: rolling back v2 (canary) to v1`);
    expect(result.stdout).toMatch(/rolled back to v1 on 2 host\(s\); traffic restored \d+ ms after the start/);
    for (const host of lab.hosts)
      expect((await sendTraffic({ url: host.proxyUrl, maxRequests: 50 })).byVersion).toEqual({ v1: 50 });
    const state = JSON.parse(readFileSync(`${lab.hosts[0]!.stateDir}/${lab.app}/state.json`, 'utf8')) as AppState;
    expect(state.releases.find((release) => release.version === 'v2')).toMatchObject({
      status: 'rejected',
      note: 'error rate 4% on the canary',
    });
    expect(readFileSync(`${lab.hosts[0]!.stateDir}/${lab.app}/audit.log`, 'utf8')).toMatch(
      /"runId":"cli-\d+-[a-z0-9]+","actor":"operator"/,
    );
    for (const host of lab.hosts) expect(readdirSync(join(host.stateDir, lab.app))).not.toContain('lock');

    // A second rollback does nothing: v1 was put back by the first, and going further is a named choice.
    const again = await agentLoop(['rollback'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('to go further back, name a version with target-version: v2 (rejected), v1 (live)');
    expect(again.stdout).toContain('nothing to do: v1 already serves all traffic');
    for (const host of lab.hosts)
      expect((await sendTraffic({ url: host.proxyUrl, maxRequests: 20 })).byVersion).toEqual({ v1: 20 });
  });

  it('promotes a canary from the command line, refusing a version the canary does not run', async () => {
    expect((await deploy(hosts, deploySettings(lab, 'v3', { splitKey: '$request_id' }))).ok).toBe(true);
    const env = {
      ...operatorEnv(),
      AGENT_LOOP_RUNTIME: 'command',
      AGENT_LOOP_START_COMMAND: lab.startCommand,
      AGENT_LOOP_STOP_COMMAND: lab.stopCommand,
      AGENT_LOOP_SPLIT_KEY: '$request_id',
    };
    const wrong = await agentLoop(['promote', '--version', 'v9', '--drain-seconds', '0'], env);
    // Refused by the hosts' state, not failed: its own exit code, said as a notice.
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(
      /^notice: nothing to promote; nothing was changed:\nnotice: {3}\S+: the canary runs v3, not v9$/m,
    );
    expect((JSON.parse(stateFiles()[0]!) as AppState).canary).toMatchObject({ version: 'v3' });

    const result = await agentLoop(['promote', '--version', 'v3', '--drain-seconds', '0'], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('promoted v3 on 2 host(s)');
    for (const host of lab.hosts)
      expect((await sendTraffic({ url: host.proxyUrl, maxRequests: 30 })).byVersion).toEqual({ v3: 30 });
    const state = JSON.parse(stateFiles()[0]!) as AppState;
    expect(state.canary).toBeNull();
    expect(state.releases.find((release) => release.version === 'v3')).toMatchObject({ status: 'live' });
    expect(
      readFileSync(`${lab.hosts[0]!.stateDir}/${lab.app}/audit.log`, 'utf8')
        .split('\n')
        .filter((line) => line.includes('"runId":"cli-')).length,
    ).toBeGreaterThan(2);
    for (const host of lab.hosts) expect(readdirSync(join(host.stateDir, lab.app))).not.toContain('lock');

    // No canary, no ramp: a hold refuses rather than leave a request nobody would see.
    const hold = await agentLoop(['hold', '--reason', 'too late'], env);
    expect(hold.code).toBe(4);
    expect(hold.stderr).toBe(
      'notice: there is no canary or ramp to hold: v3 serves all traffic; nothing was changed\n',
    );
    // With --json, stdout holds the same refusal as an object of the fixed shape; the notice stays on stderr.
    const holdJson = await agentLoop(['hold', '--reason', 'too late', '--json'], env);
    expect(holdJson.code).toBe(4);
    expect(JSON.parse(holdJson.stdout)).toEqual({
      app: lab.app,
      ok: false,
      refused: true,
      error: 'there is no canary or ramp to hold: v3 serves all traffic',
      hosts: [],
      held: false,
      reason: 'too late',
      canary: null,
      ramp: null,
    });
    expect(holdJson.stderr).toBe(hold.stderr);
    for (const host of lab.hosts) expect(readdirSync(join(host.stateDir, lab.app))).not.toContain('hold');
  });

  it('deploys a canary from the command line, with its smoke test, refusing a missing image before contacting a host', async () => {
    const env = {
      ...operatorEnv(),
      AGENT_LOOP_RUNTIME: 'command',
      AGENT_LOOP_START_COMMAND: lab.startCommand,
      AGENT_LOOP_STOP_COMMAND: lab.stopCommand,
      AGENT_LOOP_SPLIT_KEY: '$request_id',
    };
    const missing = await agentLoop(['deploy', '--version', 'v4'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("Input 'image': is required");

    const result = await agentLoop(
      [
        'deploy',
        '--image',
        'registry.example/agent-loop:v4',
        '--version',
        'v4',
        '--canary-percent',
        '20',
        '--min-free-disk-mb',
        '0',
        '--min-free-memory-mb',
        '0',
      ],
      env,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/deployed v4 on 2 host\(s\) as (blue|green), taking 20% of traffic/);
    for (const host of hosts) expect(result.stdout).toContain(`${host.target.label}: success, serving`);
    const state = JSON.parse(stateFiles()[0]!) as AppState;
    expect(state.canary).toMatchObject({ version: 'v4', percent: 20 });
    const served = await sendTraffic({ url: lab.hosts[0]!.proxyUrl, maxRequests: 200 });
    expect(Object.keys(served.byVersion).sort()).toEqual(['v3', 'v4']);
    for (const host of lab.hosts) expect(readdirSync(join(host.stateDir, lab.app))).not.toContain('lock');
  });

  it(
    'aborts a canary that a monitor started from the command line watches: ' +
      'the monitor stops at once (aborted) and the stable version takes all traffic',
    async () => {
      const env = {
        ...operatorEnv(),
        AGENT_LOOP_RUNTIME: 'command',
        AGENT_LOOP_START_COMMAND: lab.startCommand,
        AGENT_LOOP_STOP_COMMAND: lab.stopCommand,
        AGENT_LOOP_SPLIT_KEY: '$request_id',
      };
      const traffic = lab.hosts.map((host) =>
        startTraffic({ url: host.proxyUrl, concurrency: 2, durationMs: 60_000, ratePerSecond: 20 }),
      );
      try {
        // A healthy canary watched for 5 minutes: only an abort ends this monitor early.
        const watching = agentLoop(['monitor', '--duration', '300', '--interval', '1', '--memory', 'none'], env);
        await new Promise((resolve) => setTimeout(resolve, 4000));
        // The monitor's lock names what it watches: the canary's version, read under the lock.
        const watched = await agentLoop(['status'], env);
        expect(watched.stdout).toMatch(/lock: held by run cli-\S+ \(operator, monitor canary of v4\), alive \d+ s ago/);
        const started = Date.now();
        const aborted = await agentLoop(['abort', '--reason', 'paged: checkout errors'], env);
        const abortMs = Date.now() - started;
        expect(aborted.stderr).toMatch(/canary-monitor run cli-\S+ holds the lock: asking it to stop/);
        expect(aborted.code).toBe(0);
        expect(aborted.stdout).toMatch(
          /the canary-monitor that held the hosts stopped \d+ ms after it was asked to \(its verdict: aborted\)/,
        );
        expect(aborted.stdout).toMatch(/aborted: rolled back to v3 on 2 host\(s\)/);
        expect(abortMs).toBeLessThan(30_000);
        const monitored = await watching;
        expect(monitored.code).toBe(1);
        // While it watched: a line per interval with both colors' figures.
        expect(monitored.stdout).toMatch(
          /^t=\d+s canary (blue|green): \d+ req, [\d.]+% errors, P95 .*; stable (blue|green): \d+ req/m,
        );
        expect(monitored.stdout).toMatch(
          /^verdict: aborted: aborted by rollback run cli-\S+ by \S+ \(paged: checkout errors\)$/m,
        );
        expect(Object.keys((await sendTraffic({ url: lab.hosts[0]!.proxyUrl, maxRequests: 100 })).byVersion)).toEqual([
          'v3',
        ]);
        const state = JSON.parse(stateFiles()[0]!) as AppState;
        expect(state.canary).toBeNull();
        expect(state.releases.find((release) => release.version === 'v4')?.status).toBe('rejected');
      } finally {
        for (const t of traffic) expect((await t.stop()).failed).toBe(0);
      }
      // With no canary left, an abort refuses: it never goes back from a promoted release.
      const nothing = await agentLoop(['abort'], env);
      expect(nothing.code).toBe(4);
      expect(nothing.stderr).toMatch(
        new RegExp(
          /^notice: nothing to abort; nothing was changed:\nnotice: {3}\S+: there is no canary or ramp to abort: /
            .source + /v3 serves all traffic; to go back from a promoted release, roll back instead$/.source,
          'm',
        ),
      );
      expect(nothing.stdout + nothing.stderr).not.toMatch(/rollback failed|nothing was rolled back/);
    },
  );

  it('watches a failing canary from the command line: progress per interval, an event per step, and the rollback it makes on its own', async () => {
    const env = {
      ...operatorEnv(),
      AGENT_LOOP_RUNTIME: 'command',
      AGENT_LOOP_START_COMMAND: lab.startCommand,
      AGENT_LOOP_STOP_COMMAND: lab.stopCommand,
      AGENT_LOOP_SPLIT_KEY: '$request_id',
    };
    await lab.setKnobs('v5', { errorRate: 0.3 });
    const deployed = await agentLoop(
      [
        'deploy',
        '--image',
        'registry.example/agent-loop:v5',
        '--version',
        'v5',
        '--smoke-requests',
        '[]',
        '--min-free-disk-mb',
        '0',
        '--min-free-memory-mb',
        '0',
      ],
      env,
    );
    expect(deployed.code, deployed.stderr).toBe(0);
    const traffic = lab.hosts.map((host) =>
      startTraffic({ url: host.proxyUrl, concurrency: 2, durationMs: 60_000, ratePerSecond: 40 }),
    );
    let watched: Awaited<ReturnType<typeof agentLoop>>;
    try {
      watched = await agentLoop(['monitor', '--duration', '60', '--interval', '1', '--memory', 'none'], env);
    } finally {
      for (const t of traffic) await t.stop();
    }
    expect(watched.code).toBe(1);
    expect(watched.stdout).toMatch(/^t=\d+s canary (blue|green): \d+ req, [\d.]+% errors/m);
    expect(watched.stdout).toMatch(
      /^event: halted: v5 halted \(failure\): error-rate: canary [\d.]+% errors over \d+ requests > 1%/m,
    );
    expect(watched.stdout).toMatch(
      /^event: rolled-back: rolled back to v3: all traffic back \d+\.\d s after the decision$/m,
    );
    expect(watched.stdout).toMatch(/^verdict: failure: error-rate/m);
    expect(Object.keys((await sendTraffic({ url: lab.hosts[1]!.proxyUrl, maxRequests: 100 })).byVersion)).toEqual([
      'v3',
    ]);
  });

  it('holds a ramp at its current step, watched, until resume; then it goes on to all traffic', async () => {
    const env = {
      ...operatorEnv(),
      AGENT_LOOP_RUNTIME: 'command',
      AGENT_LOOP_START_COMMAND: lab.startCommand,
      AGENT_LOOP_STOP_COMMAND: lab.stopCommand,
      AGENT_LOOP_SPLIT_KEY: '$request_id',
    };
    const deployed = await agentLoop(
      [
        'deploy',
        '--image',
        'registry.example/agent-loop:v6',
        '--version',
        'v6',
        '--smoke-requests',
        '[]',
        '--min-free-disk-mb',
        '0',
        '--min-free-memory-mb',
        '0',
      ],
      env,
    );
    expect(deployed.code, deployed.stderr).toBe(0);
    const held = await agentLoop(['hold', '--reason', 'waiting for the ops review'], env);
    expect(held.code, held.stderr).toBe(0);
    expect(held.stdout).toContain(
      'hold requested on 2 host(s): v6 at 10% stays at its current step, watched, until agent-loop resume; no ramp runs on it now',
    );
    // Status shows the hold, on every host.
    const shown = await agentLoop(['status'], env);
    expect(
      shown.stdout.match(
        /^ {2}hold: held by operator since \S+ \(waiting for the ops review\): a ramp stays at its current step until agent-loop resume$/gm,
      ),
    ).toHaveLength(2);
    const json = JSON.parse((await agentLoop(['status', '--json'], env)).stdout) as { hosts: HostStatus[] };
    for (const status of json.hosts)
      expect(status.hold).toMatchObject({ actor: 'operator', reason: 'waiting for the ops review' });
    const traffic = lab.hosts.map((host) =>
      startTraffic({ url: host.proxyUrl, concurrency: 2, durationMs: 90_000, ratePerSecond: 40 }),
    );
    try {
      const watching = agentLoop(
        ['monitor', '--mode', 'ramp', '--steps', '10,100', '--duration', '10', '--interval', '1', '--memory', 'none'],
        env,
        120_000,
      );
      // Two windows of 10 s later, the ramp is still at its first step.
      await new Promise((resolve) => setTimeout(resolve, 22_000));
      for (const text of stateFiles())
        expect((JSON.parse(text) as AppState).canary).toMatchObject({ version: 'v6', percent: 10 });
      const resumed = await agentLoop(['resume'], env);
      expect(resumed.code, resumed.stderr).toBe(0);
      // It says whose hold it lifted (one request, written on both hosts: said once).
      expect(resumed.stdout).toMatch(
        new RegExp(
          '^resumed: the hold set by operator at \\S+ \\(waiting for the ops review\\) is lifted on 2 host\\(s\\); ' +
            'a held ramp goes on after its current window\n$',
        ),
      );
      const watched = await watching;
      expect(watched.code, watched.stdout + watched.stderr).toBe(0);
      expect(watched.stdout).toMatch(
        /^event: held: v6 held at 10% \(asked by \S+: waiting for the ops review\): watched again before 100%$/m,
      );
      // At least one whole window watched while held (two on a quiet machine).
      expect(watched.stdout.match(/^ramp held at 10%/gm)!.length).toBeGreaterThanOrEqual(1);
      expect(watched.stdout).toMatch(
        /^event: weight-advanced: v6 weight advanced to 100% \(step 2 of 2\) on 2 hosts$/m,
      );
      expect(watched.stdout).toMatch(/^event: promoted: v6 ramped to all traffic/m);
      expect(watched.stdout).toMatch(/^verdict: success/m);
    } finally {
      for (const t of traffic) expect((await t.stop()).failed).toBe(0);
    }
    expect(Object.keys((await sendTraffic({ url: lab.hosts[0]!.proxyUrl, maxRequests: 100 })).byVersion)).toEqual([
      'v6',
    ]);
    for (const host of lab.hosts) expect(readdirSync(join(host.stateDir, lab.app))).not.toContain('hold');
    // No hold left: a second resume says so and changes nothing.
    const again = await agentLoop(['resume'], env);
    expect(again).toEqual({
      code: 0,
      stdout: 'nothing to resume: no hold was set on the 2 host(s); nothing was changed\n',
      stderr: '',
    });
  });

  it('ends a hold with its canary: rolled back, the canary leaves no hold behind for the next ramp', async () => {
    const env = {
      ...operatorEnv(),
      AGENT_LOOP_RUNTIME: 'command',
      AGENT_LOOP_START_COMMAND: lab.startCommand,
      AGENT_LOOP_STOP_COMMAND: lab.stopCommand,
    };
    const deployed = await agentLoop(
      [
        'deploy',
        '--image',
        'registry.example/agent-loop:v7',
        '--version',
        'v7',
        '--smoke-requests',
        '[]',
        '--min-free-disk-mb',
        '0',
        '--min-free-memory-mb',
        '0',
      ],
      env,
    );
    expect(deployed.code, deployed.stderr).toBe(0);
    // hold and resume with --json: one object each, of a fixed shape, and nothing else on stdout.
    const held = await agentLoop(['hold', '--reason', 'looking at v7', '--json'], env);
    expect(held.code, held.stderr).toBe(0);
    const labels = hosts.map((host) => host.target.label);
    expect(JSON.parse(held.stdout)).toEqual({
      app: lab.app,
      ok: true,
      refused: false,
      error: null,
      hosts: labels,
      held: true,
      reason: 'looking at v7',
      canary: { version: 'v7', percent: 10 },
      ramp: null,
    });
    const resumed = await agentLoop(['resume', '--json'], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    const lifted = JSON.parse(resumed.stdout) as { holds: Array<Record<string, string>> };
    expect(lifted).toEqual({
      app: lab.app,
      ok: true,
      refused: false,
      error: null,
      hosts: labels,
      resumed: true,
      holds: labels.map((host) => ({ host, actor: 'operator', reason: 'looking at v7', since: expect.any(String) })),
    });
    expect(new Date(String(lifted.holds[0]!.since)).getTime()).not.toBeNaN();
    const nothing = await agentLoop(['resume', '--json'], env);
    expect(nothing.code, nothing.stderr).toBe(0);
    expect(JSON.parse(nothing.stdout)).toEqual({
      app: lab.app,
      ok: true,
      refused: false,
      error: null,
      hosts: [],
      resumed: false,
      holds: [],
    });
    expect((await agentLoop(['hold', '--reason', 'looking at v7'], env)).code).toBe(0);
    for (const host of lab.hosts) expect(readdirSync(join(host.stateDir, lab.app))).toContain('hold');
    const rolledBack = await agentLoop(['rollback', '--reason', 'v7 is not wanted'], env);
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
    for (const host of lab.hosts) expect(readdirSync(join(host.stateDir, lab.app))).not.toContain('hold');
    const json = JSON.parse((await agentLoop(['status', '--json'], env)).stdout) as { hosts: HostStatus[] };
    for (const status of json.hosts) expect(status.hold).toBeNull();
  });

  it(
    'rolls back without runtime inputs, stopping the canary with the runtime recorded at its deploy: ' +
      'its port no longer answers, status says stopped (issue 21)',
    async () => {
      const withRuntime = {
        ...operatorEnv(),
        AGENT_LOOP_RUNTIME: 'command',
        AGENT_LOOP_START_COMMAND: lab.startCommand,
        AGENT_LOOP_STOP_COMMAND: lab.stopCommand,
      };
      const deployed = await agentLoop(
        [
          'deploy',
          '--image',
          'registry.example/agent-loop:v8',
          '--version',
          'v8',
          '--smoke-requests',
          '[]',
          '--min-free-disk-mb',
          '0',
          '--min-free-memory-mb',
          '0',
        ],
        withRuntime,
      );
      expect(deployed.code, deployed.stderr).toBe(0);
      const state = JSON.parse(stateFiles()[0]!) as AppState;
      const canary = state.canary!;
      expect(state.releases.find((release) => release.version === 'v8')?.runtime).toMatchObject({
        name: 'command',
        options: { startCommand: lab.startCommand, stopCommand: lab.stopCommand },
      });
      const port = (host: Lab['hosts'][number]) => (canary.color === 'blue' ? host.bluePort : host.greenPort);
      for (const host of lab.hosts) expect((await fetch(`http://127.0.0.1:${port(host)}/health`)).status).toBe(200);

      // No runtime, no commands: only the hosts and the key.
      const rolledBack = await agentLoop(['rollback', '--reason', 'v8 is not wanted'], operatorEnv());
      expect(rolledBack.stderr).toBe('');
      expect(rolledBack.code).toBe(0);
      expect(rolledBack.stdout).toMatch(new RegExp(`stop ${canary.color} \\(v8\\) ok`));
      for (const host of lab.hosts) await expect(fetch(`http://127.0.0.1:${port(host)}/health`)).rejects.toThrow();
      const json = JSON.parse((await agentLoop(['status', '--json'], operatorEnv())).stdout) as { hosts: HostStatus[] };
      for (const status of json.hosts)
        expect(status.colors[canary.color]).toMatchObject({ version: 'v8', status: 'stopped' });
      // All traffic on the stable color, whatever it runs.
      const stable = state.colors[canary.color === 'blue' ? 'green' : 'blue']!.version;
      for (const host of lab.hosts)
        expect(
          (await sendTraffic({ url: host.proxyUrl, maxRequests: 20 })).byVersion,
          JSON.stringify(state.colors),
        ).toEqual({ [stable]: 20 });
    },
  );
});
