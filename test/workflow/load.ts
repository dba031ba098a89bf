// Loading a workflow file the way GitHub does: GitHub's parser and converter (jobs, needs, steps,
// and the caller's inputs and secrets checked against the called workflow), with GitHub's errors.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import {
  convertWorkflowTemplate,
  isBoolean,
  isMapping,
  isString,
  NoOperationTraceWriter,
  parseWorkflow,
  type WorkflowTemplate,
} from '@actions/workflow-parser';
import type { FileReference } from '@actions/workflow-parser/workflows/file-reference';
import type { MappingToken, TemplateToken } from '@actions/workflow-parser/templates/tokens/index';
import { resolveUses } from '../support/uses';
import { correctBlockScalars } from './block-scalars';
import { child, entries, items, parseErrors } from './template';
import { WorkflowRefusal } from './types';

/** The repositories `uses:` can name: the caller's and the actions repository. */
export interface Repositories {
  /** The caller's checkout and its owner/name. */
  callerRoot: string;
  callerName: string;
  /** This repository (or --actions-repo): what `org/agent-loop-actions` names. */
  actionsRoot: string;
}

export const ACTIONS_REPOSITORY = 'org/agent-loop-actions';

export interface LoadedWorkflow {
  /** How GitHub names the file in its messages: the path in its repository, or the `uses:` that called it. */
  name: string;
  file: string;
  /** The checkout the file lives in: `./` references of its jobs resolve there. */
  root: string;
  template: WorkflowTemplate;
  /** The raw tokens: what the converter leaves out (with:, shell, timeout-minutes, defaults...). */
  raw: MappingToken;
  /** Each job's raw mapping, by id. */
  jobTokens: Map<string, MappingToken>;
}

/** A workflow file that a job's `uses:` names, or why it cannot be used. */
export type WorkflowTarget = { file: string; name: string; root: string } | { error: string };

/** Resolves a job-level `uses:` exactly as GitHub does (test/support/uses.ts), from the checkout `fromRoot`. */
export function resolveWorkflow(uses: string, fromRoot: string, repos: Repositories): WorkflowTarget {
  if (uses.startsWith('./')) {
    const found = resolveUses(uses, { root: fromRoot, repository: '', at: 'job' });
    return found.kind === 'workflow'
      ? { file: found.file, name: uses.slice(2), root: fromRoot }
      : { error: describe(found) };
  }
  for (const [root, repository] of [
    [repos.actionsRoot, ACTIONS_REPOSITORY],
    [repos.callerRoot, repos.callerName],
  ] as const) {
    const found = resolveUses(uses, { root, repository, at: 'job' });
    if (found.kind === 'workflow') return { file: found.file, name: uses, root };
    if (found.kind === 'error') return { error: describe(found) };
  }
  return { error: `${uses}: no such repository here (only ${ACTIONS_REPOSITORY} and ${repos.callerName} resolve)` };
}

function describe(found: { uses: string; message?: string }): string {
  return `${found.uses}: ${found.message ?? 'cannot be resolved'}`;
}

function referenceText(ref: FileReference): string {
  return 'owner' in ref ? `${ref.owner}/${ref.repository}/${ref.path}@${ref.version}` : `./${ref.path}`;
}

/** Parses and converts one workflow file; refuses with GitHub's errors. */
export async function loadWorkflow(
  file: string,
  name: string,
  root: string,
  repos: Repositories,
): Promise<LoadedWorkflow> {
  const content = readFileSync(file, 'utf8');
  const parsed = parseWorkflow({ name, content }, new NoOperationTraceWriter());
  const errors = parseErrors(parsed);
  if (errors.length > 0 || !parsed.value)
    throw new WorkflowRefusal(errors.length > 0 ? errors : [`${name}: empty workflow`]);
  const fileProvider = {
    getFileContent: async (ref: FileReference) => {
      const target = resolveWorkflow(referenceText(ref), root, repos);
      if ('error' in target) throw new Error(target.error);
      return { name: target.name, content: readFileSync(target.file, 'utf8') };
    },
  };
  // Depth 1: the converter checks each called workflow's inputs and secrets against this caller.
  const template = await convertWorkflowTemplate(parsed.context, parsed.value, fileProvider, {
    fetchReusableWorkflowDepth: 1,
  });
  if (template.errors?.length) throw new WorkflowRefusal(template.errors.map((error) => error.Message));
  const raw = parsed.value as MappingToken;
  correctBlockScalars(raw, content);
  const jobTokens = new Map<string, MappingToken>();
  for (const [id, token] of entries(child(raw, 'jobs'))) if (isMapping(token)) jobTokens.set(id, token);
  return { name, file, root, template, raw, jobTokens };
}

/** The path of a caller's workflow file as GitHub names it: relative to its repository. */
export function displayName(file: string, root: string): string {
  return relative(root, file);
}

export interface InputDefinition {
  name: string;
  /** string, boolean, number, choice or environment (string when absent). */
  type: string;
  required: boolean;
  /** The default's token: literal or expression (the converter drops expression and number defaults). */
  default?: TemplateToken;
  options: string[];
}

/** `on.<event>.inputs`, read from the raw tokens (the 0.3.61 converter loses number types and expression defaults). */
export function inputDefinitions(
  workflow: LoadedWorkflow,
  event: 'workflow_call' | 'workflow_dispatch',
): Map<string, InputDefinition> {
  const inputs = child(child(child(workflow.raw, 'on'), event), 'inputs');
  const text = (token: TemplateToken | undefined) => (token && isString(token) ? token.value : undefined);
  return new Map(
    entries(inputs).map(([name, spec]) => {
      const required = child(spec, 'required');
      const definition: InputDefinition = {
        name,
        type: text(child(spec, 'type')) ?? 'string',
        required: required !== undefined && isBoolean(required) && required.value,
        default: child(spec, 'default'),
        options: items(child(spec, 'options')).flatMap((option) => (isString(option) ? [option.value] : [])),
      };
      return [name.toLowerCase(), definition];
    }),
  );
}

/** `on.workflow_call.outputs` of a called workflow: each output's `value` token. */
export function workflowCallOutputs(workflow: LoadedWorkflow): Array<[string, TemplateToken]> {
  const outputs = child(child(child(workflow.raw, 'on'), 'workflow_call'), 'outputs');
  return entries(outputs).flatMap(([name, spec]) => {
    const value = child(spec, 'value');
    return value ? [[name, value] as [string, TemplateToken]] : [];
  });
}
