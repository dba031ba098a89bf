import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningPrometheus } from './support/prometheus';
import { runCaller, withTraffic, type ScenarioRun } from './pipeline/scenarios';
import {
  errors,
  fileInServingContainer,
  logTo,
  registryTags,
  results,
  served,
  startAppPrometheus,
  step,
} from './pipeline/tracks';
import { startWorld, type World } from './pipeline/world';

/**
 * The other tracks, from the example callers copied unchanged into the application's repository:
 * scenario 3, a [train-model] commit (train-model.yml → model-deploy.yml: train, A/B comparison,
 * drift, build, a ramp 10 → 25 → 50 → 100, promoted; then a worse model that stops at the
 * comparison), scenario 4, a push to hotfix/* (hotfix.yml: critical tests only, no staging,
 * reinforced monitoring), and scenario 7, a release tag (release.yml → deploy.yml, the image
 * tagged with the version). One world for the file; an app is deployed first as scenario 1 does.
 */

let world: World;
let prometheus: RunningPrometheus;
const log = logTo();
const dump = (name: string, scenario: ScenarioRun) => {
  if (process.env.TRACKS_DUMP)
    writeFileSync(
      `${process.env.TRACKS_DUMP}/${name}.json`,
      JSON.stringify({ ...scenario, run: { ...scenario.run, log: undefined } }, null, 2),
    );
};
/** The ramp's steps are watched 10 s each (the plan's are 300 s). */
const CANARY_SECONDS = 10;

beforeAll(async () => {
  // startWorld waits (up to 15 minutes) while another file's world holds the machine's one deploy user.
  world = await startWorld();
  prometheus = await startAppPrometheus(world);
}, 1_080_000);

afterAll(async () => {
  await prometheus?.stop();
  await world?.stop();
}, 120_000);

describe('the model, hotfix and release tracks, run from the example workflows', () => {
  it('a deployed app: host-setup (twice, the server blocks added between), then a first push to main', async () => {
    expect(results(await runCaller(world, 'host-setup.yml', 'workflow_dispatch', { log }))).toEqual({
      setup: 'success',
      doctor: 'failure',
    });
    await world.addServerBlocks();
    expect(results(await runCaller(world, 'host-setup.yml', 'workflow_dispatch', { log }))).toEqual({
      setup: 'success',
      doctor: 'success',
    });
    const first = await runCaller(world, 'deploy-main.yml', 'push', {
      log,
      environments: { 'production-approval': 'approve' },
    });
    dump('first', first);
    expect(errors(first)).toEqual([]);
    expect(first.run.conclusion).toBe('success');
    const version = first.run.jobs['deploy/plan']!.outputs.version!;
    expect(await served(world)).toEqual({ [`200 ${version}`]: 40 });
  }, 300_000);

  it('scenario 3: a [train-model] commit trains, compares, ramps 10 → 25 → 50 → 100 under traffic and promotes', async () => {
    const before = Object.keys(await served(world))[0]!.split(' ')[1]!;
    world.repo.commit('Retrain the ranking model on the last 30 days [train-model]');
    await prometheus.waitForData('up{app="agent-loop"} == 1');
    const { value: run, traffic } = await withTraffic(world, () =>
      runCaller(world, 'train-model.yml', 'push', {
        log,
        vars: { CANARY_SECONDS: String(CANARY_SECONDS), PROMETHEUS_URL: prometheus.url },
      }),
    );
    dump('model', run);
    expect(errors(run)).toEqual([]);
    expect(results(run)).toEqual({
      'model/plan': 'success',
      'model/train': 'success',
      'model/build': 'success',
      'model/production': 'success',
      'model/post-deploy': 'success',
      'model/checklist': 'success',
      model: 'success',
    });
    const plan = run.run.jobs['model/plan']!.outputs;
    expect(plan.kind).toBe('model');
    const version = plan.version!;
    expect(version).not.toBe(before);
    // The A/B comparison ran on the trained candidate against model/current-metrics.json, and passed.
    const ab = step(run, 'model/train', 'ab');
    expect(ab.outputs.passed).toBe('true');
    const comparison = JSON.parse(ab.outputs.report!) as Array<{
      metric: string;
      verdict: string;
      baseline: number;
      candidate: number;
    }>;
    expect(comparison.map((row) => [row.metric, row.verdict])).toEqual([
      ['eval.accuracy', 'pass'],
      ['eval.f1', 'pass'],
      ['latency.p95_ms', 'pass'],
    ]);
    expect(comparison[0]!.baseline).toBe(0.99);
    // The ramp: four steps, each watched for the caller's canary-duration, the model rules on,
    // the drift score read from Prometheus.
    const production = run.run.jobs['model/production']!;
    expect(production.outputs.verdict).toBe('success');
    expect(production.outputs.promoted).toBe('true');
    expect(production.outputs['rolled-back']).toBe('false');
    const rules = JSON.parse(production.outputs.rules!) as Array<{ name: string; observed: number | null }>;
    const drift = rules.find((rule) => rule.name === 'model-drift');
    expect(drift?.observed).toBe(0);
    const notices = run.run.annotations.filter((a) => a.job === 'model/production').map((a) => a.message);
    // The deploy set the first step's 10%: the ramp watches it without switching again, then advances.
    for (const [index, percent] of [25, 50, 100].entries())
      expect(notices).toContain(
        `agent-loop: ${version} weight advanced to ${percent}% (step ${index + 2} of 4) on 2 hosts`,
      );
    expect(notices.filter((notice) => notice.includes('weight advanced to 10%'))).toEqual([]);
    expect(production.outputs.reason).toMatch(/ over 10 s with /);
    const monitorSeconds = run.jobSeconds['model/production']!;
    expect(monitorSeconds).toBeGreaterThan(4 * CANARY_SECONDS);
    expect(monitorSeconds).toBeLessThan(4 * CANARY_SECONDS + 120);
    // nginx serves the new version alone; the traffic saw both versions and lost nothing.
    expect(await served(world)).toEqual({ [`200 ${version}`]: 40 });
    expect(traffic.failed).toBe(0);
    expect(Object.keys(traffic.statuses)).toEqual(['200']);
    expect(Object.keys(traffic.byVersion).sort()).toEqual([before, version].sort());
    // What serves is the model the train job made: its weights are in the image, not in the repository.
    expect(existsSync(join(world.repo.path, 'model', 'weights.json'))).toBe(false);
    for (const index of [0, 1]) {
      const weights = JSON.parse(
        (await fileInServingContainer(world, index, version, '/app/model/weights.json')) ?? 'null',
      ) as { weights: number[]; features: string[] } | null;
      expect(weights?.features).toEqual(['steps', 'tools', 'length']);
      expect(weights?.weights).toHaveLength(4);
    }
  }, 300_000);

  it('scenario 3: a worse model stops at the comparison, nothing deployed; deploy-main stops after the gates for the same push', async () => {
    const before = await served(world);
    world.repo.commit('Train with noisier labels [train-model]', {
      'model/config.json':
        '{ "features": ["steps", "tools", "length"], "learning_rate": 0.1, "epochs": 40, "label_noise": 0.3 }\n',
    });
    const run = await runCaller(world, 'train-model.yml', 'push', {
      log,
      vars: { CANARY_SECONDS: String(CANARY_SECONDS), PROMETHEUS_URL: prometheus.url },
    });
    dump('worse', run);
    expect(results(run)).toEqual({
      'model/plan': 'success',
      'model/train': 'failure',
      'model/build': 'skipped',
      'model/production': 'skipped',
      'model/post-deploy': 'success',
      'model/checklist': 'success',
      model: 'failure',
    });
    const ab = step(run, 'model/train', 'ab');
    expect(ab.outcome).toBe('failure');
    expect(ab.outputs.passed).toBe('false');
    const accuracy = (JSON.parse(ab.outputs.report!) as Array<{ metric: string; verdict: string }>).find(
      (row) => row.metric === 'eval.accuracy',
    );
    expect(accuracy?.verdict).toBe('fail');
    expect(errors(run).join('\n')).toMatch(/eval\.accuracy/);
    expect(await served(world)).toEqual(before);

    const main = await runCaller(world, 'deploy-main.yml', 'push', {
      log,
      environments: { 'production-approval': 'approve' },
    });
    dump('worse-main', main);
    expect(errors(main)).toEqual([]);
    expect(main.run.jobs['deploy/plan']!.outputs.kind).toBe('model');
    expect(results(main)).toMatchObject({
      'deploy/plan': 'success',
      'deploy/gates': 'success',
      'deploy/build': 'skipped',
      'deploy/staging': 'skipped',
      'deploy/production': 'skipped',
      'deploy/post-deploy': 'skipped',
    });
    expect(await served(world)).toEqual(before);
  }, 300_000);

  it('scenario 4: a push to hotfix/* runs the critical tests only, no staging, a reinforced canary, and promotes', async () => {
    const before = Object.keys(await served(world))[0]!.split(' ')[1]!;
    world.repo.branch('hotfix/fix-timeout');
    world.repo.commit('Fix the request timeout', { 'src/timeout.ts': 'export const TIMEOUT_MS = 5000;\n' });
    const slackBefore = world.slack.accepted.length;
    const { value: run, traffic } = await withTraffic(world, () =>
      runCaller(world, 'hotfix.yml', 'push', { log, ref: 'refs/heads/hotfix/fix-timeout' }),
    );
    dump('hotfix', run);
    expect(errors(run)).toEqual([]);
    expect(results(run)).toEqual({
      'hotfix/plan': 'success',
      'hotfix/notify-start': 'success',
      'hotfix/critical-tests': 'success',
      'hotfix/build': 'success',
      'hotfix/production': 'success',
      'hotfix/post-deploy': 'success',
      'hotfix/checklist': 'success',
      hotfix: 'success',
    });
    const plan = run.run.jobs['hotfix/plan']!.outputs;
    expect(plan.kind).toBe('hotfix');
    expect(JSON.parse(plan.gates!)).toEqual(['lint', 'typecheck', 'unit']);
    expect(plan['canary-duration']).toBe('600');
    expect(plan['error-threshold']).toBe('0.005');
    expect(plan['latency-p95-ms']).toBe('1500');
    // checkout, setup-node, install, lint, type-check, critical tests, integration (skipped),
    // security scan (skipped), the summary of what was skipped.
    const tests = run.run.jobs['hotfix/critical-tests']!.steps;
    expect(Object.values(tests).map((s) => s.outcome)).toEqual([
      'success',
      'success',
      'success',
      'success',
      'success',
      'success',
      'skipped',
      'skipped',
      'success',
    ]);
    expect(run.run.log.some((line) => line.includes('npx vitest run test/critical'))).toBe(true);
    const production = run.run.jobs['hotfix/production']!.outputs;
    expect(production.verdict).toBe('success');
    expect(production.promoted).toBe('true');
    // The reinforced policy reached the monitor: the error-rate gate at 0.5%, P95 at 1500 ms.
    const rules = JSON.parse(production.rules!) as Array<{ name: string; threshold: number | null }>;
    expect(rules.find((rule) => rule.name === 'error-rate')?.threshold).toBe(0.005);
    expect(
      world.slack.accepted
        .slice(slackBefore)
        .some((message) =>
          /Hotfix agent-loop \S+ started: critical tests only \(skipped: integration,load-test,security-scan\)/.test(
            message.text ?? '',
          ),
        ),
    ).toBe(true);
    const version = plan.version!;
    expect(await served(world)).toEqual({ [`200 ${version}`]: 40 });
    expect(traffic.failed).toBe(0);
    expect(Object.keys(traffic.byVersion).sort()).toEqual([before, version].sort());
  }, 300_000);

  it('scenario 7: a release tag v1.2.3 deploys that version through staging and a canary, the image tagged v1.2.3', async () => {
    world.repo.branch('main');
    const before = Object.keys(await served(world))[0]!.split(' ')[1]!;
    world.repo.commit('Release notes for 1.2.3', { 'CHANGELOG.md': '# 1.2.3\n\n- faster answers\n' });
    world.repo.tag('v1.2.3');
    const { value: run, traffic } = await withTraffic(world, () =>
      runCaller(world, 'release.yml', 'push', {
        log,
        ref: 'refs/tags/v1.2.3',
        environments: { 'production-approval': 'approve' },
      }),
    );
    dump('release', run);
    expect(errors(run)).toEqual([]);
    const plan = run.run.jobs['deploy/plan']!.outputs;
    expect(plan.kind).toBe('release');
    expect(plan.version).toBe('v1.2.3');
    expect(plan.image).toBe(`${world.imageRepository}:v1.2.3`);
    expect(results(run)).toMatchObject({
      'deploy/gates': 'success',
      'deploy/build': 'success',
      'deploy/staging': 'success',
      'deploy/production': 'success',
      'deploy/promote': 'success',
      deploy: 'success',
    });
    expect(await registryTags(world)).toContain('v1.2.3');
    const digest = run.run.jobs['deploy/build']!.outputs.digest!;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const report = JSON.parse(step(run, 'deploy/production', 'deploy').outputs.report!) as Array<{
      steps: Array<{ step: string }>;
    }>;
    for (const host of report)
      expect(host.steps.map((s) => s.step)).toContain(`prepare ${world.imageRepository}:v1.2.3@${digest}`);
    const staging = await fetch(`${world.staging.proxyUrl}/`);
    await staging.arrayBuffer();
    expect(staging.headers.get('x-version')).toBe('v1.2.3');
    expect(await served(world)).toEqual({ '200 v1.2.3': 40 });
    expect(traffic.failed).toBe(0);
    expect(Object.keys(traffic.byVersion).sort()).toEqual([before, 'v1.2.3'].sort());
  }, 300_000);
});
