import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errors, results, runCaller, served as servedBy, withTraffic } from './pipeline/scenarios';
import { APP, startWorld, type World } from './pipeline/world';

/**
 * Scenario 1, adoption, exactly as the README's three steps say: the application's repository
 * holds examples/*.yml unchanged; the team's values are repository variables, the host keys
 * environment secrets. host-setup.yml (workflow_dispatch) prepares the hosts for the `deploy`
 * user made here with useradd; its doctor lists the two server-block lines; the admin adds them;
 * then pushes to main run deploy.yml through GitHub's parser and evaluator, with real hosts,
 * engines, registry, Ansible-free staging (ssh-compose) and the GitHub and Slack stand-ins.
 */

let world: World;

/** What each production host's nginx serves now, by `<status> <version>`, over 40 requests. */
const served = () => servedBy(world);

beforeAll(async () => {
  world = await startWorld();
}, 180_000);

afterAll(async () => {
  await world?.stop();
}, 120_000);

describe('adopting the suite: the README three steps, run from the example workflows', () => {
  it('step 1: host-setup prepares the hosts; its doctor names the server-block lines, and passes once they are added', async () => {
    const first = await runCaller(world, 'host-setup.yml', 'workflow_dispatch');
    expect(results(first)).toEqual({ setup: 'success', doctor: 'failure' });
    expect(first.run.jobs.setup!.steps.setup!.outputs['nginx-command']).toBe(
      'sudo -n /usr/local/sbin/agent-loop-nginx',
    );
    const doctor = errors(first).join('\n');
    const variable = `$agent_loop_${APP.replace(/-/g, '_')}`;
    for (const host of world.production) {
      expect(doctor).toContain(`fix: add 'proxy_pass http://${variable};'`);
      expect(doctor).toContain(`fix: add 'access_log ${host.accessLog} agent_loop;'`);
    }

    await world.addServerBlocks();
    const again = await runCaller(world, 'host-setup.yml', 'workflow_dispatch');
    expect(errors(again)).toEqual([]);
    expect(results(again)).toEqual({ setup: 'success', doctor: 'success' });
    expect(again.run.jobs.setup!.steps.setup!.outputs.changed).toBe('0');
  }, 120_000);

  it('step 3, first push: gates, build and push, staging (deploy, smoke, load), and the first production deploy takes all traffic', async () => {
    const run = await runCaller(world, 'deploy-main.yml', 'push', {
      environments: { 'production-approval': 'approve' },
    });
    expect(errors(run)).toEqual([]);
    expect(results(run)).toMatchObject({
      'deploy/plan': 'success',
      'deploy/gates': 'success',
      'deploy/build': 'success',
      'deploy/staging': 'success',
      'deploy/production': 'success',
      'deploy/approve': 'skipped',
      'deploy/promote': 'skipped',
      'deploy/post-deploy': 'success',
      'deploy/checklist': 'success',
      deploy: 'success',
    });
    expect(run.run.jobs['deploy/production']!.outputs['first-deploy']).toBe('true');
    const version = run.run.jobs['deploy/plan']!.outputs.version!;
    expect(await served()).toEqual({ [`200 ${version}`]: 40 });
  }, 300_000);

  it('step 3, next push: a 10% canary on both hosts, watched, approved and promoted, with no request failed', async () => {
    world.repo.commit('Plan with fewer steps', { 'src/limits.ts': 'export const DEFAULT_STEPS = 6;\n' });
    const slackBefore = world.slack.accepted.length;
    const { value: run, traffic } = await withTraffic(world, () =>
      runCaller(world, 'deploy-main.yml', 'push', { environments: { 'production-approval': 'approve' } }),
    );
    expect(errors(run)).toEqual([]);
    expect(results(run)).toMatchObject({
      'deploy/staging': 'success',
      'deploy/production': 'success',
      'deploy/approve': 'success',
      'deploy/promote': 'success',
      'deploy/end-canary': 'skipped',
      deploy: 'success',
    });
    const version = run.run.jobs['deploy/plan']!.outputs.version!;
    const production = run.run.jobs['deploy/production']!;
    expect(production.outputs['canary-percent']).toBe('10');
    expect(production.outputs.verdict).toBe('success');
    expect(run.run.jobs['deploy/promote']!.outputs.promoted).toBe('true');
    // nginx serves the new version alone; the test's traffic saw both and lost nothing.
    expect(await served()).toEqual({ [`200 ${version}`]: 40 });
    expect(traffic.failed).toBe(0);
    expect(Object.keys(traffic.statuses)).toEqual(['200']);
    expect(traffic.byVersion[version]).toBeGreaterThan(0);
    expect(Object.keys(traffic.byVersion)).toHaveLength(2);
    // GitHub and Slack saw what they would: a deployment marked success, messages within Slack's limits.
    expect(world.github.rejected).toEqual([]);
    expect(world.github.badAnswers).toEqual([]);
    const deployment = world.github.deployments.find(
      (d) => d.sha === world.repo.head() && d.environment === 'production',
    );
    expect(deployment?.statuses.map((status) => status.state)).toContain('success');
    expect(world.slack.refused).toEqual([]);
    expect(world.slack.accepted.length).toBeGreaterThan(slackBefore);
    // The checklist job ticked the procedure from what ran; nothing is left unticked but what a person does.
    const checklist = Object.entries(run.run.summaries).find(([key]) => key.startsWith('deploy/checklist/'))?.[1] ?? '';
    expect(checklist).toContain('- [x]');
    expect(checklist).toMatch(/- \[x\] .*[Cc]anary 10%/);
  }, 300_000);

  it('a team that stages with Ansible: STAGING_METHOD=ansible runs the playbook on the staging host, logged in with the staging key', async () => {
    world.repo.commit('Shorter answers', { 'src/limits.ts': 'export const DEFAULT_STEPS = 5;\n' });
    const vars = { STAGING_METHOD: 'ansible', STAGING_URL: world.ansibleStagingUrl, LOAD_TEST_SECONDS: '3' };
    const { value: run, traffic } = await withTraffic(world, () =>
      runCaller(world, 'deploy-main.yml', 'push', { vars, environments: { 'production-approval': 'approve' } }),
    );
    expect(errors(run)).toEqual([]);
    expect(results(run)).toMatchObject({ 'deploy/staging': 'success', 'deploy/promote': 'success', deploy: 'success' });
    const version = run.run.jobs['deploy/plan']!.outputs.version!;
    // The playbook started the built image on the staging host; the smoke and load tests ran against it.
    const staging = await fetch(`${world.ansibleStagingUrl}/`);
    await staging.arrayBuffer();
    expect(staging.headers.get('x-version')).toBe(version);
    expect(run.run.log.join('\n')).toMatch(/ansible-playbook ansible\/site\.yml/);
    expect(await served()).toEqual({ [`200 ${version}`]: 40 });
    expect(traffic.failed).toBe(0);
  }, 300_000);
});

describe('scenario 6: the weekly maintenance on its schedule, on the hosts the pushes above deployed to', () => {
  it('backs up, prunes keeping both colors, rotates logs, upgrades one host at a time while traffic flows, and counts the deployments', async () => {
    // The admin's own upgrade program stands in for apt-get (the hosts share this machine's packages).
    world.installUpgradePrograms();
    const containersBefore = world.production.map((_, index) => containers(index));
    const slackBefore = world.slack.accepted.length;
    const { value: run, traffic } = await withTraffic(world, () => runCaller(world, 'maintenance.yml', 'schedule'));
    expect(errors(run)).toEqual([]);
    expect(results(run)).toEqual({ 'maintenance/maintenance': 'success', maintenance: 'success' });
    const steps = run.run.jobs['maintenance/maintenance']!.steps;
    expect(steps.backup!.outcome).toBe('success');
    expect(steps.safe!.outcome).toBe('success');
    expect(steps.hosts!.outcome).toBe('skipped');
    expect(steps.health!.outcome).toBe('success');

    // Prune and rotation on every host of MAINTENANCE_HOSTS, each host's disk use reported.
    const report = JSON.parse(steps.safe!.outputs.report!) as {
      prune: { host: string; ok: boolean; rotated?: boolean; disk?: string }[];
      upgrade: { ok: boolean; hosts: { outcome: string }[] };
    };
    expect(report.prune).toHaveLength(3);
    for (const host of report.prune)
      expect(host).toMatchObject({ ok: true, rotated: true, disk: expect.stringMatching(/^\d{1,3}%$/) });
    // Both colors' containers (the live one and the stopped one a rollback restarts) are still there.
    expect(world.production.map((_, index) => containers(index))).toEqual(containersBefore);
    for (const names of containersBefore)
      expect(names.filter((name) => name.startsWith(`${APP}-`)).length).toBeGreaterThanOrEqual(2);

    // The upgrade ran as root through the helper, on one host at a time, in the order of the list.
    expect(report.upgrade.ok).toBe(true);
    expect(report.upgrade.hosts.map((host) => host.outcome)).toEqual(['upgraded', 'upgraded', 'upgraded']);
    const windows = [...world.production, world.staging].map((host) => {
      const log = world.upgradeLog(host);
      expect(log).toMatch(/^start \d+ uid=0\nend \d+\n$/);
      const [start, end] = [...log.matchAll(/(?:start|end) (\d+)/g)].map((match) => Number(match[1]));
      return { start: start!, end: end! };
    });
    for (let index = 1; index < windows.length; index++)
      expect(windows[index]!.start).toBeGreaterThanOrEqual(windows[index - 1]!.end);
    // Traffic flowed through the prune, the rotation and three nginx reloads without a failed request.
    expect(traffic.failed).toBe(0);
    expect(Object.keys(traffic.statuses)).toEqual(['200']);

    // The DORA figures count the production deployments the pushes above made.
    const dora = JSON.parse(steps.dora!.outputs.report!) as { deployments: Record<string, number> };
    const production = world.github.deployments.filter((deployment) => deployment.environment === 'production');
    // A success is later marked inactive by the next one (GitHub's auto_inactive): it stays counted.
    const succeeded = production.filter((deployment) =>
      deployment.statuses.some((status) => status.state === 'success'),
    ).length;
    expect(succeeded).toBeGreaterThanOrEqual(3);
    expect(dora.deployments).toMatchObject({ successful: succeeded });
    // The report reached Slack, and the step summary says what ran.
    expect(world.slack.accepted.length).toBe(slackBefore + 1);
    const summary = Object.entries(run.run.summaries)
      .filter(([key]) => key.startsWith('maintenance/maintenance/'))
      .map(([, text]) => text)
      .join('\n');
    expect(summary).toContain('Backup hook: success. Hosts: success. Health check: success.');
    expect(summary).toMatch(/\| host \| prune and logs \| disk use \|/);
  }, 300_000);
});

/** The containers on a production host's engine, by name (running or stopped), sorted. */
function containers(index: number): string[] {
  const output = execFileSync(
    'docker',
    ['--host', world.ct.engines[index]!.host, 'ps', '--all', '--format', '{{.Names}}'],
    { encoding: 'utf8' },
  );
  return output.split('\n').filter(Boolean).sort();
}
