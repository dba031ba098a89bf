// The jobs of one workflow in `needs` order, each under its `if:` (default success()) with the
// status functions reading its ancestors, expanded by its matrix, with fail-fast.
import type { WorkflowJob } from '@actions/workflow-parser/model/workflow-template';
import { runCall } from './calls';
import { condition, type StatusReader } from './expressions';
import { runJobLeg } from './jobs';
import { expandStrategy, legName } from './matrix';
import type { NeedsEntry, RunScope, WorkflowScope } from './scope';
import { evaluateString, evaluateToken } from './template';
import type { JobStatus } from './types';

/**
 * Jobs in the order they may start: a job whose needs are all done, the first in the file first.
 * GitHub runs independent jobs at the same time; this runner runs them one at a time in this
 * stable order (the machine has two cores, and a stable order keeps logs and tests repeatable).
 */
export function jobOrder(jobs: WorkflowJob[]): WorkflowJob[] {
  const done = new Set<string>();
  const order: WorkflowJob[] = [];
  while (order.length < jobs.length) {
    const next = jobs.find((job) => !done.has(job.id.value) && (job.needs ?? []).every((need) => done.has(need.value)));
    // The parser refuses cycles and unknown needs; this only guards against a loop.
    if (!next)
      throw new Error(
        `jobs ${jobs
          .filter((job) => !done.has(job.id.value))
          .map((job) => job.id.value)
          .join(', ')} wait on each other`,
      );
    done.add(next.id.value);
    order.push(next);
  }
  return order;
}

function ancestors(job: WorkflowJob, byId: Map<string, WorkflowJob>): Set<string> {
  const found = new Set<string>();
  const visit = (id: string) => {
    for (const need of byId.get(id)?.needs ?? []) {
      if (found.has(need.value)) continue;
      found.add(need.value);
      visit(need.value);
    }
  };
  visit(job.id.value);
  return found;
}

/** success()/failure() of a job read its ancestors' results; cancelled() the run's. */
function jobStatusReader(run: RunScope, above: NeedsEntry[]): StatusReader {
  const effective = (entry: NeedsEntry): JobStatus => (entry.allowedFailure ? 'success' : entry.result);
  return {
    success: () => !run.cancelled && above.every((entry) => effective(entry) === 'success'),
    failure: () => above.some((entry) => effective(entry) === 'failure'),
    cancelled: () => run.cancelled,
  };
}

function combine(legs: NeedsEntry[]): NeedsEntry {
  const failed = legs.filter((leg) => leg.result === 'failure');
  const result: JobStatus =
    failed.length > 0
      ? 'failure'
      : legs.some((leg) => leg.result === 'cancelled')
        ? 'cancelled'
        : legs.every((leg) => leg.result === 'skipped')
          ? 'skipped'
          : 'success';
  // Matrix legs write the same outputs: the last leg that set one wins, as on GitHub.
  const outputs = Object.assign({}, ...legs.map((leg) => leg.outputs)) as Record<string, string>;
  return { result, outputs, allowedFailure: failed.length > 0 && failed.every((leg) => leg.allowedFailure) };
}

export async function runJobs(run: RunScope, scope: WorkflowScope): Promise<Map<string, NeedsEntry>> {
  const jobs = scope.workflow.template.jobs;
  const byId = new Map(jobs.map((job) => [job.id.value, job]));
  const results = new Map<string, NeedsEntry>();
  for (const job of jobOrder(jobs)) {
    const entry = await runJob(run, scope, job, byId, results);
    results.set(job.id.value, entry);
    if (entry.result === 'failure' && !entry.allowedFailure) run.failed = true;
  }
  return results;
}

async function runJob(
  run: RunScope,
  scope: WorkflowScope,
  job: WorkflowJob,
  byId: Map<string, WorkflowJob>,
  results: Map<string, NeedsEntry>,
): Promise<NeedsEntry> {
  const id = job.id.value;
  const key = `${scope.prefix}${id}`;
  const needs = Object.fromEntries((job.needs ?? []).map((need) => [need.value, pick(results.get(need.value))]));
  const above = [...ancestors(job, byId)].map((ancestor) => results.get(ancestor)!).filter(Boolean);
  const contexts = { github: { ...run.github, job: id }, needs, vars: run.vars, inputs: scope.inputs };
  let proceed: boolean;
  try {
    proceed = condition(job.if.expression, contexts, jobStatusReader(run, above));
  } catch (error) {
    run.log.annotate({ level: 'error', message: (error as Error).message, job: key });
    run.jobs[key] = { result: 'failure', outputs: {}, steps: {} };
    return { result: 'failure', outputs: {}, allowedFailure: false };
  }
  if (!proceed) {
    run.log.write(`- Job ${key}: skipped`);
    run.jobs[key] = { result: 'skipped', outputs: {}, steps: {} };
    return { result: 'skipped', outputs: {}, allowedFailure: false };
  }
  const strategy = expandStrategy(
    job.strategy ? (evaluateToken(job.strategy, contexts) as Record<string, unknown>) : undefined,
  );
  const legs: NeedsEntry[] = [];
  const total = strategy.combinations.length;
  for (const [index, matrix] of strategy.combinations.entries()) {
    const named = total > 1 || Object.keys(matrix).length > 0;
    const legKey = named ? `${scope.prefix}${legName(id, matrix)}` : key;
    if (strategy.failFast && legs.some((leg) => leg.result === 'failure' && !leg.allowedFailure)) {
      // fail-fast: the legs that had not started are cancelled.
      run.jobs[legKey] = { result: 'cancelled', outputs: {}, steps: {} };
      legs.push({ result: 'cancelled', outputs: {}, allowedFailure: false });
      continue;
    }
    const strategyContext = {
      'fail-fast': strategy.failFast,
      'job-index': index,
      'job-total': total,
      'max-parallel': strategy.maxParallel || total,
    };
    const legContexts = { ...contexts, matrix, strategy: strategyContext };
    if (job.type === 'reusableWorkflowJob') {
      legs.push(await runCall({ run, scope, job, id, key: legKey, needs, matrix, strategy: strategyContext }, runJobs));
      continue;
    }
    const name = jobName(job, legContexts, id, matrix, named);
    const raw = scope.workflow.jobTokens.get(id)!;
    legs.push(
      await runJobLeg({ run, scope, job, raw, id, key: legKey, name, needs, matrix, strategy: strategyContext }),
    );
  }
  return combine(legs);
}

function pick(entry: NeedsEntry | undefined): { result: JobStatus; outputs: Record<string, string> } {
  return { result: entry?.allowedFailure ? 'success' : (entry?.result ?? 'skipped'), outputs: entry?.outputs ?? {} };
}

/** The job's display name; a matrix leg's gets its values appended unless the name uses them. */
function jobName(
  job: WorkflowJob,
  contexts: Parameters<typeof evaluateString>[1],
  id: string,
  matrix: Record<string, unknown>,
  named: boolean,
): string {
  const name = job.name ? evaluateString(job.name, contexts) : id;
  const usesMatrix = job.name !== undefined && 'expression' in job.name && /matrix/.test(String(job.name.expression));
  return named && !usesMatrix ? legName(name, matrix) : name;
}
