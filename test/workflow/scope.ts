// What a run and each job hold while they execute, and the contexts built from them.
import type { Job } from '@actions/workflow-parser/model/workflow-template';
import type { MappingToken } from '@actions/workflow-parser/templates/tokens/index';
import type { EnvironmentSettings } from './environments';
import type { EventInfo } from './events';
import type { Contexts, StatusReader } from './expressions';
import type { LoadedWorkflow, Repositories } from './load';
import type { JobLog, RunLog, StepTiming } from './log';
import type { Masker } from './masker';
import type { StandInLookup } from './stand-in-loader';
import type { JobRecord, JobStatus, StepRecord } from './types';

export interface RunScope {
  repos: Repositories;
  event: EventInfo;
  /** The caller's `github` context, without the per-job and per-step fields. */
  github: Record<string, unknown>;
  vars: Record<string, string>;
  environments: EnvironmentSettings;
  runDir: string;
  log: RunLog;
  masker: Masker;
  /** Knows every secret and every job's add-mask values: masks the result. */
  resultMasker: Masker;
  /** How to cancel each job that runs now (a workflow-level concurrency group cancels the run). */
  activeJobs: Set<(message: string) => void>;
  standIns: StandInLookup;
  apiUrl: string;
  serverUrl: string;
  /** Every job (and called workflow's job) by its result key. */
  jobs: Record<string, JobRecord>;
  /** Set when the run was cancelled (cancelled() is then true). */
  cancelled: boolean;
  /** A job failed without continue-on-error. */
  failed: boolean;
  /** Loaded workflows by file, so a workflow called twice is parsed once. */
  workflows: Map<string, LoadedWorkflow>;
  jobCount: number;
}

/** One workflow being run: the caller, or a called workflow inside a caller's job. */
export interface WorkflowScope {
  workflow: LoadedWorkflow;
  /** '' for the caller; `<caller job key>/` inside a called workflow. */
  prefix: string;
  inputs: Record<string, unknown>;
  /** The secrets context of its jobs (GITHUB_TOKEN included), before environment secrets. */
  secrets: Record<string, string>;
  /** Workflow-level env: (a caller's does not reach a called workflow). */
  env: Record<string, string>;
}

/** What a later job sees of a finished one. */
export interface NeedsEntry {
  result: JobStatus;
  outputs: Record<string, string>;
  /** A failure that continue-on-error allows: dependents and the run treat it as success. */
  allowedFailure: boolean;
}

export interface JobScope {
  run: RunScope;
  scope: WorkflowScope;
  id: string;
  /** The key in the result: `id`, `id (matrix values)`, or `<caller>/<id>`. */
  key: string;
  name: string;
  job: Job;
  raw: MappingToken;
  needs: Record<string, { result: JobStatus; outputs: Record<string, string> }>;
  matrix: Record<string, unknown>;
  strategy: Record<string, unknown>;
  secrets: Record<string, string>;
  /** env: of the workflow and the job, then what GITHUB_ENV added. */
  env: Record<string, string>;
  /** Folders GITHUB_PATH added, newest first. */
  path: string[];
  workspace: string;
  temp: string;
  eventPath: string;
  status: 'success' | 'failure';
  cancelled: boolean;
  timedOut: boolean;
  steps: Record<string, StepRecord>;
  timings: StepTiming[];
  log: JobLog;
  masker: Masker;
  /** Cancels the step that runs now (set while a process runs). */
  cancelStep?: () => void;
  /** Post steps of actions that ran, run last in reverse order. */
  posts: PostStep[];
  /** What each action step saved (GITHUB_STATE), by step id. */
  state: Record<string, Record<string, string>>;
}

export interface PostStep {
  stepId: string;
  name: string;
  run: () => Promise<void>;
  condition: string;
}

/** The job's status for a step's `if:` and for post-if (GitHub: the job's status, not the action's). */
export function jobStatus(job: JobScope): StatusReader {
  return {
    success: () => job.status === 'success' && !job.cancelled,
    failure: () => job.status === 'failure',
    cancelled: () => job.cancelled,
  };
}

/** The runner context. */
export function runnerContext(job: JobScope): Record<string, unknown> {
  return {
    os: 'Linux',
    arch: 'X64',
    name: `GitHub Actions ${job.run.jobCount}`,
    environment: 'github-hosted',
    temp: job.temp,
    tool_cache: `${job.run.runDir}/tool-cache`,
    debug: '',
  };
}

/** The `steps` context: only steps with an id of their own, as GitHub shows it. */
function stepsContext(job: JobScope): Record<string, StepRecord> {
  return Object.fromEntries(Object.entries(job.steps).filter(([id]) => !id.startsWith('__')));
}

/** The contexts of an expression inside a job (steps, env and job status as they are now). */
export function jobContexts(
  job: JobScope,
  extra: { env?: Record<string, string>; github?: Record<string, unknown> } = {},
): Contexts {
  return {
    github: { ...job.run.github, job: job.id, workspace: job.workspace, event_path: job.eventPath, ...extra.github },
    env: extra.env ?? job.env,
    vars: job.run.vars,
    secrets: job.secrets,
    inputs: job.scope.inputs,
    needs: job.needs,
    steps: stepsContext(job),
    job: { status: job.cancelled ? 'cancelled' : job.status, container: {}, services: {} },
    runner: runnerContext(job),
    matrix: job.matrix,
    strategy: job.strategy,
  };
}
