import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, type StagingReport } from '@agent-loop/shared';
import { startLab, type Lab, type LabHost } from './lab/index';
import { runAction, type RunActionResult } from './lab/run-action';
import { sendTraffic } from './lab/traffic';
import { deploySettings, labHosts, labActionInputs } from './support/deploy-settings';
import { startRecorder, type Recorder } from './support/recorder';

/**
 * The deploy-staging bundle as GitHub runs it (Node 24, INPUT_* variables, the runner's files):
 * a real ansible-playbook with a collection installed offline from requirements.yml, the smoke
 * checks and the load test against the lab's app, failures that name their check or criterion,
 * blue-green over SSH on a 1-host lab, and hostile inputs refused before anything runs.
 */

let lab: Lab;
/** Host 1: nginx and SSH for method ssh-compose. Host 2: only its ports, for apps the tests start. */
let composeHost: LabHost;
let appHost: LabHost;
let scratch: string;
let collectionTarball: string;
let recorder: Recorder;

const errors = (result: RunActionResult): string[] =>
  result.stdout.split('\n').filter((line) => line.startsWith('::error::'));
const reportOf = (result: RunActionResult): StagingReport =>
  JSON.parse(result.outputs.report ?? 'null') as StagingReport;

/** Starts the lab's app on a port, as version `version` (its knobs steer it). */
function startApp(port: number, version: string): void {
  execFileSync('sh', [join(lab.dir, 'bin', 'start-app.sh'), lab.app, 'green', String(port), version]);
}

async function waitAnswering(url: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${url} never answered`);
}

/**
 * A workspace with a staging inventory and a playbook that deploys the lab's app from the
 * lab.staging collection (installed from requirements.yml), on host 2's blue port.
 */
function ansibleWorkspace(playbookTasks?: string): string {
  const dir = mkdtempSync(join(scratch, 'workspace-'));
  mkdirSync(join(dir, 'ansible'));
  writeFileSync(
    join(dir, 'ansible', 'staging.ini'),
    '[staging]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3 ' +
      `lab_dir=${lab.dir} lab_app=${lab.app} app_port=${appHost.bluePort} marker=${dir}/deployed.txt\n`,
  );
  writeFileSync(
    join(dir, 'ansible', 'requirements.yml'),
    `collections:\n  - name: ${collectionTarball}\n    type: file\n`,
  );
  writeFileSync(
    join(dir, 'ansible', 'deploy.yml'),
    `- hosts: staging\n  gather_facts: false\n${playbookTasks ?? '  roles:\n    - lab.staging.deploy_app\n'}`,
  );
  return dir;
}

function ansibleInputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    method: 'ansible',
    'base-url': `http://127.0.0.1:${appHost.bluePort}/`,
    image: 'registry.example/agent-loop:s1',
    playbook: 'ansible/deploy.yml',
    inventory: 'ansible/staging.ini',
    'load-rate-per-minute': '600',
    'load-duration-seconds': '5',
    ...extra,
  };
}

beforeAll(async () => {
  lab = await startLab({ hosts: 2 });
  [composeHost, appHost] = lab.hosts as [LabHost, LabHost];
  scratch = mkdtempSync(join(tmpdir(), 'al-staging-'));
  recorder = await startRecorder();

  // An Ansible collection of our own, built here, so the install is real and needs no network.
  const source = join(scratch, 'collection');
  execFileSync('ansible-galaxy', ['collection', 'init', 'lab.staging', '--init-path', source]);
  const role = join(source, 'lab', 'staging', 'roles', 'deploy_app', 'tasks');
  mkdirSync(role, { recursive: true });
  writeFileSync(
    join(role, 'main.yml'),
    `- name: record what is deployed
  ansible.builtin.copy:
    content: "{{ deploy_environment }} {{ hostvars[inventory_hostname]['environment'] }} {{ docker_image }}"
    dest: "{{ marker }}"
- name: start the app at the image's version
  ansible.builtin.command:
    argv: [sh, "{{ lab_dir }}/bin/start-app.sh", "{{ lab_app }}", blue, "{{ app_port }}", "{{ docker_image.split(':')[-1] }}"]
- name: wait until it listens
  ansible.builtin.wait_for:
    host: 127.0.0.1
    port: "{{ app_port }}"
    timeout: 20
`,
  );
  execFileSync('ansible-galaxy', ['collection', 'build', join(source, 'lab', 'staging'), '--output-path', scratch]);
  collectionTarball = join(scratch, 'lab-staging-1.0.0.tar.gz');
});

afterAll(async () => {
  await lab?.stop();
  await recorder?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('deploy-staging bundle, method ansible', () => {
  it('installs the collection offline, runs the playbook, smoke-tests every endpoint and load-tests at 600/min', async () => {
    const workspace = ansibleWorkspace();
    const result = await runAction({
      action: 'deploy-staging',
      inputs: ansibleInputs(),
      env: { GITHUB_WORKSPACE: workspace, PATH: process.env.PATH ?? '' },
    });
    expect(errors(result)).toEqual([]);
    expect(result.code).toBe(0);

    // The playbook ran with both extra variables, from the installed collection's role.
    expect(readFileSync(join(workspace, 'deployed.txt'), 'utf8')).toBe(
      'staging staging registry.example/agent-loop:s1',
    );
    expect(result.stdout).toContain(
      'The Actions cache service is not available here: installing the Ansible collections without caching.',
    );
    const runnerTemp = join(result.dir, 'runner-temp');
    expect(
      existsSync(
        join(runnerTemp, 'agent-loop-ansible-collections', 'ansible_collections', 'lab', 'staging', 'MANIFEST.json'),
      ),
    ).toBe(true);
    const answer = (await (await fetch(`http://127.0.0.1:${appHost.bluePort}/health`)).json()) as { version: string };
    expect(answer.version).toBe('s1');

    const report = reportOf(result);
    const sha = createHash('sha256')
      .update(readFileSync(join(workspace, 'ansible', 'requirements.yml')))
      .digest('hex');
    expect(report.deploy).toMatchObject({
      method: 'ansible',
      ok: true,
      collections: {
        cache: 'unavailable',
        key: `ansible-collections-linux-${sha}`,
        requirements: join(workspace, 'ansible', 'requirements.yml'),
      },
    });
    expect(report.smoke?.checks.map((check) => [check.name, check.runs, check.passedRuns, check.ok])).toEqual([
      ['health', 5, 5, true],
      ['ready', 5, 5, true],
      ['metrics', 5, 5, true],
      ['run-agent', 5, 5, true],
    ]);
    expect(report.load).toMatchObject({
      passed: true,
      planned: 50,
      sent: 50,
      ok: 50,
      errors: 0,
      non2xx: 0,
      ratePerMinute: 600,
      path: '/run-agent',
      method: 'POST',
    });

    expect(result.outputs).toMatchObject({ 'smoke-passed': 'true', 'load-passed': 'true', 'error-rate': '0' });
    const achieved = Number(result.outputs['achieved-rate-per-minute']);
    expect(achieved).toBeGreaterThanOrEqual(570);
    expect(achieved).toBeLessThanOrEqual(600);
    expect(Number(result.outputs['p95-ms'])).toBeGreaterThanOrEqual(0);
    expect(Number(result.outputs['p95-ms'])).toBeLessThan(2000);

    expect(result.summary).toContain('| check | status | runs | P95 | budget | result |');
    expect(result.summary).toContain('| metrics (GET /metrics) | 200 ×5 | 5/5 passed |');
    expect(result.summary).toContain('| figure | value | criterion | met |');
    expect(result.summary).toMatch(
      /\| achieved rate \| \d+(\.\d)?\/min \(asked 600\/min\) \| ≥ 570\/min \(min-rate-ratio 0.95\) \| ✅ \|/,
    );
  });

  it('fails naming the task when the playbook fails, and tests nothing', async () => {
    const workspace = ansibleWorkspace(
      '  tasks:\n    - name: pull the image\n      ansible.builtin.fail:\n        msg: manifest unknown\n',
    );
    const result = await runAction({
      action: 'deploy-staging',
      inputs: ansibleInputs({ 'base-url': recorder.url }),
      env: { GITHUB_WORKSPACE: workspace, PATH: process.env.PATH ?? '' },
    });
    expect(result.code).toBe(1);
    expect(errors(result)).toEqual([
      expect.stringMatching(
        /^::error::deploy failed: ansible-playbook failed \(exit 2\) at pull the image: .*manifest unknown/,
      ),
    ]);
    expect(result.outputs).toMatchObject({ 'smoke-passed': 'skipped', 'load-passed': 'skipped', 'p95-ms': '' });
    expect(recorder.requests).toHaveLength(0);
  });
});

describe('deploy-staging bundle, failures name the check or the criterion', () => {
  it('a failing smoke check fails the action and skips the load test', async () => {
    await lab.setKnobs('broken', { errorRate: 1 });
    startApp(appHost.greenPort, 'broken');
    await waitAnswering(`http://127.0.0.1:${appHost.greenPort}/health`);
    const result = await runAction({
      action: 'deploy-staging',
      inputs: { method: 'none', 'base-url': `http://127.0.0.1:${appHost.greenPort}`, 'load-duration-seconds': '5' },
    });
    expect(result.code).toBe(1);
    expect(errors(result)).toEqual(["::error::smoke check 'run-agent' failed: run 1 of 5: answered 500, expected 200"]);
    expect(result.outputs).toMatchObject({
      'smoke-passed': 'false',
      'load-passed': 'skipped',
      'achieved-rate-per-minute': '',
    });
    expect(reportOf(result).load).toEqual({ skipped: 'the smoke checks failed' });
    expect(result.summary).toContain('| run-agent (POST /run-agent) | 500 ×5 | 0/5 passed |');
    expect(result.summary).toContain('**Load test**: skipped (the smoke checks failed)');

    // A check of your own: /health is JSON, not Prometheus text.
    const custom = await runAction({
      action: 'deploy-staging',
      inputs: {
        method: 'none',
        'base-url': `http://127.0.0.1:${appHost.greenPort}`,
        'smoke-checks': '- name: exporter\n  path: /health\n  prometheus: true\n  repeat: 2',
        'load-duration-seconds': '0',
      },
    });
    expect(custom.code).toBe(1);
    expect(errors(custom)).toEqual([
      expect.stringMatching(
        /^::error::smoke check 'exporter' failed: run 1 of 2: the body is not valid Prometheus text format: line 1: expected a metric name/,
      ),
    ]);
  });

  it('a load test over its P95 criterion fails the action, naming max-p95-ms', async () => {
    await lab.setKnobs('slow', { latencyMs: 150 });
    startApp(appHost.greenPort, 'slow');
    await waitAnswering(`http://127.0.0.1:${appHost.greenPort}/health`);
    const result = await runAction({
      action: 'deploy-staging',
      inputs: {
        method: 'none',
        'base-url': `http://127.0.0.1:${appHost.greenPort}`,
        'smoke-repeat': '2',
        'load-rate-per-minute': '600',
        'load-duration-seconds': '3',
        'max-p95-ms': '100',
        'min-rate-ratio': '0.5',
      },
    });
    expect(result.code).toBe(1);
    expect(errors(result)).toEqual([
      expect.stringMatching(/^::error::load test failed: P95 latency \d+ ms is above max-p95-ms 100 ms$/),
    ]);
    expect(result.outputs).toMatchObject({ 'smoke-passed': 'true', 'load-passed': 'false', 'error-rate': '0' });
    expect(Number(result.outputs['p95-ms'])).toBeGreaterThanOrEqual(150);
    expect(result.summary).toMatch(/\| P95 latency \| \d+ ms \| ≤ 100 ms \(max-p95-ms\) \| ❌ \|/);
  });
});

describe('deploy-staging bundle, method ssh-compose', () => {
  it('puts the new version on the idle color with zero downtime, promotes it, then tests staging through nginx', async () => {
    const hostsInput = lab.hostsInput.split('\n- host: ')[0] as string;
    const [hostSpec] = labHosts(lab, hostsInput);
    const first = await deploy([hostSpec!], deploySettings(lab, 'v1'));
    expect(first.ok).toBe(true);
    await lab.enableSite(composeHost);

    const result = await runAction({
      action: 'deploy-staging',
      inputs: {
        method: 'ssh-compose',
        'base-url': composeHost.proxyUrl,
        image: 'registry.example/agent-loop:v2',
        ...labActionInputs(lab, hostsInput),
        'split-key': '$request_id',
        'drain-seconds': '0',
        'min-free-disk-mb': '1',
        'min-free-memory-mb': '1',
        'smoke-repeat': '3',
        'load-rate-per-minute': '600',
        'load-duration-seconds': '3',
      },
    });
    expect(errors(result)).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.outputs).toMatchObject({ 'smoke-passed': 'true', 'load-passed': 'true' });
    const report = reportOf(result) as StagingReport & {
      deploy: { deploy: { canaryPercent: number }; promote: { activeColor: string; version: string } };
    };
    expect(report.version).toBe('v2');
    expect(report.deploy.deploy.canaryPercent).toBe(100);
    expect(report.deploy.promote).toMatchObject({ activeColor: 'green', version: 'v2' });
    expect((await sendTraffic({ url: composeHost.proxyUrl, maxRequests: 30 })).byVersion).toEqual({ v2: 30 });
    // The old color was stopped after the switch.
    expect((await lab.appPids())[composeHost.bluePort]).toBeUndefined();
    const state = JSON.parse(readFileSync(join(composeHost.stateDir, lab.app, 'state.json'), 'utf8')) as {
      active: string;
      canary: unknown;
    };
    expect(state).toMatchObject({ active: 'green', canary: null });
  });
});

describe('deploy-staging bundle: bad input is refused before anything runs', () => {
  it('rejects hostile or malformed values, each with an error naming the input, and never echoes credentials', async () => {
    const workspace = ansibleWorkspace();
    const base = ansibleInputs({ 'base-url': recorder.url });
    const compose = {
      method: 'ssh-compose',
      app: lab.app,
      hosts: 'root@127.0.0.1:22',
      'ssh-private-key': lab.clientKey,
      'ssh-known-hosts': lab.knownHosts,
      runtime: 'command',
      'start-command': lab.startCommand,
      'stop-command': lab.stopCommand,
    };
    const hostile: Array<[string, string, Record<string, string>?]> = [
      ['method', 'kubectl'],
      ['base-url', ''],
      ['base-url', 'ftp://staging.example.com'],
      ['base-url', 'http://deployer:hunter2secret@staging.example.com'],
      ['base-url', 'http://staging.example.com/?debug=1'],
      ['base-url', 'http://staging.example.com\nX-Injected: 1'],
      ['base-url', 'http://staging example.com'],
      ['base-url', 'http://staging.example.com:99999'],
      ['image', 'registry.example/agent-loop:1 --privileged'],
      ['image', 'registry.example/agent-loop:$(id)'],
      ['image', ''],
      ['version', 'v1; touch /tmp/pwned'],
      ['playbook', '../../etc/passwd'],
      ['playbook', 'deploy.yml; rm -rf /'],
      ['playbook', ''],
      ['inventory', '$(id)'],
      ['ansible-limit', 'staging;id'],
      ['requirements', '../outside/requirements.yml'],
      ['requirements', 'ansible/missing.yml'],
      ['smoke-checks', '- path: [unclosed'],
      ['smoke-checks', '- path: ../../etc/passwd'],
      ['smoke-checks', '- path: /health\n  method: TRACE'],
      ['smoke-checks', '- path: /health\n  shell: id'],
      ['smoke-checks', '- name: a\n  path: /x\n- name: a\n  path: /y'],
      ['smoke-repeat', '0'],
      ['p95-budget-ms', '2s'],
      ['load-rate-per-minute', '-5'],
      ['load-rate-per-minute', '1e6'],
      ['load-duration-seconds', '3601'],
      ['load-method', 'CONNECT'],
      ['load-path', 'run-agent'],
      ['load-path', '/run agent'],
      ['load-connections', '0'],
      ['max-error-rate', '1.5'],
      ['max-error-rate', '1%'],
      ['min-rate-ratio', 'NaN'],
      ['max-p95-ms', '0'],
      ['environment', 'staging; id'],
      ['hosts', '', compose],
      ['app', 'agent;loop', compose],
      ['start-command', 'run {cmd}', compose],
      ['ssh-private-key', 'not a key at all', compose],
    ];
    const results: Array<{ name: string; value: string; code: number; error: string; seen: string }> = [];
    for (let i = 0; i < hostile.length; i += 6) {
      results.push(
        ...(await Promise.all(
          hostile.slice(i, i + 6).map(async ([name, value, extra]) => {
            const result = await runAction({
              action: 'deploy-staging',
              inputs: { ...base, ...extra, [name]: value },
              env: { GITHUB_WORKSPACE: workspace, PATH: process.env.PATH ?? '' },
            });
            const seen = [result.stdout, result.stderr, result.summary, JSON.stringify(result.outputs)]
              .join('\n')
              .split('\n')
              .filter((line) => !line.startsWith('::add-mask::'))
              .join('\n');
            return { name, value, code: result.code, error: errors(result).join('\n'), seen };
          }),
        )),
      );
    }
    for (const result of results) {
      const what = `${result.name}=${JSON.stringify(result.value.slice(0, 50))}`;
      expect(result.code, what).toBe(1);
      expect(result.error, what).toContain(`::error::Input '${result.name}'`);
    }
    expect(results.find((result) => result.value.includes('hunter2secret'))?.seen).not.toContain('hunter2secret');
    expect(results.find((result) => result.name === 'ssh-private-key')?.seen).not.toContain('not a key at all');
    // Nothing ran: no playbook, no collection install, no request to staging.
    expect(existsSync(join(workspace, 'deployed.txt'))).toBe(false);
    expect(recorder.requests).toHaveLength(0);
  });
});
