import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runAction, type RunActionResult } from './lab/run-action';
import { refusedRequests } from './support/github-api';
import { commit, deployment, deploymentStatus, notFound } from './support/github-objects';
import { responseProblems } from './support/github-openapi';
import { startRecorder, type RecordedRequest, type Recorder } from './support/recorder';

/**
 * The dora-report bundle as GitHub runs it (Node 24, INPUT_* variables, the runner's files)
 * against a local GitHub API that serves a recorded deployment history over two pages.
 */

const TOKEN = 'ghs_doraReportSecretToken42';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

interface ApiDeployment {
  id: number;
  sha: string;
  ref: string;
  task: string;
  environment: string;
  description: string;
  created_at: string;
  payload: Record<string, unknown>;
}
interface ApiStatus {
  id: number;
  state: string;
  created_at: string;
}

interface History {
  deployments: ApiDeployment[];
  statuses: Map<number, ApiStatus[]>;
  commits: Map<string, string>;
}

const iso = (time: number): string => new Date(time).toISOString();

/**
 * A week of production deployments, relative to now:
 * - 12 successful changes, 12 h apart, lead times 30, 40, ..., 130 min (commit time in the payload,
 *   or from the commits API for two of them) and one whose commit the API no longer has;
 * - a canary that failed 6 min after it started, recovered by a rollback 2 s later;
 * - one deployment still in progress, and one failure 8 days ago, outside the window.
 */
function buildHistory(now: number): History {
  const deployments: ApiDeployment[] = [];
  const statuses = new Map<number, ApiStatus[]>();
  const commits = new Map<string, string>();
  let nextId = 7000;
  let nextStatusId = 90_000;
  const add = (
    createdAt: number,
    states: Array<[string, number]>,
    payload: Record<string, unknown>,
    sha: string,
  ): ApiDeployment => {
    const deployment = {
      id: nextId++,
      sha,
      ref: 'main',
      task: 'deploy',
      environment: 'production',
      description: 'deploy',
      created_at: iso(createdAt),
      payload,
    };
    deployments.push(deployment);
    // GitHub lists statuses newest first.
    statuses.set(
      deployment.id,
      states.map(([state, offset]) => ({ id: nextStatusId++, state, created_at: iso(createdAt + offset) })).reverse(),
    );
    return deployment;
  };
  const sha = (index: number): string => index.toString(16).padStart(2, '0').repeat(20);
  const leads = [30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130];
  for (let index = 0; index < 12; index++) {
    const createdAt = now - (index * 12 + 2) * HOUR;
    const successAt = createdAt + 4 * MINUTE;
    const states: Array<[string, number]> = [
      ['in_progress', 0],
      ['success', 4 * MINUTE],
    ];
    if (index > 0) states.push(['inactive', 12 * HOUR]);
    if (index === 5) {
      add(createdAt, states, { app: 'agent-loop', version: `v${index}` }, 'dead'.repeat(10));
      continue;
    }
    const lead = leads.shift() as number;
    const commitTime = iso(successAt - lead * MINUTE);
    if (index === 1 || index === 7) commits.set(sha(index), commitTime);
    add(
      createdAt,
      states,
      { app: 'agent-loop', version: `v${index}`, ...(index === 1 || index === 7 ? {} : { commitTime }) },
      sha(index),
    );
  }
  const canaryAt = now - 30 * HOUR;
  add(
    canaryAt,
    [
      ['in_progress', 0],
      ['failure', 6 * MINUTE],
    ],
    { app: 'agent-loop', version: 'v-bad', commitTime: iso(canaryAt - HOUR) },
    sha(100),
  );
  add(
    canaryAt + 6 * MINUTE,
    [['success', 2000]],
    { app: 'agent-loop', version: 'v1', rollback: true, failedVersion: 'v-bad' },
    sha(101),
  );
  add(
    now - 10 * MINUTE,
    [
      ['queued', 0],
      ['in_progress', 1000],
    ],
    { app: 'agent-loop', version: 'v-next' },
    sha(102),
  );
  add(now - 8 * DAY, [['failure', MINUTE]], { app: 'agent-loop', version: 'v-old' }, sha(103));
  deployments.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
  return { deployments, statuses, commits };
}

let github: Recorder;
/** Answers of the stand-ins that GitHub's description does not allow (must stay empty). */
const undocumentedAnswers: string[] = [];
let elsewhere: Recorder;
let history: History;

/**
 * Answers like GitHub: two pages of deployments (8 each; a third page is announced but must not be
 * needed), statuses, commits, each answer in the form GitHub's OpenAPI description documents (every
 * answer is checked against it; see the afterAll).
 */
function serve(recorder: Recorder, repo: string, nextOrigin?: string): void {
  recorder.respondBy((request: RecordedRequest) => {
    const answer = answerFor(recorder, request, repo, nextOrigin);
    const problems = responseProblems(request.method, request.path, answer.status, answer.body);
    if (problems.length > 0)
      undocumentedAnswers.push(
        `${request.method} ${request.path} → ${answer.status}: ${problems.slice(0, 3).join('; ')}`,
      );
    return answer;
  });
}

function answerFor(
  recorder: Recorder,
  request: RecordedRequest,
  repo: string,
  nextOrigin?: string,
): { status: number; body: unknown; headers?: Record<string, string> } {
  const url = new URL(request.path, recorder.url);
  const base = `/repos/${repo}`;
  const page = (number: number) =>
    `<${nextOrigin ?? recorder.url}${base}/deployments?environment=production&per_page=100&page=${number}>`;
  if (url.pathname === `${base}/deployments`) {
    if (url.searchParams.get('environment') !== 'production') return { status: 200, body: [] };
    const number = Number(url.searchParams.get('page') ?? '1');
    const items = history.deployments.slice((number - 1) * 8, number * 8).map((item) => deployment(repo, item));
    return { status: 200, body: items, headers: { link: `${page(number + 1)}; rel="next", ${page(3)}; rel="last"` } };
  }
  const statuses = new RegExp(`^${base}/deployments/(\\d+)/statuses$`).exec(url.pathname);
  if (statuses) {
    const id = Number(statuses[1]);
    return {
      status: 200,
      body: (history.statuses.get(id) ?? []).map((status) =>
        deploymentStatus(repo, id, { ...status, environment: 'production' }),
      ),
    };
  }
  const found = new RegExp(`^${base}/commits/([0-9a-f]+)$`).exec(url.pathname);
  const date = found ? history.commits.get(found[1] as string) : undefined;
  if (found && date) return { status: 200, body: commit(repo, found[1] as string, date) };
  return { status: 404, body: notFound };
}

function dora(inputs: Record<string, string>, env: Record<string, string> = {}): Promise<RunActionResult> {
  return runAction({
    action: 'dora-report',
    inputs: { 'github-token': TOKEN, ...inputs },
    env: { GITHUB_API_URL: github.url, ...env },
  });
}

const errors = (result: RunActionResult): string[] =>
  result.stdout.split('\n').filter((line) => line.startsWith('::error::'));
const seen = (result: RunActionResult): string =>
  [result.stdout, result.stderr, result.summary, JSON.stringify(result.outputs)]
    .join('\n')
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n');

beforeAll(async () => {
  github = await startRecorder();
  elsewhere = await startRecorder();
});

beforeEach(() => {
  history = buildHistory(Date.now());
  github.requests.length = 0;
  elsewhere.requests.length = 0;
  serve(github, 'org/service');
});

afterAll(async () => {
  // Every request the actions sent is one GitHub's OpenAPI description accepts.
  if (github) expect(refusedRequests(github)).toEqual([]);
  // And every answer the stand-ins gave is one GitHub's description documents.
  expect(undocumentedAnswers).toEqual([]);
  await github?.close();
  await elsewhere?.close();
});

describe('dora-report bundle', () => {
  it('reads two pages of deployments, their statuses and commits, and reports the four figures', async () => {
    const result = await dora({ environment: 'production', days: '7' });
    expect(errors(result)).toEqual([]);
    expect(result.code).toBe(0);

    // 12 successful changes in 7 days; lead times 30..130 min without the unknown commit: median 80 min;
    // 1 failed of 13 changes; recovered 6 min 2 s after the canary started.
    expect(result.outputs).toMatchObject({
      'deployment-frequency': '12',
      'lead-time-hours': '1.33',
      'mttr-minutes': '6.03',
      'change-failure-rate': '0.0769',
    });
    const report = JSON.parse(result.outputs.report as string) as Record<
      string,
      { value: number | null; met: boolean | null; samples: number }
    > & { deployments: Record<string, number>; window: { days: number } };
    expect(report.deployments).toEqual({
      total: 15,
      successful: 12,
      failed: 1,
      pending: 1,
      rollbacks: 1,
      openFailures: 0,
    });
    expect(report.window.days).toBe(7);
    expect(report.deploymentFrequency).toMatchObject({ value: 12, met: true, samples: 12 });
    expect(report.leadTime).toMatchObject({ value: 1.33, met: true, samples: 11 });
    expect(report.mttr).toMatchObject({ value: 6.03, met: true, samples: 1 });
    expect(report.changeFailureRate).toMatchObject({ value: 0.0769, met: false, samples: 13 });

    expect(result.summary).toContain('### DORA figures: production, last 7 days');
    expect(result.summary).toContain('| figure | value | target | met | samples |');
    expect(result.summary).toContain(
      '| deployment frequency | 12 per week | \\> 10 per week | ✅ yes | 12 (12 successful deployments) |',
    );
    expect(result.summary).toContain(
      '| lead time for changes | 1.33 h | < 2 h | ✅ yes | 11 (11 successful deployments with a known commit time) |',
    );
    expect(result.summary).toContain(
      '| mean time to recovery | 6.03 min | < 15 min | ✅ yes | 1 (1 recovered failure) |',
    );
    expect(result.summary).toContain(
      '| change failure rate | 7.69% | < 5% | ❌ no | 13 (13 deployments with an outcome, 1 failed) |',
    );
    // The commit the API no longer has costs one lead-time sample and a warning, not the report.
    expect(result.stdout).toMatch(
      /^::warning::the time of commit (dead){10} could not be read: GitHub GET \/repos\/org\/service\/commits\/(dead){10} answered 404/m,
    );

    // The exact calls: the list with the environment filter and 100 a page, its second page from the
    // Link header (not the third: page 2 already reaches past the window), every deployment's
    // statuses in the window, and the commits of successful ones without commitTime.
    const calls = github.requests.map((request) => `${request.method} ${request.path}`);
    expect(calls.slice(0, 2)).toEqual([
      'GET /repos/org/service/deployments?environment=production&per_page=100',
      'GET /repos/org/service/deployments?environment=production&per_page=100&page=2',
    ]);
    const inWindow = history.deployments.filter((deployment) => deployment.payload.version !== 'v-old');
    const sha = (version: string) =>
      history.deployments.find((deployment) => deployment.payload.version === version)?.sha;
    expect(calls.slice(2).sort()).toEqual(
      [
        ...inWindow.map((deployment) => `GET /repos/org/service/deployments/${deployment.id}/statuses?per_page=100`),
        `GET /repos/org/service/commits/${sha('v1')}`,
        `GET /repos/org/service/commits/${sha('v5')}`,
        `GET /repos/org/service/commits/${sha('v7')}`,
      ].sort(),
    );
    for (const request of github.requests) {
      expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(request.headers.accept).toBe('application/vnd.github+json');
      expect(request.headers['x-github-api-version']).toBe('2022-11-28');
    }
    expect(seen(result)).not.toContain(TOKEN);
  });

  it('with no deployment recorded says "not enough data" and leaves the outputs empty, for the repository input', async () => {
    serve(github, 'other-org/other.repo');
    const result = await dora({ repository: 'other-org/other.repo', environment: 'staging' });
    expect(errors(result)).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.outputs).toMatchObject({
      'deployment-frequency': '',
      'lead-time-hours': '',
      'mttr-minutes': '',
      'change-failure-rate': '',
    });
    expect(JSON.parse(result.outputs.report as string)).toMatchObject({
      window: { days: 30 },
      deploymentFrequency: { value: null, met: null, samples: 0 },
    });
    expect(result.summary).toContain('### DORA figures: staging, last 30 days');
    expect(result.summary).toContain(
      '| deployment frequency | not enough data | \\> 10 per week | — | 0 (not enough data: no deployment in the window) |',
    );
    expect(github.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'GET /repos/other-org/other.repo/deployments?environment=staging&per_page=100',
    ]);
  });

  it('refuses bad inputs before calling GitHub, naming the input', async () => {
    const cases: Array<[string, Record<string, string>, Record<string, string>?]> = [
      ['github-token', { 'github-token': '' }],
      ['days', { days: '0' }],
      ['days', { days: '366' }],
      ['days', { days: '7d' }],
      ['repository', { repository: 'no-slash' }],
      ['repository', { repository: 'org/service;id' }],
      ['repository', { repository: '../../etc/passwd' }],
      ['environment', { environment: 'prod env' }],
      ['environment', { environment: 'production&per_page=1' }],
      ['repository', {}, { GITHUB_REPOSITORY: 'not a repository' }],
      ['repository', {}, { GITHUB_REPOSITORY: '' }],
    ];
    const results = await Promise.all(cases.map(([, inputs, env]) => dora(inputs, env)));
    results.forEach((result, index) => {
      const [name, inputs] = cases[index]!;
      expect(result.code, `${name} ${JSON.stringify(inputs)}`).toBe(1);
      expect(errors(result).join('\n'), `${name} ${JSON.stringify(inputs)}`).toContain(`Input '${name}'`);
      expect(result.outputs).toEqual({});
    });
    expect(errors(results[4]!)[0]).toBe(
      "::error::Input 'repository': expected a repository as owner/name, e.g. octo-org/service, got 'no-slash'",
    );
    expect(github.requests).toHaveLength(0);
  });

  it("fails with GitHub's answer when the token may not read deployments, without printing the token", async () => {
    github.respondBy(() => ({ status: 403, body: { message: 'Resource not accessible by integration' } }));
    const result = await dora({});
    expect(result.code).toBe(1);
    expect(errors(result)[0]).toContain(
      'GitHub GET /repos/org/service/deployments?environment=production&per_page=100 answered 403: {"message":"Resource not accessible by integration"}',
    );
    expect(seen(result)).not.toContain(TOKEN);
  });

  it('does not follow a next-page link to another origin with the token', async () => {
    serve(github, 'org/service', elsewhere.url);
    const result = await dora({ days: '7' });
    expect(result.code).toBe(1);
    expect(errors(result)[0]).toContain(`next page on another origin (${elsewhere.url})`);
    expect(elsewhere.requests).toHaveLength(0);
  });
});
