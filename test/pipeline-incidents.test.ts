import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  assertOwnDeployUser,
  errors,
  headVersion,
  keepLog,
  onLine,
  results,
  served,
  servedVersions,
  statusesByVersion,
  summaryOf,
  waitFor,
} from './pipeline/incidents';
import { runCaller, withTraffic, type ScenarioRun } from './pipeline/scenarios';
import { startWorld, type World } from './pipeline/world';

/**
 * Scenarios 2 and 5, when something goes wrong, from the example workflows run unchanged in the
 * application's repository (as scenario 1 sets it up: host-setup for a useradd deploy user, the
 * server blocks, a first push):
 * 2. a bad release: a canary that answers 500 is rolled back by the monitor on its own, with the
 *    GitHub deployment, an incident, Slack and the checklist; then a rejected approval ends the
 *    canary of a healthy release.
 * 5. rollback.yml by hand (workflow_dispatch): to the previous version while a canary is watched
 *    (the monitor is aborted, the canary is gone), and to a named older version after a promote.
 */

let world: World;
/** The version the first push deployed: what every rollback below comes back to. */
let first = '';

beforeAll(async () => {
  world = await startWorld();
}, 16 * 60_000);

// Every scenario needs the world's deploy user: say so plainly when another world replaced it.
beforeEach(() => {
  if (world) assertOwnDeployUser(world);
});

afterAll(async () => {
  await world?.stop();
}, 120_000);

/** The pushes after the first: a short staging load test (not what these scenarios are about), to keep the file within its time. */
const QUICK = { LOAD_TEST_SECONDS: '3' };

const version = (scenario: ScenarioRun): string => scenario.run.jobs['deploy/plan']!.outputs.version!;

describe('incidents: a bad release, a rejected promotion, and rollback.yml by hand', () => {
  it('a deployed app, as in scenario 1: host-setup, the server blocks, a first push', async () => {
    const setup = await runCaller(world, 'host-setup.yml', 'workflow_dispatch');
    keepLog('0-host-setup', setup);
    expect(results(setup).setup).toBe('success');
    await world.addServerBlocks();
    const again = await runCaller(world, 'host-setup.yml', 'workflow_dispatch');
    expect(results(again)).toEqual({ setup: 'success', doctor: 'success' });
    const run = await runCaller(world, 'deploy-main.yml', 'push', {
      environments: { 'production-approval': 'approve' },
    });
    keepLog('0-first-push', run);
    expect(errors(run)).toEqual([]);
    expect(results(run)).toMatchObject({ 'deploy/production': 'success', deploy: 'success' });
    first = version(run);
    expect(await served(world)).toEqual({ [`200 ${first}`]: 40 });
  }, 240_000);

  it('scenario 2: a canary that answers 500 is rolled back on its own; GitHub, Slack and the checklist say so; no other request failed', async () => {
    world.repo.commit('Retry the model call', { 'notes/retry.md': 'Retry the model call three times.\n' });
    const bad = headVersion(world);
    expect(bad).not.toBe(first);
    const slackBefore = world.slack.accepted.length;
    const issuesBefore = world.github.issues.length;
    // The new version misbehaves once it takes its canary share (staging's smoke and load tests,
    // and the deploy's own smoke request, ran before: they would have stopped it earlier).
    let misbehaving = false;
    const log = onLine(/▶ Watch the canary/, async () => {
      await world.ct.lab.setKnobs(bad, { errorRate: 0.3 });
      misbehaving = true;
    });
    const { value: run, traffic } = await withTraffic(world, () =>
      runCaller(world, 'deploy-main.yml', 'push', {
        environments: { 'production-approval': 'approve' },
        vars: QUICK,
        log,
      }),
    );
    keepLog('2-bad-release', run);
    expect(version(run)).toBe(bad);
    expect(misbehaving).toBe(true);
    expect(results(run)).toMatchObject({
      'deploy/staging': 'success',
      'deploy/production': 'failure',
      'deploy/approve': 'skipped',
      'deploy/promote': 'skipped',
      'deploy/end-canary': 'skipped',
      'deploy/checklist': 'success',
    });
    const production = run.run.jobs['deploy/production']!;
    expect(production.outputs.verdict).toBe('failure');
    expect(production.outputs['rolled-back']).toBe('true');
    // nginx serves the previous version alone on both hosts.
    expect(await served(world)).toEqual({ [`200 ${first}`]: 40 });
    // GitHub: the deployment of the bad commit is marked failure, an incident is open.
    expect(world.github.rejected).toEqual([]);
    expect(world.github.badAnswers).toEqual([]);
    const deployment = world.github.deployments.find(
      (d) => d.sha === world.repo.head() && d.environment === 'production',
    );
    expect(deployment?.statuses.map((status) => status.state)).toContain('failure');
    const incidents = world.github.issues.slice(issuesBefore);
    expect(incidents.length).toBeGreaterThan(0);
    expect(incidents.some((issue) => issue.labels.includes('incident') && issue.title.includes(bad))).toBe(true);
    // Slack was told, within its limits.
    expect(world.slack.refused).toEqual([]);
    expect(world.slack.accepted.length).toBeGreaterThan(slackBefore);
    // The checklist ticks the list for when something goes wrong.
    const checklist = summaryOf(run, 'deploy/checklist');
    expect(checklist).toMatch(/- \[x\] Rollback started — rolled back/);
    expect(checklist).toMatch(/- \[x\] Incident created/);
    expect(checklist).toMatch(/- \[ \] 🙋 Post-mortem planned/);
    // The traffic lost nothing: the previous version answered only 200, the bad one 200 or its own 500s.
    expect(traffic.failed).toBe(0);
    const byVersion = statusesByVersion(traffic);
    expect(Object.keys(byVersion).sort()).toEqual([first, bad].sort());
    expect(Object.keys(byVersion[first]!)).toEqual(['200']);
    expect(byVersion[bad]!['500']).toBeGreaterThan(0);
    expect(Object.keys(byVersion[bad]!).filter((status) => status !== '200' && status !== '500')).toEqual([]);
  }, 240_000);

  it('scenario 2, then: a healthy canary whose promotion is rejected is ended, and nginx serves the previous version again', async () => {
    world.repo.commit('Shorter prompts', { 'notes/prompts.md': 'Prompts of at most 2000 characters.\n' });
    // Steady traffic, as production has: the monitor needs canary requests to pass the canary.
    const { value: run, traffic } = await withTraffic(world, () =>
      runCaller(world, 'deploy-main.yml', 'push', { environments: { 'production-approval': 'reject' }, vars: QUICK }),
    );
    keepLog('2-rejected', run);
    expect(results(run)).toMatchObject({
      'deploy/production': 'success',
      'deploy/approve': 'failure',
      'deploy/promote': 'skipped',
      'deploy/end-canary': 'success',
    });
    expect(run.run.jobs['deploy/production']!.outputs.verdict).toBe('success');
    expect(run.run.jobs['deploy/end-canary']!.outputs['rolled-back']).toBe('true');
    // The checklist ticks the rollback and the incident end-canary opened.
    const checklist = summaryOf(run, 'deploy/checklist');
    expect(checklist).toMatch(/- \[x\] Rollback started/);
    expect(checklist).toMatch(/- \[x\] Incident created/);
    expect(await served(world)).toEqual({ [`200 ${first}`]: 40 });
    // The rejected canary took its share, then left without a failed request.
    expect(traffic.failed).toBe(0);
    expect(Object.keys(traffic.statuses)).toEqual(['200']);
    expect(traffic.byVersion[version(run)]).toBeGreaterThan(0);
  }, 240_000);

  it('scenario 5a: rollback.yml to the previous version while a canary is watched aborts the monitor and ends the canary', async () => {
    world.repo.commit('Cache answers', { 'notes/cache.md': 'Answers are cached for 30 s.\n' });
    const canary = headVersion(world);
    const { value: both, traffic } = await withTraffic(world, async () => {
      const pushed = runCaller(world, 'deploy-main.yml', 'push', {
        environments: { 'production-approval': 'approve' },
        vars: { ...QUICK, CANARY_SECONDS: '120' },
      });
      let ended: ScenarioRun | null = null;
      void pushed.then(
        (done) => (ended = done),
        () => undefined,
      );
      // Both hosts split traffic between the stable version and the canary (a push that ended
      // before that fails here at once, with its jobs' results).
      await waitFor(
        `both hosts to serve ${first} and ${canary}`,
        async () => {
          if (ended) throw new Error(`the push ended before its canary was seen: ${JSON.stringify(results(ended))}`);
          return (await servedVersions(world)).every((versions) => versions.has(first) && versions.has(canary));
        },
        150_000,
        500,
      );
      const rollback = await runCaller(world, 'rollback.yml', 'workflow_dispatch', {
        inputs: { 'target-version': '', reason: 'the canary looks wrong on the dashboard' },
      });
      return { rollback, run: await pushed };
    });
    const { rollback, run } = both;
    keepLog('5a-push', run);
    keepLog('5a-rollback', rollback);
    expect(errors(rollback)).toEqual([]);
    expect(results(rollback)).toMatchObject({
      'rollback/rollback': 'success',
      'rollback/checklist': 'success',
      rollback: 'success',
    });
    const job = rollback.run.jobs['rollback/rollback']!;
    expect(job.outputs['rolled-back']).toBe('true');
    expect(job.outputs.version).toBe(first);
    expect(job.outputs['failed-version']).toBe(canary);
    // The canary is gone: nginx serves the stable version alone.
    expect(await served(world)).toEqual({ [`200 ${first}`]: 40 });
    // The pushed run's monitor stopped (aborted), so nothing promoted the canary.
    const production = run.run.jobs['deploy/production']!;
    expect(production.outputs.verdict).toBe('aborted');
    expect(results(run)['deploy/production']).toBe('failure');
    expect(results(run)['deploy/promote']).toBe('skipped');
    expect(run.run.jobs['deploy/promote']?.outputs.promoted).not.toBe('true');
    // The rollback's checklist ticks what it proved.
    const checklist = summaryOf(rollback, 'rollback/checklist');
    expect(checklist).toMatch(/- \[x\] Rollback started — rolled back from /);
    expect(checklist).toMatch(/- \[x\] Incident created/);
    expect(checklist).toMatch(/- \[x\] Team notified/);
    // Ended by hand under load, the canary lost no request.
    expect(traffic.failed).toBe(0);
    expect(Object.keys(traffic.statuses)).toEqual(['200']);
    expect(traffic.byVersion[canary]).toBeGreaterThan(0);
  }, 240_000);

  it('scenario 5b: after a promote, rollback.yml to a named older version puts that version back alone', async () => {
    world.repo.commit('Log the model name', { 'notes/log.md': 'The log names the model.\n' });
    const { value: run } = await withTraffic(world, () =>
      runCaller(world, 'deploy-main.yml', 'push', { environments: { 'production-approval': 'approve' }, vars: QUICK }),
    );
    keepLog('5b-push', run);
    expect(results(run)).toMatchObject({ 'deploy/promote': 'success', deploy: 'success' });
    const promoted = version(run);
    expect(await served(world)).toEqual({ [`200 ${promoted}`]: 40 });
    // The first version's color was stopped by the promote: the rollback starts it from its recorded image, under load.
    const { value: rollback, traffic } = await withTraffic(world, () =>
      runCaller(world, 'rollback.yml', 'workflow_dispatch', {
        inputs: { 'target-version': first, reason: `back to ${first}` },
      }),
    );
    keepLog('5b-rollback', rollback);
    expect(errors(rollback)).toEqual([]);
    expect(results(rollback)).toMatchObject({ 'rollback/rollback': 'success', rollback: 'success' });
    const job = rollback.run.jobs['rollback/rollback']!;
    expect(job.outputs['rolled-back']).toBe('true');
    expect(job.outputs.version).toBe(first);
    expect(job.outputs['failed-version']).toBe(promoted);
    expect(await served(world)).toEqual({ [`200 ${first}`]: 40 });
    expect(traffic.failed).toBe(0);
    expect(Object.keys(traffic.statuses)).toEqual(['200']);
  }, 240_000);
});
