// The runner's vocabulary: what a run is asked to do, and what it reports.

/** A step's outcome (before continue-on-error) and conclusion (after), as GitHub's steps context has them. */
export type StepStatus = 'success' | 'failure' | 'cancelled' | 'skipped';
/** A job's result, as GitHub's needs context has it. */
export type JobStatus = 'success' | 'failure' | 'cancelled' | 'skipped';
/**
 * The run's conclusion. `skipped`: the trigger did not match, so GitHub would create no run;
 * `startup_failure`: GitHub refused the workflow before any job ran (GitHub's own word for it).
 */
export type RunConclusion = 'success' | 'failure' | 'cancelled' | 'skipped' | 'startup_failure';

export interface StepRecord {
  outcome: StepStatus;
  conclusion: StepStatus;
  outputs: Record<string, string>;
}

export interface JobRecord {
  result: JobStatus;
  outputs: Record<string, string>;
  steps: Record<string, StepRecord>;
}

/** Exactly what `--json` writes. */
export interface RunJson {
  conclusion: RunConclusion;
  jobs: Record<string, JobRecord>;
}

export interface Annotation {
  level: 'error' | 'warning' | 'notice';
  message: string;
  /** `<job>` or `<caller>/<called>` (with the matrix values), where it was raised; absent for the run itself. */
  job?: string;
  title?: string;
  file?: string;
  line?: number;
  col?: number;
  endLine?: number;
  endColumn?: number;
}

export interface RunResult extends RunJson {
  /** GitHub's refusal messages (conclusion startup_failure), or why the trigger did not match (conclusion skipped). */
  errors: string[];
  annotations: Annotation[];
  /** Step summaries (masked) by `<job>/<step id>`, in the order they were written. */
  summaries: Record<string, string>;
  /** The log lines, masked, as they were written to the log sink. */
  log: string[];
}

export type GateAnswer = 'approve' | 'reject' | 'timeout';

export interface RunOptions {
  /** The caller workflow file. */
  workflow: string;
  /** The event's name: push, pull_request, workflow_dispatch, schedule... */
  event: string;
  /** The event payload (an object, or a JSON file's path); default: a plausible one built from the repository. */
  payload?: Record<string, unknown> | string;
  /** The ref the event happened on (refs/heads/x, refs/tags/v1, or a bare branch name). */
  ref?: string;
  inputs?: Record<string, string>;
  secrets?: Record<string, string>;
  /** Secrets of each environment: visible only to jobs that run in it. */
  envSecrets?: Record<string, Record<string, string>>;
  vars?: Record<string, string>;
  /** The reviewer's answer for each gated environment; an environment named here has a gate. */
  environments?: Record<string, GateAnswer>;
  /** The git repository the caller's workflow lives in (default: the one containing `workflow`). */
  repo?: string;
  /** owner/name of that repository (default org/<folder name>, or org/agent-loop-actions for this repository). */
  repository?: string;
  /** What `org/agent-loop-actions` resolves to (default: this repository). */
  actionsRepo?: string;
  /** Where workspaces, runner temp and artifacts go (default: a fresh temp folder). */
  work?: string;
  apiUrl?: string;
  serverUrl?: string;
  /** Cancels the run as GitHub's cancel button does (steps get SIGINT, then SIGTERM 7.5 s later). */
  signal?: AbortSignal;
  /** Where log lines go (default: nowhere; the CLI writes them to stderr or --log). */
  log?: (line: string) => void;
}

/** A mistake in what the run was given (workflow, inputs, secrets): GitHub refuses before any job runs. */
export class WorkflowRefusal extends Error {
  constructor(readonly errors: string[]) {
    super(errors.join('\n'));
    this.name = 'WorkflowRefusal';
  }
}
