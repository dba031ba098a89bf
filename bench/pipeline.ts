/**
 * `--all`: every scenario file (test/pipeline-*.test.ts) as CI runs them, one after another, with
 * each run's time by job printed per scenario, next to the goal for all of them (≤ 15 minutes).
 *
 *   npx tsx bench/pipeline.ts --all
 *
 * Without it: the adoption scenario as a user meets it, timed by job: the example workflows run by the
 * workflow runner (GitHub's parser and evaluator) against the lab's hosts, Docker engines and
 * registry: host-setup.yml twice (the doctor names the server-block lines, the admin adds them),
 * then deploy-main.yml for a first push and for a second push with a 10% canary under traffic.
 * It prints each run's time and where it goes, next to the goal (≤ 3 minutes for the scenario);
 * it is not a test, and exits non-zero only when a run does not conclude as it should.
 *
 *   npx tsx bench/pipeline.ts
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCaller, TIMES_VARIABLE, withTraffic, type RunTimes, type ScenarioRun } from '../test/pipeline/scenarios';
import { startWorld } from '../test/pipeline/world';

if (process.argv.includes('--all')) allScenarios();

const GOAL_SECONDS = 180;
const started = Date.now();
const world = await startWorld();
const worldSeconds = (Date.now() - started) / 1000;
const rows: Array<[string, ScenarioRun]> = [];
let failed = false;
try {
  rows.push(['host-setup.yml (doctor lists the lines)', await runCaller(world, 'host-setup.yml', 'workflow_dispatch')]);
  await world.addServerBlocks();
  rows.push(['host-setup.yml (again)', await runCaller(world, 'host-setup.yml', 'workflow_dispatch')]);
  rows.push([
    'deploy-main.yml, first push',
    await runCaller(world, 'deploy-main.yml', 'push', { environments: { 'production-approval': 'approve' } }),
  ]);
  world.repo.commit('Plan with fewer steps', { 'src/limits.ts': 'export const DEFAULT_STEPS = 6;\n' });
  const { value, traffic } = await withTraffic(world, () =>
    runCaller(world, 'deploy-main.yml', 'push', { environments: { 'production-approval': 'approve' } }),
  );
  rows.push(['deploy-main.yml, canary push', value]);
  failed = [rows[1], rows[2], rows[3]].some((row) => row![1].run.conclusion !== 'success') || traffic.failed > 0;
  console.log(
    `traffic during the canary push: ${traffic.sent} requests, ${traffic.failed} failed, ${JSON.stringify(traffic.statuses)}`,
  );
} finally {
  await world.stop();
}

const total = (Date.now() - started) / 1000;
console.log(
  `\nAdoption scenario: ${total.toFixed(0)} s (goal ≤ ${GOAL_SECONDS} s) — world start ${worldSeconds.toFixed(0)} s`,
);
for (const [label, scenario] of rows) {
  console.log(`\n${label}: ${scenario.run.conclusion} in ${scenario.seconds.toFixed(1)} s`);
  for (const [job, seconds] of Object.entries(scenario.jobSeconds))
    console.log(`  ${job.padEnd(24)} ${seconds.toFixed(1).padStart(6)} s`);
}
console.log('\nnpx tsx bench/pipeline.ts');
process.exit(failed ? 1 : 0);

/** Runs the scenario files as the README's test command does, and prints where the time went. */
function allScenarios(): never {
  const ALL_GOAL_SECONDS = 15 * 60;
  const dir = mkdtempSync(join(tmpdir(), 'al-bench-pipeline-'));
  const file = join(dir, 'times.jsonl');
  const started = Date.now();
  const vitest = spawnSync('npx', ['vitest', 'run', '--no-file-parallelism', 'test/pipeline-'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, [TIMES_VARIABLE]: file },
  });
  const total = (Date.now() - started) / 1000;
  let runs: RunTimes[] = [];
  try {
    runs = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as RunTimes);
  } catch {
    // No run recorded: vitest failed before any scenario ran; its output above says why.
  }
  rmSync(dir, { recursive: true, force: true });
  const byScenario = new Map<string, RunTimes[]>();
  for (const run of runs) byScenario.set(run.scenario, [...(byScenario.get(run.scenario) ?? []), run]);
  console.log(`\nAll scenarios: ${total.toFixed(0)} s (goal ≤ ${ALL_GOAL_SECONDS} s), vitest exit ${vitest.status}`);
  for (const [scenario, list] of byScenario) {
    const inRuns = list.reduce((sum, run) => sum + run.seconds, 0);
    console.log(`\n${scenario}: ${list.length} workflow runs, ${inRuns.toFixed(0)} s in them`);
    for (const run of list) {
      console.log(`  ${run.caller} (${run.event}): ${run.conclusion} in ${run.seconds.toFixed(1)} s`);
      const slowest = Object.entries(run.jobSeconds).sort((a, b) => b[1] - a[1]);
      for (const [job, seconds] of slowest) console.log(`    ${job.padEnd(28)} ${seconds.toFixed(1).padStart(6)} s`);
    }
  }
  console.log('\nnpx tsx bench/pipeline.ts --all');
  process.exit(vitest.status === 0 ? 0 : 1);
}
