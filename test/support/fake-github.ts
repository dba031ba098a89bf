import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { commit, deployment, deploymentStatus, issue, notFound } from './github-objects';
import { requestProblems, responseProblems, validationFailed, warmUp } from './github-openapi';

/**
 * A small stateful stand-in for the GitHub REST API on loopback: deployments and their statuses,
 * commits (for lead time) and issues. What blue-green, canary-monitor and rollback record can then
 * be read back by dora-report, as on GitHub. Lists are paginated with a Link header.
 *
 * Every request is checked against GitHub's published OpenAPI description: an invalid one is
 * answered 422 (as GitHub does) and kept in `rejected`; every answer is checked against the
 * documented schema of its status, and a mismatch is kept in `badAnswers` (a bug of the stand-in).
 */
export interface FakeGitHub {
  url: string;
  deployments: Array<{
    id: number;
    sha: string;
    ref: string;
    environment: string;
    payload: Record<string, unknown>;
    created_at: string;
    statuses: Array<{ id: number; state: string; created_at: string; description: string }>;
  }>;
  issues: Array<{ number: number; title: string; labels: string[]; body: string }>;
  /** Commit times by sha, for the commits API. */
  commits: Map<string, string>;
  /** Requests GitHub would refuse, with why. */
  rejected: string[];
  /** Answers of this stand-in that do not follow GitHub's schema. */
  badAnswers: string[];
  close(): Promise<void>;
}

/**
 * `web`: the stand-in is also the web site its links lead to (for the demo, which has no
 * github.com to point at): an issue's html_url is on the stand-in, which serves the issue and a
 * note for a run's page as plain text. Tests keep github.com's links.
 */
export async function startFakeGitHub(options: { pageSize?: number; web?: boolean } = {}): Promise<FakeGitHub> {
  warmUp();
  const pageSize = options.pageSize ?? 100;
  let nextId = 100;
  const state: Omit<FakeGitHub, 'url' | 'close'> = {
    deployments: [],
    issues: [],
    commits: new Map(),
    rejected: [],
    badAnswers: [],
  };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(request.url ?? '/', 'http://fake');
      const method = request.method ?? 'GET';
      const send = (status: number, value: unknown, headers: Record<string, string> = {}): void => {
        for (const problem of responseProblems(method, url.pathname, status, value))
          state.badAnswers.push(`${method} ${url.pathname} ${status}: ${problem}`);
        response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        response.end(JSON.stringify(value));
      };
      let body: Record<string, unknown> | undefined;
      try {
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
      } catch {
        state.rejected.push(`${method} ${url.pathname}: the body is not JSON`);
        return send(400, {
          message: 'Problems parsing JSON',
          documentation_url: 'https://docs.github.com/rest',
          status: '400',
        });
      }
      const own = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const webPage =
        options.web && method === 'GET' ? /^\/([^/]+\/[^/]+)\/(issues|actions\/runs)\/(\d+)$/.exec(url.pathname) : null;
      if (webPage) {
        const text = (status: number, page: string): void => {
          response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
          response.end(page);
        };
        if (webPage[2] === 'actions/runs')
          return text(
            200,
            `Run ${webPage[3]} of ${webPage[1]}: a run of the demo. Its step summaries are what \`npm run demo -- --verbose\` prints.\n`,
          );
        const found = state.issues.find((candidate) => candidate.number === Number(webPage[3]));
        return found
          ? text(200, `#${found.number} ${found.title}\nlabels: ${found.labels.join(', ')}\n\n${found.body}\n`)
          : text(404, 'Not Found\n');
      }
      const problems = requestProblems(method, `${url.pathname}${url.search}`, body);
      if (problems.length > 0) {
        state.rejected.push(`${method} ${url.pathname}${url.search}: ${problems.join('; ')}`);
        if (problems.some((problem) => problem.includes('no such operation'))) return send(404, notFound);
        return send(422, validationFailed(method, url.pathname, problems));
      }
      const repo = /^\/repos\/([^/]+\/[^/]+)/.exec(url.pathname)?.[1] ?? 'org/service';
      const page = <T>(items: T[]): void => {
        const per = Math.min(Number(url.searchParams.get('per_page') ?? 30), pageSize);
        const number = Number(url.searchParams.get('page') ?? 1);
        const slice = items.slice((number - 1) * per, number * per);
        const headers: Record<string, string> = {};
        if (number * per < items.length) {
          const next = new URL(
            url.toString().replace('http://fake', `http://127.0.0.1:${(server.address() as AddressInfo).port}`),
          );
          next.searchParams.set('page', String(number + 1));
          headers.link = `<${next.toString()}>; rel="next"`;
        }
        send(200, slice, headers);
      };
      const path = url.pathname.replace(/^\/repos\/[^/]+\/[^/]+/, '');
      const now = new Date().toISOString();
      const input = body ?? {};
      let match: RegExpExecArray | null;
      if (method === 'POST' && path === '/deployments') {
        const record = {
          id: ++nextId,
          sha: String(input.ref),
          ref: String(input.ref),
          environment: String(input.environment ?? 'production'),
          payload: (input.payload ?? {}) as Record<string, unknown>,
          created_at: now,
          statuses: [],
        };
        state.deployments.push(record);
        return send(
          201,
          deployment(repo, {
            ...record,
            task: String(input.task ?? 'deploy'),
            description: (input.description as string | undefined) ?? null,
          }),
        );
      }
      if ((match = /^\/deployments\/(\d+)\/statuses$/.exec(path))) {
        const record = state.deployments.find((candidate) => candidate.id === Number(match![1]));
        if (!record) return send(404, notFound);
        if (method === 'POST') {
          const status = {
            id: ++nextId,
            state: String(input.state),
            created_at: now,
            description: String(input.description ?? ''),
          };
          record.statuses.unshift(status);
          return send(
            201,
            deploymentStatus(repo, record.id, {
              ...status,
              environment: record.environment,
              ...(typeof input.log_url === 'string' ? { log_url: input.log_url } : {}),
            }),
          );
        }
        return page(
          record.statuses.map((status) =>
            deploymentStatus(repo, record.id, { ...status, environment: record.environment }),
          ),
        );
      }
      if (method === 'GET' && path === '/deployments') {
        const environment = url.searchParams.get('environment');
        const list = state.deployments
          .filter((candidate) => !environment || candidate.environment === environment)
          .slice()
          .reverse();
        return page(list.map(({ statuses: _statuses, ...rest }) => deployment(repo, rest)));
      }
      if (method === 'GET' && (match = /^\/commits\/([^/]+)$/.exec(path))) {
        const date = state.commits.get(match[1]!);
        return date
          ? send(200, commit(repo, match[1]!, date))
          : send(422, {
              message: `No commit found for SHA: ${match[1]}`,
              documentation_url: 'https://docs.github.com/rest/commits/commits#get-a-commit',
              status: '422',
            });
      }
      if (method === 'POST' && path === '/issues') {
        const number = ++nextId;
        const labels = ((input.labels ?? []) as unknown[]).map(String);
        state.issues.push({ number, title: String(input.title), labels, body: String(input.body ?? '') });
        return send(
          201,
          issue(
            repo,
            {
              id: number * 10,
              number,
              title: String(input.title),
              body: String(input.body ?? ''),
              labels,
              created_at: now,
            },
            options.web ? own : undefined,
          ),
        );
      }
      return send(404, notFound);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ...state,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
