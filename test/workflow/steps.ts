// A job's steps as the runner runs them: actions resolved at "Set up job" (their pre steps run
// there), then each step with its `if:`, env, continue-on-error and timeout-minutes, then the post
// steps of the actions that ran, in reverse order, under their post-if.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Step } from '@actions/workflow-parser/model/workflow-template';
import type { TemplateToken } from '@actions/workflow-parser/templates/tokens/index';
import { resolveUses } from '../support/uses';
import { condition, type Contexts } from './expressions';
import { ACTIONS_REPOSITORY } from './load';
import { seconds } from './log';
import { inputVariables, loadNodeAction, runNodeScript, unexpectedInputsWarning, type NodeAction } from './node-action';
import { runScriptStep } from './run-step';
import { jobContexts, jobStatus, type JobScope } from './scope';
import type { StandIn } from './stand-in-loader';
import { processEnv, stepFiles } from './step-env';
import type { StepExit } from './step-process';
import { child, evaluateMapping, evaluateString, items } from './template';
import type { StepStatus } from './types';

export type StepTarget =
  | { kind: 'run' }
  | { kind: 'node'; action: NodeAction }
  | { kind: 'stand-in'; uses: string; standIn: StandIn }
  /** `./path`: resolved in the workspace when the step runs (after a checkout). */
  | { kind: 'local'; uses: string };

interface PlannedStep {
  step: Step;
  raw: TemplateToken | undefined;
  target: StepTarget;
}

/** Resolves every `uses:` the way the runner does at "Set up job"; the first that fails, fails the job. */
export function planSteps(job: JobScope): PlannedStep[] | { error: string } {
  const raws = items(child(job.raw, 'steps'));
  const planned: PlannedStep[] = [];
  for (const [index, step] of job.job.steps.entries()) {
    const raw = raws[index];
    if (!('uses' in step)) {
      planned.push({ step, raw, target: { kind: 'run' } });
      continue;
    }
    const target = resolveTarget(job, step.uses.value);
    if ('error' in target) return target;
    planned.push({ step, raw, target });
  }
  return planned;
}

function resolveTarget(job: JobScope, uses: string): StepTarget | { error: string } {
  if (uses.startsWith('docker://'))
    return { error: `Unable to resolve action \`${uses}\`: Docker actions are not supported by this runner` };
  if (uses.startsWith('./')) return { kind: 'local', uses };
  const { repos } = job.run;
  for (const [root, repository] of [
    [repos.actionsRoot, ACTIONS_REPOSITORY],
    [repos.callerRoot, repos.callerName],
  ] as const) {
    const found = resolveUses(uses, { root, repository, at: 'step' });
    if (found.kind === 'error') return { error: `Unable to resolve action \`${uses}\`, ${found.message}` };
    if (found.kind !== 'action') continue;
    try {
      return { kind: 'node', action: loadNodeAction(found, root, false) };
    } catch (error) {
      return { error: `Unable to load action \`${uses}\`: ${(error as Error).message}` };
    }
  }
  const standIn = job.run.standIns(uses);
  if (standIn) return { kind: 'stand-in', uses, standIn };
  return { error: `Unable to resolve action \`${uses}\`, repository not found (this runner has no stand-in for it)` };
}

function stepName(planned: PlannedStep, contexts: Contexts): string {
  const { step } = planned;
  if (step.name) return evaluateString(step.name, contexts);
  if ('run' in step) return `Run ${evaluateString(step.run, contexts).split('\n')[0] ?? ''}`;
  return `Run ${planned.target.kind === 'run' ? '' : 'uses' in step ? step.uses.value : ''}`;
}

function envOf(step: Step): TemplateToken | undefined {
  return 'env' in step ? step.env : undefined;
}

function numberOf(token: TemplateToken | undefined, contexts: Contexts): number | undefined {
  if (!token) return undefined;
  const value = Number(evaluateString(token, contexts));
  return Number.isFinite(value) ? value : undefined;
}

function continueOnError(step: Step, contexts: Contexts): boolean {
  const value = step['continue-on-error'];
  if (value === undefined || typeof value === 'boolean') return value ?? false;
  return evaluateString(value, contexts) === 'true';
}

function record(
  job: JobScope,
  id: string,
  outcome: StepStatus,
  conclusion: StepStatus,
  outputs: Record<string, string>,
): void {
  job.steps[id] = { outcome, conclusion, outputs };
}

/** `defaults.run.<key>` of the job, else of the workflow. */
function runDefault(job: JobScope, key: string): TemplateToken | undefined {
  return (
    child(child(child(job.raw, 'defaults'), 'run'), key) ??
    child(child(child(job.scope.workflow.raw, 'defaults'), 'run'), key)
  );
}

/** Runs every step; a step that cannot start (bad expression) fails like the runner fails it. */
export async function runMainSteps(job: JobScope, planned: PlannedStep[]): Promise<void> {
  for (const step of planned) await runStep(job, step);
}

async function runStep(job: JobScope, planned: PlannedStep): Promise<void> {
  const started = Date.now();
  const id = planned.step.id;
  let name = id;
  try {
    if (!condition(planned.step.if?.expression ?? 'success()', jobContexts(job), jobStatus(job))) {
      record(job, id, 'skipped', 'skipped', {});
      job.timings.push({ name: stepName(planned, jobContexts(job)), conclusion: 'skipped', ms: 0 });
      return;
    }
    name = stepName(planned, jobContexts(job));
    job.log.line(`▶ ${name}`);
    const exit = await execute(job, planned, name);
    const allowed = continueOnError(planned.step, jobContexts(job));
    finish(job, id, name, exit, allowed, started);
  } catch (error) {
    // An expression that fails to evaluate fails the step (and so the job), as on GitHub.
    job.log.error((error as Error).message);
    finish(
      job,
      id,
      name,
      { ok: false, code: 1, outputs: {}, state: {}, timedOut: false, failure: (error as Error).message },
      false,
      started,
      true,
    );
  }
}

function finish(
  job: JobScope,
  id: string,
  name: string,
  exit: StepExit & { timeoutMinutes?: number },
  allowed: boolean,
  started: number,
  reported = false,
): void {
  if (!reported && !exit.ok) {
    if (exit.timedOut) job.log.error(`The action '${name}' has timed out after ${exit.timeoutMinutes ?? '?'} minutes.`);
    else if (job.cancelled) job.log.error('The operation was canceled.');
    else job.log.error(exit.failure ?? `Process completed with exit code ${exit.code}.`);
  }
  const outcome: StepStatus = exit.ok ? 'success' : job.cancelled && !exit.timedOut ? 'cancelled' : 'failure';
  const conclusion: StepStatus = outcome === 'failure' && allowed ? 'success' : outcome;
  if (conclusion === 'failure') job.status = 'failure';
  record(job, id, outcome, conclusion, exit.outputs);
  job.timings.push({ name, conclusion, ms: Date.now() - started });
  job.log.line(`${exit.ok ? '✓' : 'X'} ${name} (${seconds(Date.now() - started)})`);
}

async function execute(
  job: JobScope,
  planned: PlannedStep,
  name: string,
): Promise<StepExit & { timeoutMinutes?: number }> {
  const { step, raw, target } = planned;
  const contexts = jobContexts(job);
  const stepEnv = { ...job.env, ...evaluateMapping(envOf(step), contexts) };
  const timeoutMinutes = numberOf(child(raw, 'timeout-minutes'), contexts);
  if ('run' in step) {
    const read = (key: string) => {
      const token = child(raw, key) ?? runDefault(job, key);
      return token ? evaluateString(token, contexts) : undefined;
    };
    const script = evaluateString(step.run, { ...contexts, env: stepEnv });
    const exit = await runScriptStep(job, {
      stepId: step.id,
      script,
      shell: read('shell'),
      workingDirectory: read('working-directory'),
      env: stepEnv,
      timeoutMinutes,
    });
    return { ...exit, timeoutMinutes };
  }
  const given = evaluateMapping(child(raw, 'with'), { ...contexts, env: stepEnv });
  if (target.kind === 'stand-in') return runStandIn(job, step.id, target, given, stepEnv);
  if (target.kind === 'run') throw new Error(`step ${step.id} has neither run: nor uses:`);
  const action = target.kind === 'node' ? target.action : loadLocal(job, target.uses);
  if ('error' in action) return { ok: false, code: 1, outputs: {}, state: {}, timedOut: false, failure: action.error };
  const exit = await runActionMain(job, planned, action, name, given, stepEnv, timeoutMinutes);
  return { ...exit, timeoutMinutes };
}

/** GitHub's message when a local action is not in the workspace. */
function loadLocal(job: JobScope, uses: string): NodeAction | { error: string } {
  const found = resolveUses(uses, { root: job.workspace, repository: '', at: 'step' });
  if (found.kind !== 'action') {
    const dir = join(job.workspace, uses);
    if (!existsSync(join(dir, 'action.yml')) && !existsSync(join(dir, 'action.yaml'))) {
      return {
        error:
          `Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under '${dir}'. ` +
          'Did you forget to run actions/checkout before running your local action?',
      };
    }
    return { error: `Unable to load action \`${uses}\`: ${'message' in found ? found.message : found.kind}` };
  }
  try {
    return loadNodeAction(found, job.workspace, true);
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function actionContexts(job: JobScope, action: NodeAction, stepId: string, env: Record<string, string>): Contexts {
  return jobContexts(job, {
    env,
    github: { action: stepId, action_path: action.dir, action_repository: action.repository, action_ref: action.ref },
  });
}

async function runActionMain(
  job: JobScope,
  planned: PlannedStep,
  action: NodeAction,
  name: string,
  given: Record<string, string>,
  stepEnv: Record<string, string>,
  timeoutMinutes: number | undefined,
): Promise<StepExit> {
  const id = planned.step.id;
  const inputs = inputVariables(action, given, actionContexts(job, action, id, stepEnv));
  if (inputs.unexpected.length > 0) job.log.warning(unexpectedInputsWarning(action, inputs.unexpected));
  const env = { ...stepEnv, ...inputs.env };
  const exit = await runNodeScript(job, action, {
    stepId: id,
    stage: 'main',
    env,
    state: job.state[id] ?? {},
    timeoutMinutes,
  });
  job.state[id] = { ...(job.state[id] ?? {}), ...exit.state };
  if (action.files.post) {
    job.posts.push({
      stepId: id,
      name: `Post ${name}`,
      condition: action.runs.postIf ?? 'always()',
      run: async () => {
        const post = await runNodeScript(job, action, { stepId: id, stage: 'post', env, state: job.state[id] ?? {} });
        if (!post.ok) throw new Error(post.failure ?? `Process completed with exit code ${post.code}.`);
      },
    });
  }
  return exit;
}

async function runStandIn(
  job: JobScope,
  stepId: string,
  target: { uses: string; standIn: StandIn },
  given: Record<string, string>,
  stepEnv: Record<string, string>,
): Promise<StepExit> {
  const files = stepFiles(job);
  const github = job.run.github;
  try {
    const result = await target.standIn(given, {
      workspace: job.workspace,
      runDir: job.run.runDir,
      env: processEnv(job, stepEnv, files, stepId),
      repository: {
        path: job.run.repos.callerRoot,
        sha: String(github.sha),
        ref: String(github.ref),
        fullName: String(github.repository),
      },
      log: (line) => job.log.line(line),
    });
    return {
      ok: result.failure === undefined,
      code: result.failure === undefined ? 0 : 1,
      outputs: result.outputs,
      state: {},
      timedOut: false,
      failure: result.failure,
    };
  } catch (error) {
    return {
      ok: false,
      code: 1,
      outputs: {},
      state: {},
      timedOut: false,
      failure: `${target.uses}: ${(error as Error).message}`,
    };
  }
}

/** Pre steps at "Set up job", in step order, under their pre-if (default always()). */
export async function runPreSteps(job: JobScope, planned: PlannedStep[]): Promise<void> {
  for (const { step, raw, target } of planned) {
    if (target.kind !== 'node' || !target.action.files.pre) continue;
    const action = target.action;
    const started = Date.now();
    const name = `Pre ${'uses' in step ? step.uses.value : step.id}`;
    try {
      if (!condition(action.runs.preIf ?? 'always()', actionContexts(job, action, step.id, job.env), jobStatus(job)))
        continue;
      job.log.line(`▶ ${name}`);
      const stepEnv = { ...job.env, ...evaluateMapping(envOf(step), jobContexts(job)) };
      const given = evaluateMapping(child(raw, 'with'), { ...jobContexts(job), env: stepEnv });
      const inputs = inputVariables(action, given, actionContexts(job, action, step.id, stepEnv));
      const exit = await runNodeScript(job, action, {
        stepId: step.id,
        stage: 'pre',
        env: { ...stepEnv, ...inputs.env },
        state: {},
      });
      job.state[step.id] = exit.state;
      if (!exit.ok) throw new Error(exit.failure ?? `Process completed with exit code ${exit.code}.`);
      job.timings.push({ name, conclusion: 'success', ms: Date.now() - started });
    } catch (error) {
      job.log.error((error as Error).message);
      job.status = 'failure';
      job.timings.push({ name, conclusion: 'failure', ms: Date.now() - started });
    }
  }
}

/** Post steps in reverse order; post-if reads the job's status (not the action's). */
export async function runPostSteps(job: JobScope): Promise<void> {
  for (const post of [...job.posts].reverse()) {
    const started = Date.now();
    try {
      if (!evaluateCondition(job, post.condition)) continue;
      job.log.line(`▶ ${post.name}`);
      await post.run();
      job.timings.push({ name: post.name, conclusion: 'success', ms: Date.now() - started });
    } catch (error) {
      job.log.error((error as Error).message);
      job.status = 'failure';
      job.timings.push({ name: post.name, conclusion: 'failure', ms: Date.now() - started });
    }
  }
}

function evaluateCondition(job: JobScope, expression: string): boolean {
  return condition(expression, jobContexts(job), jobStatus(job));
}
