import { errorMessage } from './errors';
import { requestJson } from './http';

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

async function call<T>(context: GitHubContext, method: string, path: string, body?: unknown): Promise<T> {
  const response = await requestJson(method, `${context.apiUrl}/repos/${context.owner}/${context.repo}${path}`, body, {
    authorization: `Bearer ${context.token}`,
    accept: 'application/vnd.github+json',
    'x-github-api-version': '2022-11-28',
    'user-agent': 'agent-loop-actions',
  });
  if (response.status >= 300) throw new Error(`GitHub ${method} ${path} answered ${response.status}: ${response.body.slice(0, 300)}`);
  return (response.body ? JSON.parse(response.body) : {}) as T;
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

export async function setDeploymentStatus(context: GitHubContext, id: number, state: DeploymentState, description: string, logUrl: string): Promise<void> {
  await call(context, 'POST', `/deployments/${id}/statuses`, { state, description: description.slice(0, 140), log_url: logUrl || undefined, auto_inactive: state === 'success' });
}

export interface Incident {
  title: string;
  body: string;
  labels: string[];
}

export async function openIssue(context: GitHubContext, incident: Incident): Promise<{ number: number; url: string }> {
  const created = await call<{ number: number; html_url: string }>(context, 'POST', '/issues', { title: incident.title.slice(0, 250), body: incident.body, labels: incident.labels });
  return { number: created.number, url: created.html_url };
}

/** Runs a GitHub call whose failure must not undo what already happened on the hosts. */
export async function bestEffort<T>(what: string, warn: (message: string) => void, body: () => Promise<T>): Promise<T | null> {
  try {
    return await body();
  } catch (error) {
    warn(`${what} failed: ${errorMessage(error)}`);
    return null;
  }
}
