import type { Recorder, RecordedRequest } from './recorder';

/** Makes a recorder answer like the GitHub REST API for the calls the suite makes. */
export function actLikeGitHub(recorder: Recorder): void {
  let nextId = 1000;
  recorder.respondBy((request: RecordedRequest) => {
    if (request.method === 'POST' && /\/deployments$/.test(request.path)) return { status: 201, body: { id: ++nextId } };
    if (request.method === 'POST' && /\/deployments\/\d+\/statuses$/.test(request.path)) return { status: 201, body: { id: ++nextId, state: (request.json as { state: string }).state } };
    if (request.method === 'POST' && /\/issues$/.test(request.path)) {
      const number = ++nextId;
      return { status: 201, body: { number, html_url: `https://github.com/org/service/issues/${number}` } };
    }
    return { status: 404, body: { message: 'Not Found' } };
  });
}
