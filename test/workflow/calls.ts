// A job that calls a reusable workflow: its typed inputs (defaults, types), its secrets (a
// mapping, or `inherit`), the called jobs run as `<caller>/<called>`, and on.workflow_call.outputs.
import { isBasicExpression } from '@actions/workflow-parser';
import type { ReusableWorkflowJob } from '@actions/workflow-parser/model/workflow-template';
import type { TemplateToken } from '@actions/workflow-parser/templates/tokens/index';
import { fromData, type Contexts } from './expressions';
import { inputDefinitions, loadWorkflow, resolveWorkflow, workflowCallOutputs, type LoadedWorkflow } from './load';
import type { NeedsEntry, RunScope, WorkflowScope } from './scope';
import { entries, evaluateMapping, evaluateString, evaluateToken, evaluateTyped, where } from './template';
import type { JobStatus } from './types';

export type RunJobs = (run: RunScope, scope: WorkflowScope) => Promise<Map<string, NeedsEntry>>;

export interface CallRequest {
  run: RunScope;
  scope: WorkflowScope;
  job: ReusableWorkflowJob;
  id: string;
  key: string;
  needs: Record<string, { result: JobStatus; outputs: Record<string, string> }>;
  matrix: Record<string, unknown>;
  strategy: Record<string, unknown>;
}

/** The called workflow, loaded once per run. */
export async function calledWorkflow(run: RunScope, caller: LoadedWorkflow, uses: string): Promise<LoadedWorkflow> {
  const target = resolveWorkflow(uses, caller.root, run.repos);
  if ('error' in target) throw new Error(target.error);
  const cached = run.workflows.get(target.file);
  if (cached) return cached;
  const loaded = await loadWorkflow(target.file, target.name, target.root, run.repos);
  run.workflows.set(target.file, loaded);
  return loaded;
}

const ZERO: Record<string, unknown> = { boolean: false, number: 0, string: '' };

/** A value of the input's type, or GitHub's complaint (text as remembered from GitHub's runs: not in the parser). */
function typed(value: unknown, type: string, at: string): unknown {
  const expected = type === 'boolean' ? 'boolean' : type === 'number' ? 'number' : 'string';
  if (expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')) return String(value);
  if (typeof value === expected) return value;
  const shown = typeof value === 'object' ? JSON.stringify(value) : String(value);
  throw new Error(
    `${at}: Unexpected type of value '${shown}', expected type: ${expected[0]!.toUpperCase()}${expected.slice(1)}.`,
  );
}

function givenValue(token: TemplateToken, contexts: Contexts): unknown {
  const value = evaluateTyped(token, contexts);
  return value !== null && typeof value === 'object' ? fromData(value) : value;
}

/** The `inputs` context of the called workflow; throws on a value of the wrong type. */
export function callInputs(
  caller: LoadedWorkflow,
  called: LoadedWorkflow,
  job: ReusableWorkflowJob,
  contexts: Contexts,
): Record<string, unknown> {
  const given = new Map(entries(job['input-values']).map(([name, token]) => [name.toLowerCase(), token]));
  const inputs: Record<string, unknown> = {};
  for (const [lower, definition] of inputDefinitions(called, 'workflow_call')) {
    const token = given.get(lower);
    const { name, type } = definition;
    if (token) {
      inputs[name] = typed(givenValue(token, contexts), type, where(caller.name, token));
      continue;
    }
    // A default may name github, inputs and vars: evaluated in the caller's contexts.
    const value = definition.default ? evaluateToken(definition.default, contexts) : undefined;
    inputs[name] = value === undefined ? ZERO[type] : typed(value, type, where(called.name, definition.default));
  }
  return inputs;
}

/** Literal `with:` values of the wrong type, found before any job runs (GitHub refuses the run). */
export async function literalInputErrors(run: RunScope, caller: LoadedWorkflow): Promise<string[]> {
  const errors: string[] = [];
  for (const job of caller.template.jobs) {
    if (job.type !== 'reusableWorkflowJob') continue;
    const called = await calledWorkflow(run, caller, job.ref.value);
    const defined = inputDefinitions(called, 'workflow_call');
    for (const [name, token] of entries(job['input-values'])) {
      const definition = defined.get(name.toLowerCase());
      if (!definition || isBasicExpression(token)) continue;
      try {
        typed(givenValue(token, {}), definition.type, where(caller.name, token));
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
  }
  return errors;
}

function callSecrets(request: CallRequest, contexts: Contexts): Record<string, string> {
  const { job, scope } = request;
  if (job['inherit-secrets']) return { ...scope.secrets };
  return { ...evaluateMapping(job['secret-values'], contexts), GITHUB_TOKEN: scope.secrets.GITHUB_TOKEN ?? '' };
}

/** Runs the called workflow's jobs; the caller job's result and outputs come from them. */
export async function runCall(request: CallRequest, runJobs: RunJobs): Promise<NeedsEntry> {
  const { run, scope, job, key } = request;
  const contexts: Contexts = {
    github: { ...run.github, job: request.id },
    needs: request.needs,
    strategy: request.strategy,
    matrix: request.matrix,
    inputs: scope.inputs,
    vars: run.vars,
    secrets: scope.secrets,
  };
  run.log.write(`▶ Job ${key}: calls ${job.ref.value}`);
  let outputs: Record<string, string> = {};
  let result: JobStatus;
  try {
    const called = await calledWorkflow(run, scope.workflow, job.ref.value);
    const inputs = callInputs(scope.workflow, called, job, contexts);
    const secrets = callSecrets(request, contexts);
    const calledContexts = { github: run.github, inputs, vars: run.vars, secrets };
    // A caller's workflow-level env: does not reach the called workflow (GitHub's rule).
    const env = evaluateMapping(called.template.env, calledContexts);
    const results = await runJobs(run, { workflow: called, prefix: `${key}/`, inputs, secrets, env });
    const jobs = Object.fromEntries(
      [...results].map(([id, entry]) => [id, { result: entry.result, outputs: entry.outputs }]),
    );
    outputs = Object.fromEntries(
      workflowCallOutputs(called).map(([name, token]) => [name, evaluateString(token, { ...calledContexts, jobs })]),
    );
    const all = [...results.values()];
    result = all.some((entry) => entry.result === 'failure' && !entry.allowedFailure)
      ? 'failure'
      : all.some((entry) => entry.result === 'cancelled')
        ? 'cancelled'
        : 'success';
  } catch (error) {
    run.log.annotate({ level: 'error', message: (error as Error).message, job: key });
    run.log.write(`  ##[error]${(error as Error).message}`);
    result = 'failure';
  }
  run.jobs[key] = { result, outputs, steps: {} };
  return { result, outputs, allowedFailure: false };
}
