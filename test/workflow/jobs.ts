// One job (one matrix leg) on a fresh runner: its environment's gate and secrets, its
// concurrency group, workspace and RUNNER_TEMP, env, timeout, steps, and outputs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Job } from '@actions/workflow-parser/model/workflow-template';
import type { MappingToken, TemplateToken } from '@actions/workflow-parser/templates/tokens/index';
import { isString } from '@actions/workflow-parser';
import { cancelMessage, enterGroup, type Lease } from './concurrency';
import { environmentSecrets, gateRefusal } from './environments';
import { JobLog } from './log';
import { jobContexts, runnerContext, type JobScope, type NeedsEntry, type RunScope, type WorkflowScope } from './scope';
import { planSteps, runMainSteps, runPostSteps, runPreSteps } from './steps';
import { child, evaluateMapping, evaluateString, evaluateToken } from './template';
import type { JobStatus } from './types';

export interface LegRequest {
  run: RunScope;
  scope: WorkflowScope;
  job: Job;
  raw: MappingToken;
  id: string;
  key: string;
  name: string;
  needs: Record<string, { result: JobStatus; outputs: Record<string, string> }>;
  matrix: Record<string, unknown>;
  strategy: Record<string, unknown>;
}

const DEFAULT_TIMEOUT_MINUTES = 360;

function safe(key: string): string {
  return key.replace(/[^A-Za-z0-9._-]+/g, '_');
}

function newJob(request: LegRequest): JobScope {
  const { run, key } = request;
  const dir = join(run.runDir, 'jobs', `${run.jobCount}-${safe(key)}`);
  const workspace = join(dir, 'workspace');
  const temp = join(dir, 'temp');
  mkdirSync(workspace, { recursive: true });
  mkdirSync(join(temp, '_github_workflow'), { recursive: true });
  const eventPath = join(temp, '_github_workflow', 'event.json');
  writeFileSync(eventPath, JSON.stringify(run.event.payload, null, 2));
  const masker = run.masker.child(run.resultMasker);
  return {
    run,
    scope: request.scope,
    id: request.id,
    key,
    name: request.name,
    job: request.job,
    raw: request.raw,
    needs: request.needs,
    matrix: request.matrix,
    strategy: request.strategy,
    secrets: { ...request.scope.secrets },
    env: { ...request.scope.env },
    path: [],
    workspace,
    temp,
    eventPath,
    status: 'success',
    cancelled: false,
    timedOut: false,
    steps: {},
    timings: [],
    log: new JobLog(run.log, key, masker),
    masker,
    posts: [],
    state: {},
  };
}

/** `environment:` as a name and a url token. */
function environmentOf(job: JobScope): { name?: string; url?: TemplateToken } {
  const token = job.job.environment;
  if (!token) return {};
  if (isString(token) || !child(token, 'name')) return { name: evaluateString(token, jobContexts(job)) || undefined };
  return { name: evaluateString(child(token, 'name')!, jobContexts(job)) || undefined, url: child(token, 'url') };
}

function cancelJob(job: JobScope, message: string): void {
  if (job.cancelled) return;
  job.cancelled = true;
  job.log.error(message);
  job.cancelStep?.();
}

async function enterConcurrency(job: JobScope): Promise<Lease | 'cancelled' | undefined> {
  const token = job.job.concurrency;
  if (!token) return undefined;
  const contexts = jobContexts(job);
  const group =
    isString(token) || !child(token, 'group')
      ? evaluateString(token, contexts)
      : evaluateString(child(token, 'group')!, contexts);
  const cancelToken = child(token, 'cancel-in-progress');
  const cancelInProgress = cancelToken ? evaluateString(cancelToken, contexts) === 'true' : false;
  return enterGroup(group, cancelInProgress, () => cancelJob(job, cancelMessage(group)));
}

function startTimeout(job: JobScope): NodeJS.Timeout {
  const token = child(job.raw, 'timeout-minutes');
  const minutes = token ? Number(evaluateString(token, jobContexts(job))) : DEFAULT_TIMEOUT_MINUTES;
  return setTimeout(() => {
    job.timedOut = true;
    cancelJob(
      job,
      `The job running on runner ${String(runnerContext(job).name)} has exceeded the maximum execution time of ${minutes} minutes.`,
    );
  }, minutes * 60_000);
}

/** Job outputs; one that holds a masked value is dropped, with the runner's warning. */
function jobOutputs(job: JobScope): Record<string, string> {
  const outputs: Record<string, string> = {};
  for (const [name, value] of Object.entries(evaluateMapping(job.job.outputs, jobContexts(job)))) {
    if (job.masker.reveals(value)) job.log.warning(`Skip output '${name}' since it may contain secret.`);
    else outputs[name] = value;
  }
  return outputs;
}

/** continue-on-error of the job (may be an expression of the matrix). */
export function jobContinueOnError(raw: MappingToken, contexts: ReturnType<typeof jobContexts>): boolean {
  const token = child(raw, 'continue-on-error');
  return token ? evaluateToken(token, contexts) === true || evaluateString(token, contexts) === 'true' : false;
}

export async function runJobLeg(request: LegRequest): Promise<NeedsEntry> {
  const { run } = request;
  run.jobCount++;
  const job = newJob(request);
  const started = Date.now();
  run.log.write(`▶ Job ${job.name === job.key ? job.key : `${job.name} (${job.key})`}`);
  let lease: Lease | 'cancelled' | undefined;
  let timer: NodeJS.Timeout | undefined;
  let outputs: Record<string, string> = {};
  let allowed = false;
  const cancel = (message: string) => cancelJob(job, message);
  run.activeJobs.add(cancel);
  try {
    allowed = jobContinueOnError(job.raw, jobContexts(job));
    const environment = environmentOf(job);
    if (environment.name) job.log.line(`Environment: ${environment.name}`);
    const refusal = environment.name ? gateRefusal(environment.name, run.environments) : undefined;
    if (refusal) throw new Error(refusal);
    Object.assign(job.secrets, environmentSecrets(environment.name, run.environments));
    lease = await enterConcurrency(job);
    if (lease === 'cancelled') job.cancelled = true;
    else {
      job.env = { ...job.env, ...evaluateMapping(job.job.env, jobContexts(job)) };
      timer = startTimeout(job);
      await runSteps(job);
      outputs = jobOutputs(job);
      if (environment.url) job.log.line(`Environment url: ${evaluateString(environment.url, jobContexts(job))}`);
    }
  } catch (error) {
    job.log.error((error as Error).message);
    job.status = 'failure';
  } finally {
    if (timer) clearTimeout(timer);
    if (lease && lease !== 'cancelled') lease.release();
    run.activeJobs.delete(cancel);
  }
  const result: JobStatus = job.timedOut ? 'failure' : job.cancelled ? 'cancelled' : job.status;
  run.jobs[job.key] = { result, outputs, steps: job.steps };
  run.log.jobDone({ key: job.key, name: job.name, result, ms: Date.now() - started, steps: job.timings });
  run.log.write(`${result === 'success' ? '✓' : 'X'} Job ${job.key}: ${result}`);
  return { result, outputs, allowedFailure: result === 'failure' && allowed };
}

async function runSteps(job: JobScope): Promise<void> {
  const planned = planSteps(job);
  if ('error' in planned) throw new Error(planned.error);
  await runPreSteps(job, planned);
  await runMainSteps(job, planned);
  await runPostSteps(job);
}
