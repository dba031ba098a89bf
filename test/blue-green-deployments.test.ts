import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blueGreenLabInputs } from './support/deploy-settings';
import { startLab, type Lab } from './lab/index';
import { runAction, type RunActionResult } from './lab/run-action';
import { actLikeGitHub, refusedRequests } from './support/github-api';
import { startRecorder, type Recorder } from './support/recorder';

/**
 * The blue-green bundle records GitHub deployments (what dora-report reads): deploy creates one
 * in_progress, promote sets it to success, a failed phase sets failure. Without a token nothing
 * is recorded, and a GitHub outage never fails a deploy.
 */

const TOKEN = 'ghs_blueGreenDeploymentsToken7';
const SHA = '0123456789abcdef0123456789abcdef01234567'; // GITHUB_SHA in run-action

let lab: Lab;
let github: Recorder;

function inputs(overrides: Record<string, string> = {}): Record<string, string> {
  return blueGreenLabInputs(lab, { 'health-timeout-seconds': '10', ...overrides });
}

const blueGreen = (overrides: Record<string, string>): Promise<RunActionResult> =>
  runAction({ action: 'blue-green', inputs: inputs(overrides), env: { GITHUB_API_URL: github.url } });
/** Annotation lines of one kind, their text decoded as the runner decodes it. */
const lines = (result: RunActionResult, kind: 'error' | 'warning' | 'notice'): string[] =>
  result.stdout
    .split('\n')
    .filter((line) => line.startsWith(`::${kind}::`))
    .map(
      (line) =>
        `::${kind}::${line
          .slice(kind.length + 4)
          .replaceAll('%0D', '\r')
          .replaceAll('%0A', '\n')
          .replaceAll('%25', '%')}`,
    );
const calls = (from = 0): string[] => github.requests.slice(from).map((request) => `${request.method} ${request.path}`);
const seen = (result: RunActionResult): string =>
  [result.stdout, result.stderr, result.summary, JSON.stringify(result.outputs)]
    .join('\n')
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n');

beforeAll(async () => {
  lab = await startLab({ hosts: 1 });
  github = await startRecorder();
  actLikeGitHub(github);
});

afterAll(async () => {
  // Every request the actions sent is one GitHub's OpenAPI description accepts.
  if (github) expect(refusedRequests(github)).toEqual([]);
  await lab?.stop();
  await github?.close();
});

describe('blue-green bundle: GitHub deployment records', () => {
  it('records nothing and warns of nothing without a token', async () => {
    const first = await blueGreen({ image: 'registry.example/agent-loop:v1', version: 'v1' });
    expect(lines(first, 'error')).toEqual([]);
    expect(first.code).toBe(0);
    expect(lines(first, 'warning')).toEqual([]);
    expect(first.outputs).toMatchObject({ 'active-color': 'blue', version: 'v1', 'deployment-id': '' });
    expect(github.requests).toHaveLength(0);
    await lab.enableSite();
  });

  it('deploy creates the deployment in_progress; promote with its id sets success', async () => {
    const canary = await blueGreen({
      image: 'registry.example/agent-loop:v2',
      version: 'v2',
      'canary-percent': '10',
      'github-token': TOKEN,
      'commit-time': '2026-06-30T09:15:00+02:00',
    });
    expect(lines(canary, 'error')).toEqual([]);
    expect(canary.code).toBe(0);
    expect(lines(canary, 'warning')).toEqual([]);
    expect(canary.outputs).toMatchObject({ 'active-color': 'green', version: 'v2', 'canary-percent': '10' });
    const id = canary.outputs['deployment-id'];
    expect(id).toMatch(/^\d+$/);
    expect(calls()).toEqual([
      'POST /repos/org/service/deployments',
      `POST /repos/org/service/deployments/${id}/statuses`,
      `POST /repos/org/service/deployments/${id}/statuses`,
    ]);
    const [created, started, event] = github.requests;
    expect(created!.json).toMatchObject({
      ref: SHA,
      environment: 'production',
      production_environment: true,
      payload: {
        app: lab.app,
        version: 'v2',
        image: 'registry.example/agent-loop:v2',
        commitTime: '2026-06-30T07:15:00.000Z',
      },
    });
    expect(started!.json).toMatchObject({
      state: 'in_progress',
      log_url: 'https://github.com/org/service/actions/runs/4242',
    });
    // The step's event: the deployment's description says what runs now, and the log has a notice.
    expect(event!.json).toMatchObject({ state: 'in_progress', description: 'canary v2 started at 10% on 1 host' });
    expect(lines(canary, 'notice')).toEqual([`::notice::${lab.app}: canary v2 started at 10% on 1 host`]);
    for (const request of github.requests) expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);

    const before = github.requests.length;
    const promoted = await blueGreen({
      phase: 'promote',
      version: 'v2',
      'github-token': TOKEN,
      'deployment-id': id as string,
    });
    expect(lines(promoted, 'error')).toEqual([]);
    expect(promoted.code).toBe(0);
    expect(promoted.outputs).toMatchObject({ 'active-color': 'green', 'canary-percent': '100', 'deployment-id': id });
    expect(calls(before)).toEqual([`POST /repos/org/service/deployments/${id}/statuses`]);
    expect(github.requests.at(-1)!.json).toMatchObject({
      state: 'success',
      description: 'v2 serves all traffic',
      auto_inactive: true,
    });
    for (const run of [canary, promoted]) expect(seen(run)).not.toContain(TOKEN);
  });

  it('a deploy that takes all traffic at once is complete: in_progress then success, for deployment-ref', async () => {
    const before = github.requests.length;
    const result = await blueGreen({
      image: 'registry.example/agent-loop:v3',
      version: 'v3',
      'canary-percent': '100',
      'github-token': TOKEN,
      'deployment-ref': 'release/v3',
    });
    expect(result.code).toBe(0);
    const id = result.outputs['deployment-id'];
    expect(calls(before)).toEqual([
      'POST /repos/org/service/deployments',
      `POST /repos/org/service/deployments/${id}/statuses`,
      `POST /repos/org/service/deployments/${id}/statuses`,
    ]);
    const [created, started, done] = github.requests.slice(before);
    expect(created!.json).toMatchObject({ ref: 'release/v3', payload: { version: 'v3', commitTime: null } });
    expect([started!.json, done!.json]).toMatchObject([{ state: 'in_progress' }, { state: 'success' }]);
  });

  it('a failed deploy sets the deployment to failure', async () => {
    await lab.setKnobs('v4', { errorRate: 1 });
    const before = github.requests.length;
    const failed = await blueGreen({ image: 'registry.example/agent-loop:v4', version: 'v4', 'github-token': TOKEN });
    expect(failed.code).toBe(1);
    const id = failed.outputs['deployment-id'];
    expect(calls(before)).toEqual([
      'POST /repos/org/service/deployments',
      `POST /repos/org/service/deployments/${id}/statuses`,
      `POST /repos/org/service/deployments/${id}/statuses`,
    ]);
    expect(github.requests.at(-1)!.json).toMatchObject({ state: 'failure' });
    expect((github.requests.at(-1)!.json as { description: string }).description).toMatch(/^deploy failed: /);
  });

  it('a GitHub outage is a warning: the deploy and the promote still succeed', async () => {
    github.respondWith(503, { message: 'unavailable' });
    github.respondBy(null);
    try {
      const canary = await blueGreen({ image: 'registry.example/agent-loop:v5', version: 'v5', 'github-token': TOKEN });
      expect(lines(canary, 'error')).toEqual([]);
      expect(canary.code).toBe(0);
      expect(canary.outputs).toMatchObject({ version: 'v5', 'deployment-id': '' });
      expect(lines(canary, 'warning')).toEqual([
        expect.stringMatching(/^::warning::recording the GitHub deployment failed: HTTP 503/),
      ]);
      const promoted = await blueGreen({
        phase: 'promote',
        version: 'v5',
        'github-token': TOKEN,
        'deployment-id': '99',
      });
      expect(promoted.code).toBe(0);
      expect(lines(promoted, 'warning')).toEqual([
        expect.stringMatching(/^::warning::setting GitHub deployment 99 to success failed: HTTP 503/),
      ]);
      for (const run of [canary, promoted]) expect(seen(run)).not.toContain(TOKEN);
    } finally {
      actLikeGitHub(github);
    }
  });

  it('refuses bad deployment inputs before anything runs', async () => {
    const before = github.requests.length;
    const cases: Array<[string, Record<string, string>]> = [
      ['commit-time', { 'commit-time': 'yesterday' }],
      ['commit-time', { 'commit-time': '2026-13-45T00:00:00Z' }],
      ['commit-time', { 'commit-time': '2026-06-30 09:15' }],
      ['deployment-ref', { 'deployment-ref': 'main;id' }],
      ['deployment-ref', { 'deployment-ref': 'a/../b' }],
      ['deployment-id', { 'deployment-id': '12abc', phase: 'promote' }],
      ['deployment-id', { 'deployment-id': '12' }],
    ];
    const results = await Promise.all(
      cases.map(([, extra]) =>
        blueGreen({ image: 'registry.example/agent-loop:v6', version: 'v6', 'github-token': TOKEN, ...extra }),
      ),
    );
    results.forEach((result, index) => {
      const [name, extra] = cases[index]!;
      expect(result.code, `${name} ${JSON.stringify(extra)}`).toBe(1);
      expect(lines(result, 'error').join('\n'), `${name} ${JSON.stringify(extra)}`).toContain(`Input '${name}'`);
    });
    expect(github.requests.length).toBe(before);
  });
});
