import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, promote, type HostSpec } from '@agent-loop/shared';
import type { Lab } from './lab/index';
import { runAction } from './lab/run-action';
import { sendTraffic } from './lab/traffic';
import { deploySettings, promoteSettings, labActionInputs } from './support/deploy-settings';
import { startAnnouncers, startServingLab, type Announcers } from './support/fixtures';
import type { Recorder } from './support/recorder';

/** The rollback bundle as GitHub runs it: nginx hosts over SSH, kubectl, ansible-playbook. */

let lab: Lab;
let hosts: HostSpec[];
let github: Recorder;
let slack: Recorder;
let announcers: Announcers;
let scratch: string;

function nginxInputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...labActionInputs(lab),
    'github-token': 'ghs_secretTokenForTests123',
    'slack-webhook-url': `${slack.url}/services/T0/B0/rollbackWebhookSecret`,
    environment: 'production',
    ...extra,
  };
}

beforeAll(async () => {
  ({ lab, hosts } = await startServingLab('v1'));
  announcers = await startAnnouncers();
  ({ github, slack } = announcers);
  scratch = mkdtempSync(join(tmpdir(), 'al-rollback-'));
  expect((await deploy(hosts, deploySettings(lab, 'v2'))).ok).toBe(true);
  expect((await promote(hosts, promoteSettings(lab, 'v2'))).ok).toBe(true);
});

afterAll(async () => {
  try {
    await announcers?.close();
  } finally {
    await lab?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
});

describe('rollback bundle, method nginx', () => {
  it('restarts the previous version, switches every host, records the deployment, the incident and the message', async () => {
    mkdirSync(join(lab.hosts[0]!.dir, 'textfile'), { recursive: true });
    const result = await runAction({
      action: 'rollback',
      inputs: nginxInputs({
        reason: 'error rate 4% after release',
        trigger: 'manual: on-call',
        'failed-deployment-id': '41',
        'incident-labels': 'team:agents',
        'metrics-textfile-dir': join(lab.hosts[0]!.dir, 'textfile'),
      }),
      env: { GITHUB_API_URL: github.url },
    });
    expect(result.stdout.split('\n').filter((line) => line.startsWith('::error::'))).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.outputs).toMatchObject({
      'rolled-back': 'true',
      noop: 'false',
      version: 'v1',
      'failed-version': 'v2',
      'active-color': 'blue',
      notified: 'true',
    });
    expect(Number(result.outputs['restored-ms'])).toBeGreaterThan(0);
    expect(result.outputs['incident-url']).toMatch(/^https:\/\/github.com\/org\/service\/issues\/\d+$/);
    expect(result.summary).toMatch(/Traffic restored in \d+\.\d s ✅ \(procedure target: 120 s/);
    for (const host of lab.hosts)
      expect((await sendTraffic({ url: host.proxyUrl, maxRequests: 100 })).byVersion).toEqual({ v1: 100 });
    // The DeploymentFailed alert's series: the rollback put v1 back, so nothing failed now.
    expect(readFileSync(join(lab.hosts[0]!.dir, 'textfile', `agent_loop_${lab.app}_production.prom`), 'utf8')).toMatch(
      new RegExp(`agent_loop_deployment_failed\\{app="${lab.app}",environment="production",version="v1"\\} 0`),
    );

    const calls = github.requests.map((request) => `${request.method} ${request.path}`);
    expect(calls[0]).toBe('POST /repos/org/service/deployments/41/statuses');
    expect(github.requests[0]!.json).toMatchObject({ state: 'failure' });
    expect(calls).toContain('POST /repos/org/service/deployments');
    const deployment = github.requests.find((request) => request.path === '/repos/org/service/deployments')!;
    expect(deployment.json).toMatchObject({
      environment: 'production',
      payload: { app: lab.app, version: 'v1', rollback: true, failedVersion: 'v2' },
    });
    expect(deployment.headers.authorization).toBe('Bearer ghs_secretTokenForTests123');
    const issue = github.requests.find((request) => request.path === '/repos/org/service/issues')!.json as {
      title: string;
      body: string;
      labels: string[];
    };
    expect(issue.title).toBe(`Rollback: ${lab.app} v2 → v1 in production`);
    expect(issue.labels).toEqual(['incident', 'severity:high', 'rollback', 'team:agents']);
    expect(issue.body).toContain('**Trigger:** manual: on-call');
    expect(issue.body).toContain('**Reason:** error rate 4% after release');
    expect(issue.body).toContain('### Timeline');
    expect(issue.body).toContain('switch traffic back');
    expect(issue.body).toContain('https://github.com/org/service/actions/runs/4242');
    expect(JSON.stringify(slack.requests.at(-1)!.json)).toContain('rolled back to v1');

    const seen = [result.stdout, result.stderr, result.summary, JSON.stringify(result.outputs)]
      .join('\n')
      .split('\n')
      .filter((line) => !line.startsWith('::add-mask::'))
      .join('\n');
    expect(seen).not.toContain('ghs_secretTokenForTests123');
    expect(seen).not.toContain('rollbackWebhookSecret');
  });

  it('a second identical rollback says there is nothing to do and records nothing', async () => {
    const before = github.requests.length;
    const result = await runAction({
      action: 'rollback',
      inputs: nginxInputs({ 'target-version': 'v1' }),
      env: { GITHUB_API_URL: github.url },
    });
    expect(result.code).toBe(0);
    expect(result.outputs).toMatchObject({ 'rolled-back': 'false', noop: 'true', version: 'v1', notified: 'false' });
    expect(result.summary).toContain('Nothing to roll back: v1 already serves all traffic.');
    expect(github.requests.length).toBe(before);
  });

  it('refuses bad inputs before anything runs', async () => {
    const stateBefore = readFileSync(`${lab.hosts[0]!.stateDir}/${lab.app}/state.json`, 'utf8');
    const cases: Array<[string, string, Record<string, string>?]> = [
      ['target-version', 'v1; reboot'],
      ['target-version', '$(id)'],
      ['target', 'latest'],
      ['reason', 'line one\u0007bell'],
      ['method', 'helm'],
      ['deployment', 'Bad_Name', { method: 'kubernetes' }],
      ['namespace', 'ns;rm', { method: 'kubernetes', deployment: 'web' }],
      ['target-version', 'v3', { method: 'kubernetes', deployment: 'web' }],
      ['playbook', '../../etc/passwd', { method: 'ansible', inventory: 'hosts.ini' }],
      ['figures', '{not: [valid'],
      ['incident-severity', 'sev0'],
      ['failed-deployment-id', '12abc'],
      ['hosts', '', { method: 'nginx' }],
    ];
    for (const [name, value, extra] of cases) {
      const result = await runAction({
        action: 'rollback',
        inputs: nginxInputs({ ...extra, [name]: value }),
        env: { GITHUB_API_URL: github.url },
      });
      expect(result.code, `${name}=${value}`).toBe(1);
      expect(result.stdout, `${name}=${value}`).toContain(`::error::Input '${name}'`);
    }
    expect(readFileSync(`${lab.hosts[0]!.stateDir}/${lab.app}/state.json`, 'utf8')).toBe(stateBefore);
  });
});

describe('rollback bundle, method kubernetes', () => {
  function recordingKubectl(exitCodes: { undo: number; status: number }): { path: string; log: string } {
    const dir = mkdtempSync(join(scratch, 'kubectl-'));
    const log = join(dir, 'calls.log');
    writeFileSync(
      join(dir, 'kubectl'),
      // `get … -o jsonpath=…` answers as kubectl does: the revision annotation, a space, the images.
      `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\n` +
        `case "$*" in *"rollout undo"*) exit ${exitCodes.undo};; ` +
        `*"rollout status"*) echo 'deployment "web" successfully rolled out'; exit ${exitCodes.status};; ` +
        `*" get deployment/web --output jsonpath="*) printf '3 ghcr.io/org/web:1.2.2'; exit 0;; esac\nexit 1\n`,
    );
    chmodSync(join(dir, 'kubectl'), 0o755);
    return { path: dir, log };
  }

  it('runs rollout undo to the named revision, then waits for the rollout', async () => {
    const kubectl = recordingKubectl({ undo: 0, status: 0 });
    const result = await runAction({
      action: 'rollback',
      inputs: {
        app: 'web',
        method: 'kubernetes',
        deployment: 'web',
        namespace: 'prod',
        'target-version': '3',
        'create-incident': 'false',
      },
      env: { PATH: `${kubectl.path}:${process.env.PATH}` },
    });
    expect(result.code).toBe(0);
    expect(readFileSync(kubectl.log, 'utf8').trim().split('\n')).toEqual([
      '--namespace prod rollout undo deployment/web --to-revision=3',
      '--namespace prod rollout status deployment/web --timeout=120s',
      '--namespace prod get deployment/web --output ' +
        'jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision} {.spec.template.spec.containers[*].image}',
    ]);
    expect(result.outputs['rolled-back']).toBe('true');
    // It says what it went back to, read from the cluster.
    expect(result.outputs.version).toBe('revision 3 (ghcr.io/org/web:1.2.2)');
  });

  it("fails with kubectl's message when the rollout does not finish", async () => {
    const kubectl = recordingKubectl({ undo: 0, status: 1 });
    const result = await runAction({
      action: 'rollback',
      inputs: { app: 'web', method: 'kubernetes', deployment: 'web' },
      env: { PATH: `${kubectl.path}:${process.env.PATH}` },
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /::error::kubectl --namespace default rollout status deployment\/web --timeout=120s failed \(exit 1\)/,
    );
  });
});

describe('rollback bundle, method ansible', () => {
  it('runs the rollback playbook with the target version, for real', async () => {
    const dir = mkdtempSync(join(scratch, 'ansible-'));
    const marker = join(dir, 'rolled-back-to.txt');
    writeFileSync(
      join(dir, 'inventory.ini'),
      'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n',
    );
    writeFileSync(
      join(dir, 'rollback.yml'),
      [
        '- hosts: all',
        '  gather_facts: false',
        '  tasks:',
        '    - name: record the target',
        '      ansible.builtin.copy:',
        '        content: "{{ target_version }} / {{ rollback_reason }}"',
        `        dest: ${marker}`,
        '',
      ].join('\n'),
    );
    const result = await runAction({
      action: 'rollback',
      inputs: {
        app: 'web',
        method: 'ansible',
        playbook: 'rollback.yml',
        inventory: 'inventory.ini',
        'target-version': 'v7',
        reason: "it's broken; really",
        'create-incident': 'false',
      },
      env: { GITHUB_WORKSPACE: dir, PATH: process.env.PATH ?? '' },
      timeoutMs: 120_000,
    });
    expect(result.stdout.split('\n').filter((line) => line.startsWith('::error::'))).toEqual([]);
    expect(result.code).toBe(0);
    expect(readFileSync(marker, 'utf8')).toBe("v7 / it's broken; really");
  });

  it('fails naming the failed task', async () => {
    const dir = mkdtempSync(join(scratch, 'ansible-'));
    writeFileSync(
      join(dir, 'inventory.ini'),
      'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n',
    );
    writeFileSync(
      join(dir, 'rollback.yml'),
      '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: restore the database\n      ansible.builtin.fail:\n        msg: backup not found\n',
    );
    const result = await runAction({
      action: 'rollback',
      inputs: { app: 'web', method: 'ansible', playbook: 'rollback.yml', inventory: 'inventory.ini' },
      env: { GITHUB_WORKSPACE: dir, PATH: process.env.PATH ?? '' },
      timeoutMs: 120_000,
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /::error::ansible-playbook failed \(exit 2\) at restore the database: .*backup not found/,
    );
    expect(existsSync(join(dir, 'ansible-home'))).toBe(false);
  });
});
