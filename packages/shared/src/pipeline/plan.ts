import { readFileSync, statSync } from 'node:fs';
import { ConfigurationError, table } from '../action';
import { formatNumber } from './compare';

/**
 * Event classification (pure): which kind of run a GitHub event is, and what the pipeline does
 * for it — gates, canary shape, thresholds and the canary-monitor policy.
 *
 * Commit messages, pull-request titles and bodies, and branch names are written by anyone who can
 * push or open a pull request. They are only ever *tested* here (a prefix, a marker, an equality),
 * never copied: every field of a Plan comes from a fixed vocabulary, from the options (the workflow
 * author's inputs), or from a value that matched a strict pattern (a semver tag, a 40-hex sha).
 * So a crafted message or branch can select one of the fixed plans, and nothing else.
 */

export const PLAN_KINDS = ['normal', 'release', 'model', 'hotfix', 'none'] as const;
export type PlanKind = (typeof PLAN_KINDS)[number];

/** Every gate the pipeline knows, in the order they run. */
export const GATES = ['lint', 'typecheck', 'unit', 'integration', 'security-scan', 'load-test'] as const;
export type Gate = (typeof GATES)[number];

/** A comma-separated list of gate names, or `none`. */
export const GATE_LIST = new RegExp(`^(?:none|(?:${GATES.join('|')})(?:\\s*,\\s*(?:${GATES.join('|')}))*)$`);

/** `integration, load-test` → ['integration', 'load-test']; `none` → []. Call after GATE_LIST matched. */
export function parseGateList(list: string): Gate[] {
  if (list.trim() === 'none') return [];
  return list
    .split(',')
    .map((name) => name.trim())
    .filter((name): name is Gate => (GATES as readonly string[]).includes(name));
}

/** An image repository without a tag, e.g. `ghcr.io/org/agent-loop`. */
export const IMAGE_REPOSITORY =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
/** A git branch name: no `..`, no leading or trailing slash, no spaces or shell characters. */
export const BRANCH_NAME = /^(?!.*\.\.)(?![/.])(?!.*[/.]$)[A-Za-z0-9._/-]+$/;

/** The GitHub event as the runner gives it: GITHUB_EVENT_NAME, the payload at GITHUB_EVENT_PATH, GITHUB_REF, GITHUB_SHA. */
export interface GitHubEvent {
  name: string;
  payload: unknown;
  ref: string;
  sha: string;
}

export interface PlanOptions {
  /** Pushes to this branch, and pull requests merged into it, deploy. */
  mainBranch: string;
  /** Branches starting with this are hotfixes, e.g. `hotfix/`. */
  hotfixPrefix: string;
  /** Text in the head commit message (or a merged pull request's title or body) that makes a deploy a model deploy; case-insensitive. */
  modelMarker: string;
  /** Gates a hotfix skips. */
  hotfixSkip: readonly Gate[];
  /** Image repository such as `ghcr.io/org/agent-loop`; '' for no `image`. */
  imageRepository: string;
}

export interface Plan {
  kind: PlanKind;
  /** Where a deploy goes; `none` when nothing deploys. */
  environment: 'production' | 'none';
  deploy: boolean;
  /** The tag for a release (`v1.2.3`, `v1.2.3-rc.1`), else `sha-<7 hex>`. */
  version: string;
  imageTag: string;
  /** `<imageRepository>:<imageTag>`, or '' without an image repository. */
  image: string;
  /** Gates to run, in order. */
  gates: Gate[];
  /** Share of traffic the canary starts with. */
  canaryPercent: number;
  /** Canary shares in order (a ramp for model deploys). */
  canarySteps: number[];
  /** Seconds of canary analysis (per step). */
  canaryDurationSeconds: number;
  /** Highest error ratio the canary may show. */
  errorThreshold: number;
  /** Highest P95 latency the canary may show, in ms. */
  latencyP95Ms: number;
  /** A canary-monitor policy (YAML) built from the figures above; `parsePolicy` accepts it. */
  policy: string;
  /** Tell people at the start, not only at the end (hotfixes). */
  notifyImmediately: boolean;
  model: boolean;
  /** Why, in a sentence from `REASONS`: never the commit message or a branch name. */
  reason: string;
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

interface Figures {
  canarySteps: number[];
  canaryDurationSeconds: number;
  errorThreshold: number;
  latencyP95Ms: number;
}

/** The procedure's canary figures; a hotfix is watched twice as long against tighter limits. */
const FIGURES: Record<PlanKind, Figures> = {
  normal: { canarySteps: [10], canaryDurationSeconds: 300, errorThreshold: 0.01, latencyP95Ms: 2000 },
  release: { canarySteps: [10], canaryDurationSeconds: 300, errorThreshold: 0.01, latencyP95Ms: 2000 },
  model: { canarySteps: [10, 25, 50, 100], canaryDurationSeconds: 300, errorThreshold: 0.01, latencyP95Ms: 2000 },
  hotfix: { canarySteps: [10], canaryDurationSeconds: 600, errorThreshold: 0.005, latencyP95Ms: 1500 },
  none: { canarySteps: [10], canaryDurationSeconds: 300, errorThreshold: 0.01, latencyP95Ms: 2000 },
};

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

interface Decision {
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

function decideKind(event: GitHubEvent, options: PlanOptions): Decision {
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

// ------------------------------------------------------------------------------------ plan

/** A canary-monitor policy holding the plan's figures; the rules it names override the defaults of the same name. */
export function planPolicy(kind: PlanKind, figures: Omit<Figures, 'canarySteps'>): string {
  return [
    `# Canary analysis policy for a ${kind} deploy (from the plan action).`,
    `duration: ${figures.canaryDurationSeconds}`,
    'rules:',
    `  - { name: error-rate, metric: error_rate, max: ${figures.errorThreshold}, kind: gate }`,
    `  - { name: latency-p95, metric: p95_ms, max: ${figures.latencyP95Ms}, kind: gate }`,
    `  - { name: error-rate-sustained, metric: error_rate, max: ${figures.errorThreshold}, window: 30, for: 120, kind: trigger }`,
    '',
  ].join('\n');
}

/** Classifies the event and builds the plan. Throws ConfigurationError for a GITHUB_SHA that is not a commit sha or a bad workflow_dispatch kind. */
export function classify(event: GitHubEvent, options: PlanOptions): Plan {
  const decision = decideKind(event, options);
  const sha = decision.sha ?? event.sha.toLowerCase();
  if (!COMMIT_SHA.test(sha)) throw new ConfigurationError('GITHUB_SHA: expected a 40-character hexadecimal commit sha');
  const { kind } = decision;
  const version = decision.tag ?? `sha-${sha.slice(0, 7)}`;
  const figures = FIGURES[kind];
  const deploy = kind !== 'none';
  const skipped: readonly Gate[] = kind === 'hotfix' ? options.hotfixSkip : [];
  return {
    kind,
    environment: deploy ? 'production' : 'none',
    deploy,
    version,
    imageTag: version,
    image: options.imageRepository ? `${options.imageRepository}:${version}` : '',
    gates: GATES.filter((gate) => !skipped.includes(gate)),
    canaryPercent: figures.canarySteps[0] ?? 10,
    canarySteps: [...figures.canarySteps],
    canaryDurationSeconds: figures.canaryDurationSeconds,
    errorThreshold: figures.errorThreshold,
    latencyP95Ms: figures.latencyP95Ms,
    policy: planPolicy(kind, figures),
    notifyImmediately: kind === 'hotfix',
    model: kind === 'model',
    reason: decision.reason,
  };
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

/** The plan as the step summary shows it: the title says what deploys where, a table says how. */
export function planSummary(plan: Plan): string {
  const title = plan.deploy
    ? `### 🚀 ${plan.kind} deploy of ${plan.version} to ${plan.environment}`
    : '### 🧪 Gates only: nothing deploys';
  const rows = [
    ['kind', plan.kind],
    ['deploy', plan.deploy ? `yes, to ${plan.environment}` : 'no'],
    ['version', plan.version],
    ...(plan.image ? [['image', plan.image]] : []),
    ['gates', plan.gates.join(', ')],
    [
      'canary',
      `${plan.canarySteps.join('% → ')}%, ${plan.canaryDurationSeconds} s${plan.canarySteps.length > 1 ? ' per step' : ''}`,
    ],
    ['limits', `error rate ≤ ${formatNumber(plan.errorThreshold * 100)}%, P95 ≤ ${plan.latencyP95Ms} ms`],
    ['notify at start', plan.notifyImmediately ? 'yes' : 'no'],
  ];
  return [title, '', `> ${plan.reason}`, '', table(['what', 'plan'], rows), ''].join('\n');
}
