import { existsSync, readFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { parse } from 'yaml';

/**
 * Resolves a `uses:` value the way GitHub does, against a checkout of one repository:
 * - `docker://IMAGE` runs an image (nothing to resolve here);
 * - `./PATH` is PATH/action.yml (or .yaml) in the workspace (for a step) or a workflow file (for a job);
 * - `OWNER/REPO/.github/workflows/FILE@REF` is a reusable workflow (jobs only);
 * - `OWNER/REPO[/PATH]@REF` is PATH/action.yml (or .yaml) at the root of that repository (steps only).
 * Only references to `repository` (this checkout) are resolved; anything else is 'external'.
 * An action's runs.main/pre/post are relative to the folder of its action.yml and may leave it.
 */
export type Resolution =
  | { kind: 'external' | 'docker'; uses: string }
  | {
      kind: 'action';
      uses: string;
      dir: string;
      metadata: string;
      runs: Record<string, string>;
      files: Record<string, string>;
    }
  | { kind: 'workflow'; uses: string; file: string }
  | { kind: 'error'; uses: string; message: string };

export interface ResolveOptions {
  /** The checkout: the repository root, and the workspace for `./` references. */
  root: string;
  /** owner/repo of that checkout. */
  repository: string;
  /** Where the reference sits: a job's `uses:` names a workflow, a step's an action. */
  at: 'job' | 'step';
}

const SCRIPT_KEYS = ['main', 'pre', 'post'] as const;

function resolveAction(uses: string, root: string, path: string): Resolution {
  const dir = resolve(root, path);
  if (!dir.startsWith(root)) return { kind: 'error', uses, message: `'${path}' leaves the repository` };
  const metadata = ['action.yml', 'action.yaml'].map((name) => join(dir, name)).find((file) => existsSync(file));
  if (!metadata)
    return {
      kind: 'error',
      uses,
      message: `no ${path === '' ? '' : `${path}/`}action.yml or action.yaml at the repository root`,
    };
  const action = parse(readFileSync(metadata, 'utf8')) as { runs?: Record<string, unknown> };
  const runs = Object.fromEntries(
    Object.entries(action.runs ?? {}).filter(([, value]) => typeof value === 'string'),
  ) as Record<string, string>;
  if (!runs.using) return { kind: 'error', uses, message: `${metadata}: no runs.using` };
  const files: Record<string, string> = {};
  if (/^node\d+$/.test(runs.using)) {
    if (!runs.main) return { kind: 'error', uses, message: `${metadata}: runs.using ${runs.using} without runs.main` };
    for (const key of SCRIPT_KEYS) {
      if (runs[key] === undefined) continue;
      const file = resolve(dir, runs[key]);
      if (!existsSync(file))
        return {
          kind: 'error',
          uses,
          message: `${metadata}: runs.${key} '${runs[key]}' is ${file}, which does not exist`,
        };
      files[key] = file;
    }
  }
  return { kind: 'action', uses, dir, metadata, runs, files };
}

export function resolveUses(uses: string, options: ResolveOptions): Resolution {
  const { root, repository, at } = options;
  if (uses.startsWith('docker://'))
    return at === 'step'
      ? { kind: 'docker', uses }
      : { kind: 'error', uses, message: 'a job cannot use a Docker image' };
  if (uses.startsWith('./')) {
    if (at === 'job') {
      const file = resolve(root, uses);
      if (!/^\.\/\.github\/workflows\/[^/]+\.ya?ml$/.test(uses))
        return { kind: 'error', uses, message: 'a local reusable workflow must be ./.github/workflows/FILE.yml' };
      return existsSync(file) ? { kind: 'workflow', uses, file } : { kind: 'error', uses, message: `no ${uses}` };
    }
    return resolveAction(uses, root, posix.normalize(uses.slice(2)).replace(/\/$/, ''));
  }
  const match = /^([\w.-]+)\/([\w.-]+)(?:\/([^@]+))?@([^@\s]+)$/.exec(uses);
  if (!match) return { kind: 'error', uses, message: 'expected OWNER/REPO[/PATH]@REF, ./PATH or docker://IMAGE' };
  const [, owner, repo, path = ''] = match;
  if (`${owner}/${repo}` !== repository) return { kind: 'external', uses };
  const workflow = /^\.github\/workflows\/([^/]+\.ya?ml)$/.exec(path);
  if (at === 'job') {
    if (!workflow)
      return {
        kind: 'error',
        uses,
        message: 'a job can only call a reusable workflow: OWNER/REPO/.github/workflows/FILE@REF',
      };
    const file = join(root, path);
    if (!existsSync(file)) return { kind: 'error', uses, message: `no ${path}` };
    const on = (parse(readFileSync(file, 'utf8')) as { on?: Record<string, unknown> }).on;
    if (!on || !('workflow_call' in on)) return { kind: 'error', uses, message: `${path} has no on.workflow_call` };
    return { kind: 'workflow', uses, file };
  }
  if (workflow) return { kind: 'error', uses, message: 'a step cannot call a workflow: move it to a job-level uses:' };
  return resolveAction(uses, root, path);
}

/** Every `uses:` of a workflow file: job-level ones name workflows, step-level ones actions. */
export function usesOfWorkflow(text: string): Array<{ uses: string; at: 'job' | 'step'; where: string }> {
  const workflow = parse(text) as {
    jobs?: Record<string, { uses?: string; steps?: Array<{ uses?: string; id?: string }> }>;
  } | null;
  const found: Array<{ uses: string; at: 'job' | 'step'; where: string }> = [];
  for (const [name, job] of Object.entries(workflow?.jobs ?? {})) {
    if (typeof job.uses === 'string') found.push({ uses: job.uses, at: 'job', where: `jobs.${name}` });
    (job.steps ?? []).forEach((step, index) => {
      if (typeof step.uses === 'string')
        found.push({ uses: step.uses, at: 'step', where: `jobs.${name}.steps[${step.id ?? index}]` });
    });
  }
  return found;
}

/** Every `uses:` line inside the fenced YAML blocks of a Markdown file (a `.github/workflows/` path is a job's). */
export function usesOfMarkdown(text: string): Array<{ uses: string; at: 'job' | 'step'; where: string }> {
  const found: Array<{ uses: string; at: 'job' | 'step'; where: string }> = [];
  let inYaml = false;
  text.split('\n').forEach((line, index) => {
    if (/^\s*```/.test(line)) {
      inYaml = !inYaml && /^\s*```ya?ml\s*$/.test(line);
      return;
    }
    if (!inYaml) return;
    const match = /^\s*(-\s+)?uses:\s*['"]?([^'"\s#]+)/.exec(line);
    if (match?.[2])
      found.push({
        uses: match[2],
        at: match[2].includes('/.github/workflows/') || match[2].startsWith('./.github/workflows/') ? 'job' : 'step',
        where: `line ${index + 1}`,
      });
  });
  return found;
}
