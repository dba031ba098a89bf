// A JavaScript action (runs.using node20/node24) run like the runner runs it: Node 24 on its
// main/pre/post file, inputs as INPUT_<NAME> with action.yml's defaults (expressions allowed),
// GITHUB_ACTION_PATH, GITHUB_STATE, and STATE_<name> for what pre and main saved.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { NoOperationTraceWriter } from '@actions/workflow-parser';
import {
  convertActionTemplate,
  parseAction,
  type ActionRunsNode,
  type ActionTemplate,
} from '@actions/workflow-parser/actions/index';
import { inputEnvName, NODE24 } from '../lab/run-action';
import type { Contexts } from './expressions';
import type { JobScope } from './scope';
import { processEnv, stepFiles } from './step-env';
import { runProcess, type StepExit } from './step-process';
import { evaluateString } from './template';

export interface NodeAction {
  uses: string;
  /** The folder of its action.yml: runs.main/pre/post are relative to it. */
  dir: string;
  template: ActionTemplate;
  runs: ActionRunsNode;
  /** Absolute paths of runs.main, pre and post (test/support/uses.ts checked they exist). */
  files: { main: string; pre?: string; post?: string };
  /** `./path`: loaded only when its step runs, so the runner runs no pre for it. */
  local: boolean;
  /** owner/repo and ref, for GITHUB_ACTION_REPOSITORY and GITHUB_ACTION_REF. */
  repository: string;
  ref: string;
}

export interface ActionResolution {
  uses: string;
  dir: string;
  metadata: string;
  files: Record<string, string>;
}

/** action.yml read with GitHub's action parser; throws its errors (file, line, column). */
export function loadNodeAction(resolution: ActionResolution, root: string, local: boolean): NodeAction {
  const name = relative(root, resolution.metadata) || resolution.metadata;
  const parsed = parseAction(
    { name, content: readFileSync(resolution.metadata, 'utf8') },
    new NoOperationTraceWriter(),
  );
  const errors = parsed.context.errors.getErrors().map((error) => error.message);
  if (errors.length > 0 || !parsed.value) throw new Error(errors.join('\n') || `${name}: empty action.yml`);
  const template = convertActionTemplate(parsed.context, parsed.value);
  const runs = template.runs;
  if (!('main' in runs) || !/^node\d+$/.test(runs.using)) {
    throw new Error(`${name}: runs.using '${runs.using}' is not supported by this runner (JavaScript actions only)`);
  }
  const match = /^([^/]+\/[^/@]+)[^@]*@(.+)$/.exec(resolution.uses);
  return {
    uses: resolution.uses,
    dir: resolution.dir,
    template,
    runs,
    files: { main: resolution.files.main!, pre: resolution.files.pre, post: resolution.files.post },
    local,
    repository: match?.[1] ?? '',
    ref: match?.[2] ?? '',
  };
}

/** INPUT_<NAME> for each `with:` value and each default of an input not given. */
export function inputVariables(
  action: NodeAction,
  given: Record<string, string>,
  contexts: Contexts,
): { env: Record<string, string>; unexpected: string[] } {
  const env: Record<string, string> = {};
  const defined = action.template.inputs ?? [];
  for (const input of defined) {
    if (input.id in given || input.default === undefined) continue;
    env[inputEnvName(input.id)] = evaluateString(input.default, contexts);
  }
  for (const [name, value] of Object.entries(given)) env[inputEnvName(name)] = value;
  const known = new Set(defined.map((input) => input.id.toLowerCase()));
  const unexpected = Object.keys(given).filter((name) => !known.has(name.toLowerCase()));
  return { env, unexpected };
}

/** The runner's warning for `with:` keys action.yml does not define. */
export function unexpectedInputsWarning(action: NodeAction, unexpected: string[]): string {
  const valid = (action.template.inputs ?? []).map((input) => `'${input.id}'`).join(', ');
  return `Unexpected input(s) ${unexpected.map((name) => `'${name}'`).join(', ')}, valid inputs are [${valid}]`;
}

export interface ScriptRequest {
  stepId: string;
  stage: 'pre' | 'main' | 'post';
  /** The step's env context and INPUT_* variables. */
  env: Record<string, string>;
  /** What pre (and main, for post) saved, given back as STATE_<name>. */
  state: Record<string, string>;
  timeoutMinutes?: number;
}

export async function runNodeScript(job: JobScope, action: NodeAction, request: ScriptRequest): Promise<StepExit> {
  const file = action.files[request.stage];
  if (!file) throw new Error(`${action.uses} has no runs.${request.stage}`);
  const files = stepFiles(job);
  const state = Object.fromEntries(Object.entries(request.state).map(([name, value]) => [`STATE_${name}`, value]));
  const extra = {
    GITHUB_ACTION_PATH: action.dir,
    GITHUB_ACTION_REPOSITORY: action.repository,
    GITHUB_ACTION_REF: action.ref,
    ...state,
  };
  return runProcess(job, {
    command: NODE24,
    args: [file],
    cwd: job.workspace,
    env: processEnv(job, request.env, files, request.stepId, extra),
    files,
    stepId: request.stepId,
    timeoutMinutes: request.timeoutMinutes,
  });
}
