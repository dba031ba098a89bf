import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github';
import { actLikeGitHub, refusedRequests } from './support/github-api';
import { commit, deployment, deploymentStatus, issue, user } from './support/github-objects';
import { findOperation, requestProblems, responseProblems } from './support/github-openapi';
import { startRecorder, type Recorder } from './support/recorder';

/**
 * The GitHub stand-ins answer as GitHub's published OpenAPI description says: 422 to what GitHub
 * refuses (a status of 'not-a-state', a deployment without ref), lists where GitHub lists, and
 * answers that carry every field the schemas require.
 */

let fake: FakeGitHub;
let recorder: Recorder;

beforeAll(async () => {
  fake = await startFakeGitHub({ pageSize: 2 });
  recorder = await startRecorder();
  actLikeGitHub(recorder);
}, 60_000);

afterAll(async () => {
  await fake?.close();
  await recorder?.close();
});

const call = async (base: string, method: string, path: string, body?: unknown) => {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', accept: 'application/vnd.github+json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown> & Array<Record<string, unknown>>,
    link: response.headers.get('link'),
  };
};

describe('the OpenAPI checker', () => {
  it('knows the operations the suite calls, and no made-up one', () => {
    expect(findOperation('POST', '/repos/o/r/deployments')?.operation.operationId).toBe('repos/create-deployment');
    expect(findOperation('GET', '/repos/o/r/deployments')?.operation.operationId).toBe('repos/list-deployments');
    expect(findOperation('POST', '/repos/o/r/deployments/7/statuses')?.operation.operationId).toBe(
      'repos/create-deployment-status',
    );
    expect(findOperation('GET', '/repos/o/r/commits/abc')?.operation.operationId).toBe('repos/get-commit');
    expect(findOperation('POST', '/repos/o/r/issues')?.operation.operationId).toBe('issues/create');
    expect(findOperation('POST', '/repos/o/r/deployments/7/explode')).toBeUndefined();
  });

  it('finds what GitHub would refuse', () => {
    expect(requestProblems('POST', '/repos/o/r/deployments/7/statuses', { state: 'not-a-state' })).toEqual([
      'body .state should be equal to one of the allowed values: error, failure, inactive, in_progress, queued, pending, success',
    ]);
    expect(requestProblems('POST', '/repos/o/r/deployments', { environment: 'production' })).toEqual([
      "body should have required property 'ref'",
    ]);
    expect(requestProblems('GET', '/repos/o/r/deployments?per_page=many', undefined)).toEqual([
      "query parameter 'per_page': should be integer",
    ]);
    expect(requestProblems('GET', '/repos/o/r/deployments?colour=blue', undefined)).toEqual([
      "query parameter 'colour' is not a parameter of repos/list-deployments",
    ]);
    expect(requestProblems('POST', '/repos/o/r/issues', { title: 'x', labels: ['incident'] })).toEqual([]);
  });

  it('finds an answer that lacks what the schema requires', () => {
    expect(responseProblems('POST', '/repos/o/r/deployments', 201, { id: 1 })).toContain(
      "(body) should have required property 'node_id'",
    );
    expect(responseProblems('POST', '/repos/o/r/deployments', 299, {})).toEqual([
      'repos/create-deployment has no documented 299 answer (documented: 201, 202, 409, 422)',
    ]);
  });

  it("the stand-ins' objects follow the schemas", () => {
    const now = new Date().toISOString();
    expect(
      responseProblems(
        'POST',
        '/repos/o/r/deployments',
        201,
        deployment('o/r', {
          id: 1,
          sha: 'a'.repeat(40),
          ref: 'main',
          environment: 'production',
          payload: { app: 'x' },
          created_at: now,
        }),
      ),
    ).toEqual([]);
    expect(
      responseProblems(
        'POST',
        '/repos/o/r/deployments/1/statuses',
        201,
        deploymentStatus('o/r', 1, { id: 2, state: 'success', created_at: now }),
      ),
    ).toEqual([]);
    expect(
      responseProblems(
        'POST',
        '/repos/o/r/issues',
        201,
        issue('o/r', { id: 3, number: 4, title: 't', body: 'b', labels: ['incident'], created_at: now }),
      ),
    ).toEqual([]);
    expect(responseProblems('GET', '/repos/o/r/commits/abc', 200, commit('o/r', 'b'.repeat(40), now))).toEqual([]);
    expect(user().login).toBe('github-actions[bot]');
  });
});

describe('fake-github (stateful)', () => {
  it('answers 422 like GitHub to a deployment without ref and to a status of not-a-state, and keeps them as rejected', async () => {
    const noRef = await call(fake.url, 'POST', '/repos/org/service/deployments', {
      environment: 'production',
      payload: {},
    });
    expect(noRef.status).toBe(422);
    expect(noRef.body.message).toBe('Invalid request.');
    expect(JSON.stringify(noRef.body.errors)).toContain("body should have required property 'ref'");
    const created = await call(fake.url, 'POST', '/repos/org/service/deployments', {
      ref: 'main',
      environment: 'production',
      payload: { app: 'shop' },
      auto_merge: false,
      required_contexts: [],
    });
    expect(created.status).toBe(201);
    const badState = await call(fake.url, 'POST', `/repos/org/service/deployments/${created.body.id}/statuses`, {
      state: 'not-a-state',
    });
    expect(badState.status).toBe(422);
    expect(fake.rejected).toHaveLength(2);
    fake.rejected.length = 0;
  });

  it('lists deployments and statuses a page at a time with a Link header, as GitHub does', async () => {
    for (const ref of ['a', 'b'])
      expect(
        (
          await call(fake.url, 'POST', '/repos/org/service/deployments', {
            ref,
            environment: 'production',
            payload: {},
            auto_merge: false,
            required_contexts: [],
          })
        ).status,
      ).toBe(201);
    const first = await call(fake.url, 'GET', '/repos/org/service/deployments?environment=production&per_page=2');
    expect(first.status).toBe(200);
    expect(first.body.map((item) => item.ref)).toEqual(['b', 'a']);
    expect(first.link).toMatch(/page=2>; rel="next"$/);
    const status = await call(fake.url, 'POST', `/repos/org/service/deployments/${first.body[0]!.id}/statuses`, {
      state: 'success',
      description: 'ok',
      log_url: 'https://github.com/org/service/actions/runs/1',
      auto_inactive: true,
    });
    expect(status.status).toBe(201);
    const statuses = await call(
      fake.url,
      'GET',
      `/repos/org/service/deployments/${first.body[0]!.id}/statuses?per_page=100`,
    );
    expect(statuses.body.map((item) => item.state)).toEqual(['success']);
    expect(fake.rejected).toEqual([]);
    expect(fake.badAnswers).toEqual([]);
  });

  it('answers 404 to what GitHub does not have, and 422 to an unknown commit as GitHub does', async () => {
    expect((await call(fake.url, 'GET', '/repos/org/service/deployments/1/nothing')).status).toBe(404);
    expect((await call(fake.url, 'GET', `/repos/org/service/commits/${'c'.repeat(40)}`)).status).toBe(422);
    fake.rejected.length = 0;
    expect(fake.badAnswers).toEqual([]);
  });
});

describe('actLikeGitHub (recorder)', () => {
  it('answers 422 to what GitHub refuses and full objects otherwise', async () => {
    expect(
      (await call(recorder.url, 'POST', '/repos/org/service/deployments/5/statuses', { state: 'not-a-state' })).status,
    ).toBe(422);
    const created = await call(recorder.url, 'POST', '/repos/org/service/deployments', {
      ref: 'main',
      environment: 'staging',
      payload: {},
      auto_merge: false,
      required_contexts: [],
    });
    expect(created.status).toBe(201);
    expect(responseProblems('POST', '/repos/org/service/deployments', 201, created.body)).toEqual([]);
    expect(refusedRequests(recorder)).toEqual([
      'POST /repos/org/service/deployments/5/statuses: body .state should be equal to one of the allowed values: ' +
        'error, failure, inactive, in_progress, queued, pending, success',
    ]);
  });
});
