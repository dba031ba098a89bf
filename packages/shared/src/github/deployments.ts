import { mapLimit } from '../action';
import { githubGet, githubGetAll, type GitHubContext } from './github';

/**
 * An environment's deployment history from the GitHub Deployments API: each deployment with its
 * statuses, read page by page (newest first).
 */

export interface DeploymentStatusEntry {
  /** GitHub's state: success, failure, error, inactive, in_progress, queued, pending. */
  state: string;
  /** ms since the epoch */
  at: number;
  /** GitHub's status id: orders statuses written in the same millisecond. */
  id?: number;
}

export interface DeploymentHistoryEntry {
  id: number;
  sha: string;
  ref: string;
  environment: string;
  /** When the deployment was created (ms since the epoch). */
  createdAt: number;
  /** payload.rollback === true: a recovery, not a change. */
  rollback: boolean;
  /** When the deployed commit was made (ms), for lead time; null when unknown. */
  commitTime: number | null;
  statuses: DeploymentStatusEntry[];
}

interface ApiDeployment {
  id: number;
  sha: string;
  ref: string;
  environment: string;
  created_at: string;
  payload: unknown;
}

interface ApiStatus {
  id: number;
  state: string;
  created_at: string;
}

function parsePayload(payload: unknown): Record<string, unknown> {
  if (typeof payload === 'string') {
    try {
      const parsed: unknown = JSON.parse(payload);
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }
  return payload && typeof payload === 'object' ? (payload as Record<string, unknown>) : {};
}

function parseTime(value: unknown): number | null {
  if (typeof value !== 'string' || value === '') return null;
  const time = Date.parse(value);
  return Number.isFinite(time) ? time : null;
}

export interface ListDeploymentsOptions {
  /** Told when one commit's time cannot be read: that deployment then has no lead time. */
  warn?: (message: string) => void;
  /** Requests at once for statuses and commits. */
  concurrency?: number;
  /**
   * Only deployments whose payload names this app. GitHub also records a deployment for every
   * workflow job with `environment:`; those carry no app, and counting them too would count each
   * release twice.
   */
  app?: string;
  /** Which deployments without a commit time in their payload get their commit's time looked up (none by default). */
  commitTimeFor?: (entry: DeploymentHistoryEntry) => boolean;
}

/**
 * The environment's deployments created since `since` (ms), newest first, with their statuses
 * and, for successful changes, the commit time. Pages of 100, following `Link: rel="next"`, and
 * stopping at the first page that reaches past `since` (the API lists newest first).
 */
export async function listDeployments(
  context: GitHubContext,
  environment: string,
  since: number,
  options: ListDeploymentsOptions = {},
): Promise<DeploymentHistoryEntry[]> {
  const listed = await githubGetAll<ApiDeployment>(
    context,
    `/deployments?environment=${encodeURIComponent(environment)}&per_page=100`,
    {
      enough: (page) => page.length === 0 || (parseTime(page.at(-1)?.created_at) ?? 0) < since,
    },
  );
  const recent = listed.filter(
    (deployment) =>
      (parseTime(deployment.created_at) ?? 0) >= since &&
      (!options.app || parsePayload(deployment.payload).app === options.app),
  );
  const commitTimes = new Map<string, Promise<number | null>>();
  const commitTime = (sha: string): Promise<number | null> => {
    let known = commitTimes.get(sha);
    if (!known) {
      known = githubGet<{ commit?: { committer?: { date?: string } } }>(
        context,
        `/commits/${encodeURIComponent(sha)}`,
      ).then(
        (answer) => parseTime(answer.data?.commit?.committer?.date),
        (error: unknown) => {
          options.warn?.(`the time of commit ${sha} could not be read: ${(error as Error).message}`);
          return null;
        },
      );
      commitTimes.set(sha, known);
    }
    return known;
  };
  return mapLimit(recent, options.concurrency ?? 4, async (deployment) => {
    const payload = parsePayload(deployment.payload);
    const statuses = await githubGetAll<ApiStatus>(context, `/deployments/${deployment.id}/statuses?per_page=100`);
    const entry: DeploymentHistoryEntry = {
      id: deployment.id,
      sha: deployment.sha,
      ref: deployment.ref,
      environment: deployment.environment,
      createdAt: parseTime(deployment.created_at) ?? 0,
      rollback: payload.rollback === true,
      commitTime: parseTime(payload.commitTime),
      statuses: statuses.flatMap((status) => {
        const at = parseTime(status.created_at);
        return at === null ? [] : [{ state: status.state, at, id: status.id }];
      }),
    };
    // The commit is only looked up where the caller needs it (lead time: a successful change without commitTime).
    if (entry.commitTime === null && options.commitTimeFor?.(entry) && /^[0-9a-f]{7,64}$/i.test(entry.sha)) {
      entry.commitTime = await commitTime(entry.sha);
    }
    return entry;
  });
}
