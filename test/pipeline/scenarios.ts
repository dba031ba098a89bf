// The pipeline as users run it: the callers in examples/ (copied unchanged into the application's
// repository) run by the workflow runner for the events a team's repository sees, against the
// world's hosts, registry and stand-ins. Each function is one scenario; the test asserts on what
// it returns, the bench prints its times.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LabHost } from '../lab/index';
import { NODE24 } from '../lab/run-action';
import { startTraffic, type TrafficResult } from '../lab/traffic';
import { runWorkflow, type GateAnswer, type RunResult } from '../workflow/index';
import { recordReached } from './reached';
import { APP, type World } from './world';

/** What a scenario's run left for the test: the run, and the traffic the test sent meanwhile. */
export interface ScenarioRun {
  run: RunResult;
  traffic?: TrafficResult;
  /** Seconds the run took, by job (`deploy/gates` …), for the bench. */
  jobSeconds: Record<string, number>;
  seconds: number;
}

/** One host of a hosts input, with the lab's per-host values (separate machines would share the defaults). */
function hostItem(host: LabHost, login: string, nginxCommand: string): string {
  return [
    `- host: ${login}@127.0.0.1:${host.sshPort}`,
    `  blue-port: ${host.bluePort}`,
    `  green-port: ${host.greenPort}`,
    `  nginx-status-port: ${host.statusPort}`,
    `  state-dir: ${host.stateDir}`,
    `  nginx-conf-dir: ${host.nginxConfDir}`,
    `  nginx-command: ${nginxCommand}`,
    `  access-log: ${host.accessLog}`,
  ].join('\n');
}

const HELPER = 'sudo -n /usr/local/sbin/agent-loop-nginx';

/** The repository variables of README step 2, with the world's values. */
export function variables(world: World, overrides: Record<string, string> = {}): Record<string, string> {
  const all = [...world.production, world.staging];
  const admin = all.map((host) => hostItem(host, 'root', `/usr/sbin/nginx -p ${host.nginxPrefix}/ -c conf/nginx.conf`));
  return {
    ADMIN_HOSTS: admin.join('\n'),
    PRODUCTION_HOSTS: world.production.map((host) => hostItem(host, world.user, HELPER)).join('\n'),
    STAGING_HOSTS: hostItem(world.staging, world.user, HELPER),
    MAINTENANCE_HOSTS: all.map((host) => hostItem(host, world.user, HELPER)).join('\n'),
    PRODUCTION_URL: world.production[0]!.proxyUrl,
    STAGING_URL: world.staging.proxyUrl,
    IMAGE_REPOSITORY: world.imageRepository,
    REGISTRY: world.imageRepository.split('/')[0]!,
    CANARY_SECONDS: '20',
    LOAD_TEST_SECONDS: '10',
    ...overrides,
  };
}

/** The secrets of README step 2: repository secrets, and each environment's own. */
export function secrets(world: World): {
  secrets: Record<string, string>;
  envSecrets: Record<string, Record<string, string>>;
} {
  const registry = world.ct.authRegistry!;
  const hostCredentials = { SSH_PRIVATE_KEY: world.ct.lab.clientKey, SSH_KNOWN_HOSTS: world.ct.lab.knownHosts };
  return {
    secrets: {
      SLACK_WEBHOOK_URL: world.slack.url,
      REGISTRY_USERNAME: registry.user!,
      REGISTRY_PASSWORD: registry.password!,
    },
    envSecrets: {
      production: { ...hostCredentials, ADMIN_SSH_PRIVATE_KEY: world.ct.lab.clientKey },
      staging: hostCredentials,
    },
  };
}

let runs = 0;

/** Runs one caller of the application's repository for an event, as GitHub would on that repository. */
export async function runCaller(
  world: World,
  caller: string,
  event: string,
  options: {
    ref?: string;
    inputs?: Record<string, string>;
    environments?: Record<string, GateAnswer>;
    vars?: Record<string, string>;
    log?: (line: string) => void;
  } = {},
): Promise<ScenarioRun> {
  const scenario = scenarioName(); // before any await: the stack still names the test file
  const work = join(world.dir, `run-${++runs}`);
  mkdirSync(work, { recursive: true });
  const started = Date.now();
  // The runner machine: its Docker client talks to the lab's builder engine, and setup-node finds Node 24.
  process.env.DOCKER_HOST = world.ct.builder.host;
  process.env.AGENT_LOOP_STAND_IN_NODE24 = NODE24;
  process.env.NPM_CONFIG_REGISTRY = world.npm.url;
  const { secrets: repoSecrets, envSecrets } = secrets(world);
  const run = await runWorkflow({
    workflow: join(world.repo.path, '.github', 'workflows', caller),
    event,
    repo: world.repo.path,
    repository: 'org/agent-loop',
    work,
    apiUrl: world.github.url,
    ...(options.ref ? { ref: options.ref } : {}),
    inputs: options.inputs ?? {},
    secrets: repoSecrets,
    envSecrets,
    vars: variables(world, options.vars),
    environments: options.environments ?? {},
    ...(options.log ? { log: options.log } : {}),
  });
  recordReached(scenario, caller, run.jobs);
  const done: ScenarioRun = { run, jobSeconds: jobSeconds(run.log), seconds: (Date.now() - started) / 1000 };
  recordTimes(scenario, caller, event, done);
  return done;
}

/** Where each run's times go when the bench runs the scenario files (bench/pipeline.ts --all). */
export const TIMES_VARIABLE = 'AGENT_LOOP_PIPELINE_TIMES';

/** One run's times, as the bench reads them back. */
export interface RunTimes {
  scenario: string;
  caller: string;
  event: string;
  conclusion: string;
  seconds: number;
  jobSeconds: Record<string, number>;
}

function recordTimes(scenario: string, caller: string, event: string, done: ScenarioRun): void {
  const file = process.env[TIMES_VARIABLE];
  if (!file) return;
  const times: RunTimes = {
    scenario,
    caller,
    event,
    conclusion: done.run.conclusion,
    seconds: done.seconds,
    jobSeconds: done.jobSeconds,
  };
  appendFileSync(file, `${JSON.stringify(times)}\n`);
}

/** The scenario file running (test/pipeline-<name>.test.ts), for the record of jobs reached. */
function scenarioName(): string {
  const stack = new Error().stack ?? '';
  return /(pipeline-[\w-]+)\.test\.ts/.exec(stack)?.[1] ?? 'bench';
}

/** Each job's time from the run's closing tree (`✓ Name (deploy/gates): success in 12.3s`). */
function jobSeconds(log: string[]): Record<string, number> {
  const times: Record<string, number> = {};
  for (const line of log) {
    const found = /^\S+ .* \((\S+)\): \w+ in (?:(\d+)m )?([\d.]+)(ms|s)$/.exec(line);
    if (!found) continue;
    const [, key, minutes, amount, unit] = found;
    times[key!] = Number(minutes ?? 0) * 60 + Number(amount) / (unit === 'ms' ? 1000 : 1);
  }
  return times;
}

/**
 * Steady traffic through every production host's nginx while `body` runs: 20 requests a second to
 * each, in rounds of at most 50 s (the traffic generator's own bound), until `body` ends.
 */
export async function withTraffic<T>(
  world: World,
  body: () => Promise<T>,
): Promise<{ value: T; traffic: TrafficResult }> {
  let running = true;
  const rounds: TrafficResult[] = [];
  const loops = world.production.map(async (host) => {
    while (running) {
      const round = startTraffic({ url: `${host.proxyUrl}/`, concurrency: 4, ratePerSecond: 20, durationMs: 50_000 });
      const stopWhenDone = setInterval(() => {
        if (!running) void round.stop();
      }, 200);
      rounds.push(await round.done);
      clearInterval(stopWhenDone);
    }
  });
  try {
    const value = await body();
    return { value, traffic: await finish() };
  } catch (error) {
    await finish();
    throw error;
  }
  async function finish(): Promise<TrafficResult> {
    running = false;
    await Promise.all(loops);
    return mergeTraffic(rounds);
  }
}

function mergeTraffic(results: TrafficResult[]): TrafficResult {
  return results.reduce((all, one) => {
    const merged = { ...all } as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(one)) {
      const before = merged[key];
      if (typeof value === 'number' && typeof before === 'number') merged[key] = before + value;
      else if (Array.isArray(value) && Array.isArray(before)) merged[key] = [...before, ...value];
      else if (value && typeof value === 'object' && before && typeof before === 'object') {
        const sum: Record<string, number> = { ...(before as Record<string, number>) };
        for (const [k, v] of Object.entries(value as Record<string, number>)) sum[k] = (sum[k] ?? 0) + v;
        merged[key] = sum;
      }
    }
    return merged as unknown as TrafficResult;
  });
}

/** Each job's result, by `<job>` or `<caller job>/<called job>`. */
export const results = (scenario: ScenarioRun): Record<string, string> =>
  Object.fromEntries(Object.entries(scenario.run.jobs).map(([job, record]) => [job, record.result]));
/** The run's error annotations, as `<job>: <message>`. */
export const errors = (scenario: ScenarioRun): string[] =>
  scenario.run.annotations.filter((a) => a.level === 'error').map((a) => `${a.job ?? 'run'}: ${a.message}`);

/** What each production host's nginx serves now, as `<status> <x-version>` → count, over 20 requests a host. */
export async function served(world: World): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const host of world.production) {
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${host.proxyUrl}/`);
      await response.arrayBuffer();
      const version = `${response.status} ${response.headers.get('x-version')}`;
      counts[version] = (counts[version] ?? 0) + 1;
    }
  }
  return counts;
}

export { APP };
