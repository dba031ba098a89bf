// The environment and the command files the runner gives each step's process.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobScope } from './scope';

export interface StepFiles {
  GITHUB_OUTPUT: string;
  GITHUB_ENV: string;
  GITHUB_PATH: string;
  GITHUB_STATE: string;
  GITHUB_STEP_SUMMARY: string;
}

/** Fresh, empty command files for one step (the runner makes new ones for every step). */
export function stepFiles(job: JobScope): StepFiles {
  const dir = join(job.temp, '_runner_file_commands');
  mkdirSync(dir, { recursive: true });
  const id = randomUUID();
  const files: StepFiles = {
    GITHUB_OUTPUT: join(dir, `set_output_${id}`),
    GITHUB_ENV: join(dir, `set_env_${id}`),
    GITHUB_PATH: join(dir, `add_path_${id}`),
    GITHUB_STATE: join(dir, `save_state_${id}`),
    GITHUB_STEP_SUMMARY: join(dir, `step_summary_${id}`),
  };
  for (const file of Object.values(files)) writeFileSync(file, '');
  return files;
}

/** What a process inherits from this machine: enough to find programs, nothing of the test's own env. */
function machineEnv(): Record<string, string> {
  const kept: Record<string, string> = {};
  // DOCKER_HOST and NPM_CONFIG_REGISTRY: the runner machine's Docker engine and npm registry (a
  // hosted runner's are the defaults; the tests name the lab's builder engine and a registry with
  // an audit stand-in), as a runner's service environment would carry them.
  for (const name of [
    'HOME',
    'USER',
    'LANG',
    'LC_ALL',
    'TMPDIR',
    'SHELL',
    'TERM',
    'DOCKER_HOST',
    'NPM_CONFIG_REGISTRY',
    'AGENT_LOOP_STAND_IN_NODE24',
  ]) {
    const value = process.env[name];
    if (value !== undefined) kept[name] = value;
  }
  return kept;
}

/**
 * The machine's PATH, less the node_modules/.bin folders that npm and npx put first for the tests
 * themselves: a runner's steps see the machine's tools, not this repository's.
 */
function machinePath(): string[] {
  return (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin')
    .split(':')
    .filter((dir) => dir !== '' && !dir.includes('/node_modules/'));
}

/** The GITHUB_* and RUNNER_* variables of the job (the runner sets them over the user's env). */
export function runnerVariables(job: JobScope, action: string): Record<string, string> {
  const github = job.run.github;
  const text = (key: string) => String(github[key] ?? '');
  return {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_ACTION: action,
    GITHUB_ACTOR: text('actor'),
    GITHUB_ACTOR_ID: '1',
    GITHUB_API_URL: text('api_url'),
    GITHUB_BASE_REF: text('base_ref'),
    GITHUB_EVENT_NAME: text('event_name'),
    GITHUB_EVENT_PATH: job.eventPath,
    GITHUB_GRAPHQL_URL: text('graphql_url'),
    GITHUB_HEAD_REF: text('head_ref'),
    GITHUB_JOB: job.id,
    GITHUB_REF: text('ref'),
    GITHUB_REF_NAME: text('ref_name'),
    GITHUB_REF_PROTECTED: 'false',
    GITHUB_REF_TYPE: text('ref_type'),
    GITHUB_REPOSITORY: text('repository'),
    GITHUB_REPOSITORY_ID: '1',
    GITHUB_REPOSITORY_OWNER: text('repository_owner'),
    GITHUB_RETENTION_DAYS: '90',
    GITHUB_RUN_ATTEMPT: text('run_attempt'),
    GITHUB_RUN_ID: text('run_id'),
    GITHUB_RUN_NUMBER: text('run_number'),
    GITHUB_SERVER_URL: text('server_url'),
    GITHUB_SHA: text('sha'),
    GITHUB_TRIGGERING_ACTOR: text('triggering_actor'),
    GITHUB_WORKFLOW: text('workflow'),
    GITHUB_WORKFLOW_REF: text('workflow_ref'),
    GITHUB_WORKFLOW_SHA: text('workflow_sha'),
    GITHUB_WORKSPACE: job.workspace,
    RUNNER_ARCH: 'X64',
    RUNNER_ENVIRONMENT: 'github-hosted',
    RUNNER_NAME: `GitHub Actions ${job.run.jobCount}`,
    RUNNER_OS: 'Linux',
    RUNNER_TEMP: job.temp,
    RUNNER_TOOL_CACHE: join(job.run.runDir, 'tool-cache'),
  };
}

/** A step process's whole environment: machine, env context of the step, runner variables, files. */
export function processEnv(
  job: JobScope,
  stepEnv: Record<string, string>,
  files: StepFiles,
  action: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  const path = [...job.path, ...machinePath()].join(':');
  return { ...machineEnv(), PATH: path, ...stepEnv, ...runnerVariables(job, action), ...files, ...extra };
}
