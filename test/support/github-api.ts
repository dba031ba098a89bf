import { deployment, deploymentStatus, issue, notFound } from './github-objects';
import { requestProblems, validationFailed, warmUp } from './github-openapi';
import type { Recorder, RecordedRequest } from './recorder';

/**
 * Makes a recorder answer like the GitHub REST API for the calls the suite makes: each request is
 * checked against GitHub's OpenAPI description first (422 with the reasons when GitHub would
 * refuse it), and answers carry every field the documented schemas require.
 */
export function actLikeGitHub(recorder: Recorder): void {
  warmUp();
  let nextId = 1000;
  recorder.respondBy((request: RecordedRequest) => {
    const problems = requestProblems(request.method, request.path, request.json ?? undefined);
    if (problems.length > 0)
      return {
        status: problems.some((problem) => problem.includes('no such operation')) ? 404 : 422,
        body: problems.some((problem) => problem.includes('no such operation'))
          ? notFound
          : validationFailed(request.method, request.path.split('?')[0]!, problems),
      };
    const repo = /^\/repos\/([^/]+\/[^/]+)/.exec(request.path)?.[1] ?? 'org/service';
    const body = (request.json ?? {}) as Record<string, unknown>;
    const now = new Date().toISOString();
    if (request.method === 'POST' && /\/deployments$/.test(request.path)) {
      return {
        status: 201,
        body: deployment(repo, {
          id: ++nextId,
          sha: String(body.ref),
          ref: String(body.ref),
          environment: String(body.environment ?? 'production'),
          payload: (body.payload ?? {}) as Record<string, unknown>,
          created_at: now,
        }),
      };
    }
    const status = /\/deployments\/(\d+)\/statuses$/.exec(request.path);
    if (request.method === 'POST' && status) {
      return {
        status: 201,
        body: deploymentStatus(repo, Number(status[1]), {
          id: ++nextId,
          state: String(body.state),
          description: String(body.description ?? ''),
          created_at: now,
          ...(typeof body.log_url === 'string' ? { log_url: body.log_url } : {}),
        }),
      };
    }
    if (request.method === 'POST' && /\/issues$/.test(request.path)) {
      const number = ++nextId;
      return {
        status: 201,
        body: issue(repo, {
          id: number * 10,
          number,
          title: String(body.title),
          body: String(body.body ?? ''),
          labels: ((body.labels ?? []) as unknown[]).map(String),
          created_at: now,
        }),
      };
    }
    return { status: 404, body: notFound };
  });
}

/** The requests a recorder received that GitHub would refuse, with why (for an afterAll check). */
export function refusedRequests(recorder: Recorder): string[] {
  return recorder.requests.flatMap((request) => {
    const problems = requestProblems(request.method, request.path, request.json ?? undefined);
    return problems.length > 0 ? [`${request.method} ${request.path}: ${problems.join('; ')}`] : [];
  });
}
