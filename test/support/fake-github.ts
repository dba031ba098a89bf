import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small stateful stand-in for the GitHub REST API on loopback: deployments and their statuses,
 * commits (for lead time) and issues. What blue-green, canary-monitor and rollback record can then
 * be read back by dora-report, as on GitHub. Lists are paginated with a Link header.
 */
export interface FakeGitHub {
  url: string;
  deployments: Array<{ id: number; sha: string; ref: string; environment: string; payload: Record<string, unknown>; created_at: string; statuses: Array<{ id: number; state: string; created_at: string; description: string }> }>;
  issues: Array<{ number: number; title: string; labels: string[]; body: string }>;
  /** Commit times by sha, for the commits API. */
  commits: Map<string, string>;
  close(): Promise<void>;
}

export async function startFakeGitHub(options: { pageSize?: number } = {}): Promise<FakeGitHub> {
  const pageSize = options.pageSize ?? 100;
  let nextId = 100;
  const state: Omit<FakeGitHub, 'url' | 'close'> = { deployments: [], issues: [], commits: new Map() };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
      const url = new URL(request.url ?? '/', 'http://fake');
      const send = (status: number, value: unknown, headers: Record<string, string> = {}): void => {
        response.writeHead(status, { 'content-type': 'application/json', ...headers });
        response.end(JSON.stringify(value));
      };
      const page = <T>(items: T[]): void => {
        const per = Math.min(Number(url.searchParams.get('per_page') ?? 30), pageSize);
        const number = Number(url.searchParams.get('page') ?? 1);
        const slice = items.slice((number - 1) * per, number * per);
        const headers: Record<string, string> = {};
        if (number * per < items.length) {
          const next = new URL(url.toString().replace('http://fake', `http://127.0.0.1:${(server.address() as AddressInfo).port}`));
          next.searchParams.set('page', String(number + 1));
          headers.link = `<${next.toString()}>; rel="next"`;
        }
        send(200, slice, headers);
      };
      const path = url.pathname.replace(/^\/repos\/[^/]+\/[^/]+/, '');
      const now = new Date().toISOString();
      let match: RegExpExecArray | null;
      if (request.method === 'POST' && path === '/deployments') {
        const deployment = { id: ++nextId, sha: String(body.ref ?? ''), ref: String(body.ref ?? ''), environment: String(body.environment ?? ''), payload: (body.payload ?? {}) as Record<string, unknown>, created_at: now, statuses: [] };
        state.deployments.push(deployment);
        return send(201, deployment);
      }
      if ((match = /^\/deployments\/(\d+)\/statuses$/.exec(path))) {
        const deployment = state.deployments.find((d) => d.id === Number(match![1]));
        if (!deployment) return send(404, { message: 'Not Found' });
        if (request.method === 'POST') {
          const status = { id: ++nextId, state: String(body.state), created_at: now, description: String(body.description ?? '') };
          deployment.statuses.unshift(status);
          return send(201, status);
        }
        return page(deployment.statuses);
      }
      if (request.method === 'GET' && path === '/deployments') {
        const environment = url.searchParams.get('environment');
        const list = state.deployments.filter((d) => !environment || d.environment === environment).slice().reverse();
        return page(list.map(({ statuses: _statuses, ...rest }) => rest));
      }
      if (request.method === 'GET' && (match = /^\/commits\/([^/]+)$/.exec(path))) {
        const date = state.commits.get(match[1]!);
        return date ? send(200, { sha: match[1], commit: { committer: { date } } }) : send(404, { message: 'No commit found' });
      }
      if (request.method === 'POST' && path === '/issues') {
        const issue = { number: ++nextId, title: String(body.title), labels: (body.labels ?? []) as string[], body: String(body.body ?? '') };
        state.issues.push(issue);
        return send(201, { ...issue, html_url: `https://github.com/org/service/issues/${issue.number}` });
      }
      return send(404, { message: 'Not Found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ...state, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
