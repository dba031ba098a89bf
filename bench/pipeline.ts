/**
 * The adoption scenario as a user meets it, timed by job: the example workflows run by the
 * workflow runner (GitHub's parser and evaluator) against the lab's hosts, Docker engines and
 * registry: host-setup.yml twice (the doctor names the server-block lines, the admin adds them),
 * then deploy-main.yml for a first push and for a second push with a 10% canary under traffic.
 * It prints each run's time and where it goes, next to the goal (≤ 3 minutes for the scenario);
 * it is not a test, and exits non-zero only when a run does not conclude as it should.
 *
 *   npx tsx bench/pipeline.ts
 */
import { runCaller, withTraffic, type ScenarioRun } from '../test/pipeline/scenarios';
import { startWorld } from '../test/pipeline/world';

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
  rows.push(['deploy-main.yml, first push', await runCaller(world, 'deploy-main.yml', 'push', { environments: { 'production-approval': 'approve' } })]);
  world.repo.commit('Plan with fewer steps', { 'src/limits.ts': 'export const DEFAULT_STEPS = 6;\n' });
  const { value, traffic } = await withTraffic(world, () => runCaller(world, 'deploy-main.yml', 'push', { environments: { 'production-approval': 'approve' } }));
  rows.push(['deploy-main.yml, canary push', value]);
  failed = [rows[1], rows[2], rows[3]].some((row) => row![1].run.conclusion !== 'success') || traffic.failed > 0;
  console.log(`traffic during the canary push: ${traffic.sent} requests, ${traffic.failed} failed, ${JSON.stringify(traffic.statuses)}`);
} finally {
  await world.stop();
}

const total = (Date.now() - started) / 1000;
console.log(`\nAdoption scenario: ${total.toFixed(0)} s (goal ≤ ${GOAL_SECONDS} s) — world start ${worldSeconds.toFixed(0)} s`);
for (const [label, scenario] of rows) {
  console.log(`\n${label}: ${scenario.run.conclusion} in ${scenario.seconds.toFixed(1)} s`);
  for (const [job, seconds] of Object.entries(scenario.jobSeconds)) console.log(`  ${job.padEnd(24)} ${seconds.toFixed(1).padStart(6)} s`);
}
console.log('\nnpx tsx bench/pipeline.ts');
process.exit(failed ? 1 : 0);
