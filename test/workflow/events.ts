// The event a run is for: its payload (given, or a plausible one built from the repository's
// HEAD), the ref and sha GitHub derives from it, and the facts the `on:` filters read.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { EventFacts } from './triggers';

export type Payload = Record<string, unknown>;

export interface EventInfo {
  name: string;
  payload: Payload;
  /** GITHUB_REF and GITHUB_SHA as GitHub sets them for this event. */
  ref: string;
  sha: string;
  headRef: string;
  baseRef: string;
  facts: EventFacts;
}

export interface EventOptions {
  name: string;
  repo: string;
  repository: string;
  serverUrl: string;
  payload?: Payload | string;
  ref?: string;
  /** workflow_dispatch inputs as given (strings). */
  inputs: Record<string, string>;
  /** The caller's path in its repository (workflow_dispatch's payload names it). */
  workflowPath: string;
}

const ZERO_SHA = '0'.repeat(40);

function git(repo: string, ...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function tryGit(repo: string, ...args: string[]): string | undefined {
  try {
    return git(repo, ...args);
  } catch {
    return undefined;
  }
}

/** A bare branch name becomes refs/heads/<name>; full refs stay. */
export function fullRef(ref: string): string {
  return ref.startsWith('refs/') ? ref : `refs/heads/${ref}`;
}

function currentBranch(repo: string): string {
  return tryGit(repo, 'symbolic-ref', '--short', 'HEAD') ?? 'main';
}

function commitOf(repo: string, rev: string): Payload {
  const [id = '', message = '', timestamp = '', name = '', email = ''] = git(
    repo,
    'log',
    '-1',
    '--format=%H%x00%B%x00%cI%x00%an%x00%ae',
    rev,
  ).split('\0');
  return {
    id,
    tree_id: tryGit(repo, 'rev-parse', `${rev}^{tree}`) ?? '',
    message: message.trim(),
    timestamp,
    author: { name, email },
    committer: { name, email },
  };
}

function repositoryObject(options: EventOptions, defaultBranch: string): Payload {
  const [owner = 'org', name = 'repo'] = options.repository.split('/');
  return {
    full_name: options.repository,
    name,
    owner: { login: owner, name: owner },
    default_branch: defaultBranch,
    html_url: `${options.serverUrl}/${options.repository}`,
    clone_url: options.repo,
    private: true,
  };
}

function changedFiles(repo: string, from: string | undefined, to: string): string[] | undefined {
  const base = from && from !== ZERO_SHA ? from : tryGit(repo, 'rev-parse', `${to}^`);
  const out = base
    ? tryGit(repo, 'diff', '--name-only', base, to)
    : tryGit(repo, 'show', '--name-only', '--format=', to);
  return out === undefined ? undefined : out.split('\n').filter(Boolean);
}

function pushPayload(options: EventOptions, ref: string, defaultBranch: string): Payload {
  const after = git(options.repo, 'rev-parse', `${ref}^{commit}`);
  const before = tryGit(options.repo, 'rev-parse', `${after}^`) ?? ZERO_SHA;
  const head = commitOf(options.repo, after);
  const sender = { login: 'octocat', type: 'User' };
  return {
    ref,
    before,
    after,
    created: false,
    deleted: false,
    forced: false,
    base_ref: null,
    compare: `${options.serverUrl}/${options.repository}/compare/${before.slice(0, 12)}...${after.slice(0, 12)}`,
    commits: [head],
    head_commit: head,
    pusher: { name: 'octocat', email: 'octocat@example.com' },
    repository: repositoryObject(options, defaultBranch),
    sender,
  };
}

/** A merged pull request: HEAD is the merge commit on the base branch, its second parent the head. */
function pullRequestPayload(options: EventOptions, base: string, defaultBranch: string): Payload {
  const merge = git(options.repo, 'rev-parse', `${fullRef(base)}^{commit}`);
  const baseSha = tryGit(options.repo, 'rev-parse', `${merge}^1`) ?? merge;
  const headSha = tryGit(options.repo, 'rev-parse', `${merge}^2`) ?? merge;
  const commit = commitOf(options.repo, headSha);
  const [title = '', ...body] = String(commit.message).split('\n');
  const repository = repositoryObject(options, defaultBranch);
  return {
    action: 'closed',
    number: 1,
    pull_request: {
      number: 1,
      state: 'closed',
      merged: true,
      merged_at: commit.timestamp,
      merge_commit_sha: merge,
      title,
      body: body.join('\n').trim(),
      user: { login: 'octocat' },
      head: { ref: 'feature', sha: headSha, repo: repository },
      base: { ref: base.replace(/^refs\/heads\//, ''), sha: baseSha, repo: repository },
    },
    repository,
    sender: { login: 'octocat', type: 'User' },
  };
}

function readPayload(payload: Payload | string | undefined): Payload | undefined {
  if (payload === undefined) return undefined;
  return typeof payload === 'string' ? (JSON.parse(readFileSync(payload, 'utf8')) as Payload) : payload;
}

function defaultPayload(options: EventOptions, ref: string, defaultBranch: string): Payload {
  const repository = repositoryObject(options, defaultBranch);
  const sender = { login: 'octocat', type: 'User' };
  switch (options.name) {
    case 'push':
      return pushPayload(options, ref, defaultBranch);
    case 'pull_request':
    case 'pull_request_target':
      return pullRequestPayload(options, ref, defaultBranch);
    case 'workflow_dispatch':
      return { inputs: options.inputs, ref, repository, sender, workflow: options.workflowPath };
    case 'schedule':
      return { schedule: '', repository };
    default:
      return { repository, sender };
  }
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The payload, ref and sha of the event, and what its filters look at. */
export function buildEvent(options: EventOptions): EventInfo {
  const defaultBranch = currentBranch(options.repo);
  const given = readPayload(options.payload);
  const pr = (given?.pull_request ?? undefined) as
    | {
        head?: { ref?: string; sha?: string };
        base?: { ref?: string; sha?: string };
        number?: number;
        merge_commit_sha?: string;
      }
    | undefined;
  const requested = fullRef(options.ref ?? str(given?.ref) ?? (pr?.base?.ref ? pr.base.ref : defaultBranch));
  const payload = { ...defaultPayload(options, requested, defaultBranch), ...(given ?? {}) };
  if (options.name === 'workflow_dispatch')
    payload.inputs = { ...(payload.inputs as Record<string, string>), ...options.inputs };
  if (options.name === 'pull_request' || options.name === 'pull_request_target')
    return pullRequestEvent(options, payload, requested);
  const sha =
    str(payload.after) ??
    tryGit(options.repo, 'rev-parse', `${requested}^{commit}`) ??
    git(options.repo, 'rev-parse', 'HEAD');
  const facts: EventFacts = {
    name: options.name,
    ref: requested,
    action: str(payload.action),
    cron: str(payload.schedule) || undefined,
  };
  if (options.name === 'push') facts.changedFiles = changedFiles(options.repo, str(payload.before), sha);
  return { name: options.name, payload, ref: requested, sha, headRef: '', baseRef: '', facts };
}

function pullRequestEvent(options: EventOptions, payload: Payload, requested: string): EventInfo {
  const pr = payload.pull_request as {
    number?: number;
    merged?: boolean;
    merge_commit_sha?: string;
    head?: { ref?: string; sha?: string };
    base?: { ref?: string; sha?: string };
  };
  const baseRef = pr.base?.ref ?? requested.replace(/^refs\/heads\//, '');
  // A closed pull request runs on its last merge commit (refs/pull/N/merge), GitHub says.
  const sha = pr.merge_commit_sha ?? pr.head?.sha ?? git(options.repo, 'rev-parse', 'HEAD');
  const changed = pr.base?.sha ? changedFiles(options.repo, pr.base.sha, sha) : undefined;
  return {
    name: options.name,
    payload,
    ref: `refs/pull/${pr.number ?? 1}/merge`,
    sha,
    headRef: pr.head?.ref ?? '',
    baseRef,
    facts: { name: options.name, ref: `refs/heads/${baseRef}`, action: str(payload.action), changedFiles: changed },
  };
}
