/**
 * The plan's vocabulary (pure): the kinds of run, the gates, and the options a workflow author
 * gives (the plan action's inputs), checked with the patterns below.
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
