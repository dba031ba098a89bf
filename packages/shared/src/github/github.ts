import { errorMessage, excerpt, requestJson } from '../action';

/**
 * The few GitHub REST calls the suite makes: deployments and their statuses (so DORA figures are
 * real), and incident issues. `GITHUB_API_URL` points at the API (a local recorder in tests).
 */

export interface GitHubContext {
  apiUrl: string;
  token: string;
  owner: string;
  repo: string;
}

export function githubContext(token: string, env: NodeJS.ProcessEnv = process.env): GitHubContext | null {
  const [owner, repo] = (env.GITHUB_REPOSITORY ?? '').split('/');
  if (!token || !owner || !repo) return null;
  return { apiUrl: (env.GITHUB_API_URL ?? 'https://api.github.com').replace(/\/+$/, ''), token, owner, repo };
}

function apiHeaders(context: GitHubContext): Record<string, string> {
  return {
    authorization: `Bearer ${context.token}`,
    accept: 'application/vnd.github+json',
    'x-github-api-version': '2022-11-28',
    'user-agent': 'agent-loop-actions',
  };
}

async function call<T>(context: GitHubContext, method: string, path: string, body?: unknown): Promise<T> {
  const response = await requestJson(
    method,
    `${context.apiUrl}/repos/${context.owner}/${context.repo}${path}`,
    body,
    apiHeaders(context),
  );
  if (response.status >= 300)
    throw new Error(`GitHub ${method} ${path} answered ${response.status}: ${excerpt(response.body, 300)}`);
  return (response.body ? JSON.parse(response.body) : {}) as T;
}

/** One answer of a GitHub GET: the parsed body and, for lists, the URL of the next page. */
export interface GitHubPage<T> {
  data: T;
  next: string | null;
}

/** The URL marked rel="next" in a `Link` header (GitHub's pagination), or null (pure). */
export function nextPageUrl(link: string | undefined): string | null {
  for (const part of (link ?? '').split(',')) {
    const [target, ...params] = part.split(';');
    const url = /^\s*<([^>]*)>\s*$/.exec(target ?? '')?.[1];
    const rel = params
      .map((param) => /^\s*rel\s*=\s*"?([^"]*)"?\s*$/i.exec(param)?.[1])
      .find((value) => value !== undefined);
    if (url && rel?.split(/\s+/).includes('next')) return url;
  }
  return null;
}

/**
 * GET with the token: `path` under /repos/{owner}/{repo} (with its query), or a next-page URL
 * from a previous answer. The token goes with the request, so a URL on any other origin than the
 * API's is refused rather than followed.
 */
export async function githubGet<T>(context: GitHubContext, pathOrUrl: string): Promise<GitHubPage<T>> {
  const url = pathOrUrl.startsWith('/')
    ? `${context.apiUrl}/repos/${context.owner}/${context.repo}${pathOrUrl}`
    : pathOrUrl;
  if (new URL(url).origin !== new URL(context.apiUrl).origin)
    throw new Error(
      `GitHub answered with a next page on another origin (${new URL(url).origin}); not following it with the token`,
    );
  const response = await requestJson('GET', url, undefined, apiHeaders(context));
  const shown = url.slice(context.apiUrl.length);
  if (response.status >= 300)
    throw new Error(`GitHub GET ${shown} answered ${response.status}: ${excerpt(response.body, 300)}`);
  return { data: (response.body ? JSON.parse(response.body) : null) as T, next: nextPageUrl(response.headers?.link) };
}

/**
 * Every item of a GitHub list, following rel="next" (ask for per_page=100 in `path`). `enough`
 * sees each page and may stop early (lists sorted newest first: stop once past the window).
 */
export async function githubGetAll<T>(
  context: GitHubContext,
  path: string,
  options: { enough?: (page: T[]) => boolean; maxPages?: number } = {},
): Promise<T[]> {
  const maxPages = options.maxPages ?? 100;
  const items: T[] = [];
  let next: string | null = path;
  for (let page = 1; next !== null; page++) {
    // A partial list would silently skew whatever is computed from it.
    if (page > maxPages) throw new Error(`GitHub GET ${path} has more than ${maxPages} pages`);
    const answer: GitHubPage<T[]> = await githubGet<T[]>(context, next);
    if (!Array.isArray(answer.data)) throw new Error(`GitHub GET ${path} did not answer with a list`);
    items.push(...answer.data);
    if (options.enough?.(answer.data)) break;
    next = answer.next;
  }
  return items;
}

export type DeploymentState = 'error' | 'failure' | 'inactive' | 'in_progress' | 'queued' | 'pending' | 'success';

export interface DeploymentRecord {
  ref: string;
  environment: string;
  description: string;
  payload: Record<string, unknown>;
}

export async function createDeployment(context: GitHubContext, record: DeploymentRecord): Promise<number> {
  const created = await call<{ id: number }>(context, 'POST', '/deployments', {
    ref: record.ref,
    environment: record.environment,
    description: record.description.slice(0, 140),
    payload: record.payload,
    auto_merge: false,
    required_contexts: [],
    transient_environment: false,
    production_environment: record.environment === 'production',
  });
  return created.id;
}

export async function setDeploymentStatus(
  context: GitHubContext,
  id: number,
  state: DeploymentState,
  description: string,
  logUrl: string,
): Promise<void> {
  await call(context, 'POST', `/deployments/${id}/statuses`, {
    state,
    description: description.slice(0, 140),
    log_url: logUrl || undefined,
    auto_inactive: state === 'success',
  });
}

export interface Incident {
  title: string;
  body: string;
  labels: string[];
}

export async function openIssue(context: GitHubContext, incident: Incident): Promise<{ number: number; url: string }> {
  const created = await call<{ number: number; html_url: string }>(context, 'POST', '/issues', {
    title: incident.title.slice(0, 250),
    body: incident.body,
    labels: incident.labels,
  });
  return { number: created.number, url: created.html_url };
}

/** Runs a GitHub call whose failure must not undo what already happened on the hosts. */
export async function bestEffort<T>(
  what: string,
  warn: (message: string) => void,
  body: () => Promise<T>,
): Promise<T | null> {
  try {
    return await body();
  } catch (error) {
    warn(`${what} failed: ${errorMessage(error)}`);
    return null;
  }
}
