/**
 * Objects shaped as GitHub's REST API returns them (every field its published schema requires),
 * for the stand-ins in fake-github.ts and github-api.ts. test/github-stand-ins.test.ts checks them
 * against @octokit/openapi.
 */
const API = 'https://api.github.com';
const WEB = 'https://github.com';

export function user(login = 'github-actions[bot]', id = 41898282) {
  const url = `${API}/users/${encodeURIComponent(login)}`;
  return {
    login,
    id,
    node_id: `MDM6Qm90${id}`,
    avatar_url: `https://avatars.githubusercontent.com/in/15368?v=4`,
    gravatar_id: '',
    url,
    html_url: `${WEB}/apps/github-actions`,
    followers_url: `${url}/followers`,
    following_url: `${url}/following{/other_user}`,
    gists_url: `${url}/gists{/gist_id}`,
    starred_url: `${url}/starred{/owner}{/repo}`,
    subscriptions_url: `${url}/subscriptions`,
    organizations_url: `${url}/orgs`,
    repos_url: `${url}/repos`,
    events_url: `${url}/events{/privacy}`,
    received_events_url: `${url}/received_events`,
    type: 'Bot',
    site_admin: false,
  };
}

export function deployment(
  repo: string,
  fields: {
    id: number;
    sha: string;
    ref: string;
    task?: string;
    environment: string;
    description?: string | null;
    payload: Record<string, unknown>;
    created_at: string;
  },
) {
  const url = `${API}/repos/${repo}/deployments/${fields.id}`;
  return {
    url,
    id: fields.id,
    node_id: `DE_kwDO${fields.id}`,
    sha: fields.sha,
    ref: fields.ref,
    task: fields.task ?? 'deploy',
    payload: fields.payload,
    original_environment: fields.environment,
    environment: fields.environment,
    description: fields.description ?? null,
    creator: user(),
    created_at: fields.created_at,
    updated_at: fields.created_at,
    statuses_url: `${url}/statuses`,
    repository_url: `${API}/repos/${repo}`,
    transient_environment: false,
    production_environment: fields.environment === 'production',
  };
}

export function deploymentStatus(
  repo: string,
  deploymentId: number,
  fields: {
    id: number;
    state: string;
    description?: string;
    log_url?: string;
    environment?: string;
    created_at: string;
  },
) {
  return {
    url: `${API}/repos/${repo}/deployments/${deploymentId}/statuses/${fields.id}`,
    id: fields.id,
    node_id: `DES_kwDO${fields.id}`,
    state: fields.state,
    creator: user(),
    description: fields.description ?? '',
    environment: fields.environment ?? '',
    // GitHub's schema says uri: a status written without log_url points at the deployments page.
    target_url: fields.log_url ?? `${WEB}/${repo}/deployments`,
    log_url: fields.log_url ?? `${WEB}/${repo}/deployments`,
    created_at: fields.created_at,
    updated_at: fields.created_at,
    deployment_url: `${API}/repos/${repo}/deployments/${deploymentId}`,
    repository_url: `${API}/repos/${repo}`,
  };
}

/** `web`: where the issue's page is (html_url), github.com unless a stand-in serves it. */
export function issue(
  repo: string,
  fields: { id: number; number: number; title: string; body: string; labels: string[]; created_at: string },
  web = WEB,
) {
  const url = `${API}/repos/${repo}/issues/${fields.number}`;
  return {
    id: fields.id,
    node_id: `I_kwDO${fields.id}`,
    url,
    repository_url: `${API}/repos/${repo}`,
    labels_url: `${url}/labels{/name}`,
    comments_url: `${url}/comments`,
    events_url: `${url}/events`,
    html_url: `${web}/${repo}/issues/${fields.number}`,
    number: fields.number,
    state: 'open',
    title: fields.title,
    body: fields.body,
    user: user(),
    labels: fields.labels.map((name, index) => ({
      id: fields.id * 100 + index,
      node_id: `LA_${fields.id}_${index}`,
      url: `${API}/repos/${repo}/labels/${encodeURIComponent(name)}`,
      name,
      description: null,
      color: 'ededed',
      default: false,
    })),
    assignee: null,
    assignees: [],
    milestone: null,
    locked: false,
    comments: 0,
    closed_at: null,
    created_at: fields.created_at,
    updated_at: fields.created_at,
    author_association: 'NONE',
  };
}

export function commit(repo: string, sha: string, date: string) {
  const person = { name: 'dev', email: 'dev@example.com', date };
  return {
    url: `${API}/repos/${repo}/commits/${sha}`,
    sha,
    node_id: `C_${sha.slice(0, 12)}`,
    html_url: `${WEB}/${repo}/commit/${sha}`,
    comments_url: `${API}/repos/${repo}/commits/${sha}/comments`,
    commit: {
      url: `${API}/repos/${repo}/git/commits/${sha}`,
      author: person,
      committer: person,
      message: 'change',
      comment_count: 0,
      tree: {
        sha: '4b825dc642cb6eb9a060e54bf8d69288fbee4904',
        url: `${API}/repos/${repo}/git/trees/4b825dc642cb6eb9a060e54bf8d69288fbee4904`,
      },
      verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
    },
    // No GitHub account for the commit's e-mail: GitHub sends an empty object.
    author: {},
    committer: {},
    parents: [],
  };
}

export const notFound = { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' };
