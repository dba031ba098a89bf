import { readFileSync, statSync } from 'node:fs';
import { ConfigurationError } from '../action';
import { PLAN_KINDS, type PlanKind, type PlanOptions } from './plan-options';

/**
 * Event classification (pure, but `readEvent`): which kind of run a GitHub event is.
 *
 * Commit messages, pull-request titles and bodies, and branch names are written by anyone who can
 * push or open a pull request. They are only ever *tested* here (a prefix, a marker, an equality),
 * never copied: a decision holds a kind from a fixed vocabulary, a reason from `REASONS`, and only
 * values that matched a strict pattern (a semver tag, a 40-hex sha). So a crafted message or
 * branch can select one of the fixed plans, and nothing else.
 */

/** The GitHub event as the runner gives it: GITHUB_EVENT_NAME, the payload at GITHUB_EVENT_PATH, GITHUB_REF, GITHUB_SHA. */
export interface GitHubEvent {
  name: string;
  payload: unknown;
  ref: string;
  sha: string;
}

/** The only sentences `reason` can hold. */
export const REASONS = {
  pushMain: 'Push to the main branch: normal deploy.',
  pushMainModel: 'Push to the main branch with the model marker in the head commit message: model deploy.',
  mergedMain: 'Pull request merged into the main branch: normal deploy.',
  mergedMainModel: 'Pull request merged into the main branch with the model marker in its title or body: model deploy.',
  releaseTag: 'Push of a release tag (vX.Y.Z): release deploy.',
  pushHotfix: 'Push to a hotfix branch: hotfix deploy with reinforced canary monitoring.',
  mergedHotfix:
    'Pull request from a hotfix branch merged into the main branch: hotfix deploy with reinforced canary monitoring.',
  dispatch: 'Manual run (workflow_dispatch): normal deploy.',
  dispatchKind: 'Manual run (workflow_dispatch) whose kind input chose this plan.',
  pullRequestOpen: 'Pull request not merged into the main branch: gates only, nothing deploys.',
  otherBranch: 'Push to a branch that does not deploy: gates only, nothing deploys.',
  otherTag: 'Push of a tag that is not a release version (vX.Y.Z or vX.Y.Z-rc.N): gates only, nothing deploys.',
  deletedRef: 'A branch or tag was deleted: gates only, nothing deploys.',
  otherEvent: 'This event does not deploy: gates only, nothing deploys.',
} as const;

/** vX.Y.Z with an optional -rc.N, no leading zeros, nothing else. */
export const RELEASE_TAG = /^v(?:0|[1-9]\d{0,8})\.(?:0|[1-9]\d{0,8})\.(?:0|[1-9]\d{0,8})(?:-rc\.(?:0|[1-9]\d{0,8}))?$/;
export const COMMIT_SHA = /^[0-9a-f]{40}$/;

// ------------------------------------------------------------------------------------ payload access

/** A field of an untrusted JSON value, or undefined when any step is missing or not an object. */
function get(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current) || !Object.hasOwn(current, key))
      return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

function hasMarker(marker: string, ...texts: string[]): boolean {
  const needle = marker.toLowerCase();
  return texts.some((candidate) => candidate.toLowerCase().includes(needle));
}

const branchOf = (ref: string): string | null =>
  ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : null;
const tagOf = (ref: string): string | null => (ref.startsWith('refs/tags/') ? ref.slice('refs/tags/'.length) : null);
const isHotfix = (branch: string, prefix: string): boolean =>
  branch.length > prefix.length && branch.startsWith(prefix);

// ------------------------------------------------------------------------------------ classification

export interface Decision {
  kind: PlanKind;
  reason: string;
  /** The release tag, when kind is release (it matched RELEASE_TAG). */
  tag: string | null;
  /** The commit the plan is for, when the payload names a better one than GITHUB_SHA (a merge commit). */
  sha: string | null;
}

const decide = (kind: PlanKind, reason: string, tag: string | null = null, sha: string | null = null): Decision => ({
  kind,
  reason,
  tag,
  sha,
});

function classifyPush(event: GitHubEvent, options: PlanOptions): Decision {
  const { payload } = event;
  const ref = event.ref || text(get(payload, 'ref'));
  if (get(payload, 'deleted') === true) return decide('none', REASONS.deletedRef);
  const tag = tagOf(ref);
  if (tag !== null)
    return RELEASE_TAG.test(tag) ? decide('release', REASONS.releaseTag, tag) : decide('none', REASONS.otherTag);
  const branch = branchOf(ref);
  if (branch === options.mainBranch) {
    return hasMarker(options.modelMarker, text(get(payload, 'head_commit', 'message')))
      ? decide('model', REASONS.pushMainModel)
      : decide('normal', REASONS.pushMain);
  }
  if (branch !== null && isHotfix(branch, options.hotfixPrefix)) return decide('hotfix', REASONS.pushHotfix);
  return decide('none', REASONS.otherBranch);
}

function classifyPullRequest(event: GitHubEvent, options: PlanOptions): Decision {
  const pr = get(event.payload, 'pull_request');
  const merged = get(event.payload, 'action') === 'closed' && get(pr, 'merged') === true;
  if (!merged || text(get(pr, 'base', 'ref')) !== options.mainBranch) return decide('none', REASONS.pullRequestOpen);
  // GITHUB_SHA of a pull_request event is a test merge; the commit that landed is merge_commit_sha.
  const mergeSha = text(get(pr, 'merge_commit_sha')).toLowerCase();
  const sha = COMMIT_SHA.test(mergeSha) ? mergeSha : null;
  if (isHotfix(text(get(pr, 'head', 'ref')), options.hotfixPrefix))
    return decide('hotfix', REASONS.mergedHotfix, null, sha);
  if (hasMarker(options.modelMarker, text(get(pr, 'title')), text(get(pr, 'body'))))
    return decide('model', REASONS.mergedMainModel, null, sha);
  return decide('normal', REASONS.mergedMain, null, sha);
}

function classifyDispatch(event: GitHubEvent): Decision {
  const chosen = get(event.payload, 'inputs', 'kind');
  if (chosen === undefined || chosen === '') return decide('normal', REASONS.dispatch);
  // The value is not echoed: say what is accepted instead.
  if (typeof chosen !== 'string' || !(PLAN_KINDS as readonly string[]).includes(chosen)) {
    throw new ConfigurationError(`workflow_dispatch input 'kind': expected one of ${PLAN_KINDS.join(', ')}`);
  }
  const kind = chosen as PlanKind;
  if (kind !== 'release') return decide(kind, REASONS.dispatchKind);
  const tag = tagOf(event.ref);
  if (tag === null || !RELEASE_TAG.test(tag)) {
    throw new ConfigurationError(
      `workflow_dispatch input 'kind': release needs the run to start from a release tag (vX.Y.Z or vX.Y.Z-rc.N, "Use workflow from" a tag)`,
    );
  }
  return decide('release', REASONS.dispatchKind, tag);
}

export function decideKind(event: GitHubEvent, options: PlanOptions): Decision {
  switch (event.name) {
    case 'push':
      return classifyPush(event, options);
    case 'pull_request':
      return classifyPullRequest(event, options);
    case 'workflow_dispatch':
      return classifyDispatch(event);
    default:
      return decide('none', REASONS.otherEvent);
  }
}

const MAX_EVENT_BYTES = 64 * 1024 * 1024;

/** The event from the runner's variables. The payload is untrusted text: a parse error is reported without quoting it. */
export function readEvent(env: NodeJS.ProcessEnv = process.env): GitHubEvent {
  const path = env.GITHUB_EVENT_PATH;
  if (!path) throw new ConfigurationError('GITHUB_EVENT_PATH is not set: run this action in a GitHub Actions workflow');
  let payload: unknown;
  try {
    if (statSync(path).size > MAX_EVENT_BYTES) throw new Error('too large');
    payload = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new ConfigurationError('GITHUB_EVENT_PATH: the event payload is not a readable JSON file');
  }
  return { name: env.GITHUB_EVENT_NAME ?? '', payload, ref: env.GITHUB_REF ?? '', sha: env.GITHUB_SHA ?? '' };
}
