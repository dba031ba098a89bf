/**
 * Event payloads shaped like the ones GitHub writes to GITHUB_EVENT_PATH (trimmed to the fields
 * that matter, but with the same nesting and the usual neighbours), for the plan tests.
 */

export const SHA = '0123456789abcdef0123456789abcdef01234567';
export const MERGE_SHA = 'fedcba9876543210fedcba9876543210fedcba98';
const BEFORE = '89abcdef0123456789abcdef0123456789abcdef';

const owner = { login: 'org', id: 1001, type: 'Organization', html_url: 'https://github.com/org' };
const sender = { login: 'octocat', id: 583231, type: 'User', html_url: 'https://github.com/octocat' };

export const repository = {
  id: 123456789,
  node_id: 'R_kgDOHaBcDe',
  name: 'service',
  full_name: 'org/service',
  private: true,
  owner,
  html_url: 'https://github.com/org/service',
  default_branch: 'main',
  master_branch: 'main',
  pushed_at: 1764150000,
};

function commit(message: string, id = SHA) {
  return {
    id,
    tree_id: 'aaaabbbbccccddddeeeeffff0000111122223333',
    distinct: true,
    message,
    timestamp: '2025-11-26T10:00:00Z',
    url: `https://github.com/org/service/commit/${id}`,
    author: { name: 'Octo Cat', email: 'octocat@example.com', username: 'octocat' },
    committer: { name: 'GitHub', email: 'noreply@github.com', username: 'web-flow' },
    added: [],
    removed: [],
    modified: ['src/agent/loop.py'],
  };
}

/** A push of one commit (or of a tag: `refs/tags/v1.2.3`). `message: null` gives `head_commit: null`, as a force push of existing commits may. */
export function pushEvent(
  ref: string,
  message: string | null = 'Update the agent loop',
  extra: Record<string, unknown> = {},
) {
  const isTag = ref.startsWith('refs/tags/');
  return {
    ref,
    before: BEFORE,
    after: SHA,
    base_ref: isTag ? 'refs/heads/main' : null,
    created: isTag,
    deleted: false,
    forced: false,
    compare: `https://github.com/org/service/compare/${BEFORE.slice(0, 12)}...${SHA.slice(0, 12)}`,
    commits: message === null || isTag ? [] : [commit(message)],
    head_commit: message === null ? null : commit(message),
    repository,
    pusher: { name: 'octocat', email: 'octocat@example.com' },
    sender,
    ...extra,
  };
}

export function pullRequestEvent(options: {
  action?: string;
  merged?: boolean;
  base?: string;
  head?: string;
  title?: string;
  body?: string | null;
}) {
  const action = options.action ?? 'closed';
  const merged = options.merged ?? action === 'closed';
  const base = options.base ?? 'main';
  const head = options.head ?? 'feature/faster-planner';
  const branchRepo = { ...repository };
  return {
    action,
    number: 42,
    pull_request: {
      url: 'https://api.github.com/repos/org/service/pulls/42',
      id: 2000000042,
      node_id: 'PR_kwDOHaBcDe5x',
      html_url: 'https://github.com/org/service/pull/42',
      number: 42,
      state: action === 'closed' ? 'closed' : 'open',
      locked: false,
      title: options.title ?? 'Faster planner',
      body: options.body === undefined ? 'Cuts the planning step from 900 ms to 400 ms.' : options.body,
      user: sender,
      created_at: '2025-11-25T09:00:00Z',
      updated_at: '2025-11-26T10:00:00Z',
      closed_at: action === 'closed' ? '2025-11-26T10:00:00Z' : null,
      merged_at: merged ? '2025-11-26T10:00:00Z' : null,
      merge_commit_sha: MERGE_SHA,
      draft: false,
      head: { label: `octocat:${head}`, ref: head, sha: SHA, user: sender, repo: branchRepo },
      base: { label: `org:${base}`, ref: base, sha: BEFORE, user: owner, repo: repository },
      merged,
      mergeable: null,
      merged_by: merged ? sender : null,
      comments: 1,
      commits: 3,
      additions: 120,
      deletions: 40,
      changed_files: 5,
    },
    repository,
    sender,
  };
}

export function dispatchEvent(inputs: Record<string, unknown> | null = null, ref = 'refs/heads/main') {
  return { inputs, ref, repository, sender, workflow: '.github/workflows/deploy.yml' };
}
