// runWorkflow: a caller workflow run for one event, the way GitHub runs it.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { isString } from '@actions/workflow-parser';
import { REPO_ROOT } from '../lab/run-action';
import { literalInputErrors } from './calls';
import { cancelMessage, enterGroup, type Lease } from './concurrency';
import { buildEvent, type EventInfo } from './events';
import { runJobs } from './graph';
import {
  ACTIONS_REPOSITORY,
  displayName,
  inputDefinitions,
  loadWorkflow,
  type LoadedWorkflow,
  type Repositories,
} from './load';
import { RunLog } from './log';
import { Masker } from './masker';
import type { RunScope } from './scope';
import { standIns } from './stand-in-loader';
import { child, evaluateMapping, evaluateString } from './template';
import { triggerMismatch } from './triggers';
import { WorkflowRefusal, type RunConclusion, type RunOptions, type RunResult } from './types';

interface Settings {
  file: string;
  repos: Repositories;
  runDir: string;
  apiUrl: string;
  serverUrl: string;
  secrets: Record<string, string>;
}

function gitRoot(path: string): string {
  try {
    return execFileSync('git', ['-C', path, 'rev-parse', '--show-toplevel'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    throw new WorkflowRefusal([`${path} is not inside a git repository: give --repo`]);
  }
}

function settingsOf(options: RunOptions, runId: number): Settings {
  const file = resolve(options.workflow);
  const callerRoot = resolve(options.repo ?? gitRoot(dirname(file)));
  const actionsRoot = resolve(options.actionsRepo ?? REPO_ROOT);
  const callerName =
    options.repository ?? (callerRoot === actionsRoot ? ACTIONS_REPOSITORY : `org/${basename(callerRoot)}`);
  const work = resolve(options.work ?? mkdtempSync(join(tmpdir(), 'workflow-run-')));
  const runDir = join(work, `run-${runId}`);
  mkdirSync(runDir, { recursive: true });
  // A fake token unless one is given: actions that call the API get one, as on GitHub.
  const token = options.secrets?.GITHUB_TOKEN ?? `ghs_${randomBytes(18).toString('hex')}`;
  return {
    file,
    repos: { callerRoot, callerName, actionsRoot },
    runDir,
    apiUrl: options.apiUrl ?? 'https://api.github.com',
    serverUrl: options.serverUrl ?? 'https://github.com',
    secrets: { ...options.secrets, GITHUB_TOKEN: token },
  };
}

function registerSecrets(masker: Masker, options: RunOptions, settings: Settings): void {
  for (const value of Object.values(settings.secrets)) masker.add(value);
  for (const secrets of Object.values(options.envSecrets ?? {}))
    for (const value of Object.values(secrets)) masker.add(value);
}

/** workflow_dispatch inputs, typed as the `inputs` context has them; refuses what GitHub's API refuses. */
function dispatchInputs(
  caller: LoadedWorkflow,
  event: EventInfo,
  given: Record<string, string>,
): Record<string, unknown> {
  if (event.name !== 'workflow_dispatch') return {};
  const defined = inputDefinitions(caller, 'workflow_dispatch');
  const errors: string[] = [];
  const unknown = Object.keys(given).filter((name) => !defined.has(name.toLowerCase()));
  if (unknown.length > 0) errors.push(`Unexpected inputs provided: ${JSON.stringify(unknown)}`);
  const inputs: Record<string, unknown> = {};
  for (const definition of defined.values()) {
    const { name } = definition;
    const raw = given[name] ?? (definition.default === undefined ? undefined : evaluateString(definition.default, {}));
    if (raw === undefined) {
      if (definition.required) errors.push(`Required input '${name}' not provided`);
      inputs[name] = definition.type === 'boolean' ? false : '';
      continue;
    }
    if (definition.type === 'boolean' && raw !== 'true' && raw !== 'false')
      errors.push(`Provided value '${raw}' for input '${name}' is not a boolean (true or false)`);
    if (definition.type === 'number' && !Number.isFinite(Number(raw)))
      errors.push(`Provided value '${raw}' for input '${name}' is not a number`);
    if (definition.type === 'choice' && !definition.options.includes(raw))
      errors.push(`Provided value '${raw}' for input '${name}' not in the list of allowed values`);
    inputs[name] = definition.type === 'boolean' ? raw === 'true' : definition.type === 'number' ? Number(raw) : raw;
  }
  if (errors.length > 0) throw new WorkflowRefusal(errors);
  // github.event.inputs holds the strings; the inputs context holds typed values.
  event.payload.inputs = Object.fromEntries(Object.entries(inputs).map(([name, value]) => [name, String(value)]));
  return inputs;
}

function githubContext(
  caller: LoadedWorkflow,
  event: EventInfo,
  settings: Settings,
  runId: number,
): Record<string, unknown> {
  const refName = event.ref.replace(/^refs\/(heads|tags)\//, '');
  const repository = settings.repos.callerName;
  const sender = (event.payload.sender ?? {}) as { login?: string };
  const name = child(caller.raw, 'name');
  return {
    event: event.payload,
    event_name: event.name,
    ref: event.ref,
    ref_name: refName,
    ref_type: event.ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    ref_protected: false,
    sha: event.sha,
    repository,
    repository_owner: repository.split('/')[0],
    repository_id: '1',
    repository_owner_id: '1',
    run_id: String(runId),
    run_number: '1',
    run_attempt: '1',
    retention_days: '90',
    workflow: name && isString(name) ? name.value : caller.name,
    workflow_ref: `${repository}/${caller.name}@${event.ref}`,
    workflow_sha: event.sha,
    actor: sender.login ?? 'octocat',
    actor_id: '1',
    triggering_actor: sender.login ?? 'octocat',
    server_url: settings.serverUrl,
    api_url: settings.apiUrl,
    graphql_url: `${settings.apiUrl}/graphql`,
    head_ref: event.headRef,
    base_ref: event.baseRef,
    token: settings.secrets.GITHUB_TOKEN,
    secret_source: 'Actions',
    action_path: '',
  };
}

function conclusionOf(run: RunScope): RunConclusion {
  if (run.failed) return 'failure';
  const results = Object.values(run.jobs).map((job) => job.result);
  return run.cancelled || results.includes('cancelled') ? 'cancelled' : 'success';
}

/** The workflow-level concurrency group: a newer run with cancel-in-progress cancels this whole run. */
async function enterWorkflowGroup(
  run: RunScope,
  caller: LoadedWorkflow,
  inputs: Record<string, unknown>,
): Promise<Lease | 'cancelled' | undefined> {
  const token = caller.template.concurrency;
  if (!token) return undefined;
  const contexts = { github: run.github, inputs, vars: run.vars };
  const group = child(token, 'group')
    ? evaluateString(child(token, 'group')!, contexts)
    : evaluateString(token, contexts);
  const cancelToken = child(token, 'cancel-in-progress');
  const cancelInProgress = cancelToken ? evaluateString(cancelToken, contexts) === 'true' : false;
  return enterGroup(group, cancelInProgress, () => {
    run.cancelled = true;
    for (const cancel of run.activeJobs) cancel(cancelMessage(group));
  });
}

function maskResult<T>(value: T, masker: Masker): T {
  return JSON.parse(masker.mask(JSON.stringify(value))) as T;
}

export async function runWorkflow(options: RunOptions): Promise<RunResult> {
  const runId = randomInt(1_000_000_000, 9_999_999_999);
  const masker = new Masker();
  const log = new RunLog(masker, options.log);
  const finish = (conclusion: RunConclusion, extra: Partial<RunResult> = {}, resultMasker = masker): RunResult => {
    log.finish(conclusion);
    const jobs = maskResult(extra.jobs ?? {}, resultMasker);
    return {
      conclusion,
      jobs,
      errors: extra.errors ?? [],
      annotations: log.annotations,
      summaries: log.summaries,
      log: log.lines,
    };
  };
  try {
    const settings = settingsOf(options, runId);
    registerSecrets(masker, options, settings);
    const caller = await loadWorkflow(
      settings.file,
      displayName(settings.file, settings.repos.callerRoot),
      settings.repos.callerRoot,
      settings.repos,
    );
    const event = buildEvent({
      name: options.event,
      repo: settings.repos.callerRoot,
      repository: settings.repos.callerName,
      serverUrl: settings.serverUrl,
      payload: options.payload,
      ref: options.ref,
      inputs: options.inputs ?? {},
      workflowPath: caller.name,
    });
    const mismatch = triggerMismatch(caller.template.events, event.facts);
    if (mismatch) {
      log.write(`The workflow does not run for this ${event.name} event: ${mismatch}`);
      return finish('skipped', { errors: [mismatch] });
    }
    const inputs = dispatchInputs(caller, event, options.inputs ?? {});
    const run: RunScope = {
      repos: settings.repos,
      event,
      github: githubContext(caller, event, settings, runId),
      vars: { ...options.vars },
      environments: { secrets: options.envSecrets ?? {}, answers: options.environments ?? {} },
      runDir: settings.runDir,
      log,
      masker,
      resultMasker: masker.child(),
      activeJobs: new Set(),
      standIns: await standIns(),
      apiUrl: settings.apiUrl,
      serverUrl: settings.serverUrl,
      jobs: {},
      cancelled: false,
      failed: false,
      workflows: new Map([[settings.file, caller]]),
      jobCount: 0,
    };
    options.signal?.addEventListener('abort', () => {
      run.cancelled = true;
      for (const cancel of run.activeJobs) cancel('The run was canceled.');
    });
    const typeErrors = await literalInputErrors(run, caller);
    if (typeErrors.length > 0) throw new WorkflowRefusal(typeErrors);
    const secrets = { ...settings.secrets };
    const env = evaluateMapping(caller.template.env, { github: run.github, inputs, vars: run.vars, secrets });
    log.write(
      `Run ${String(run.github.workflow)} for ${event.name} on ${event.ref} (${event.sha.slice(0, 7)}) in ${settings.runDir}`,
    );
    const lease = await enterWorkflowGroup(run, caller, inputs);
    if (lease === 'cancelled') return finish('cancelled', {}, run.resultMasker);
    try {
      await runJobs(run, { workflow: caller, prefix: '', inputs, secrets, env });
    } finally {
      lease?.release();
    }
    return finish(conclusionOf(run), { jobs: run.jobs }, run.resultMasker);
  } catch (error) {
    if (!(error instanceof WorkflowRefusal)) throw error;
    for (const message of error.errors) {
      log.annotate({ level: 'error', message });
      log.write(`##[error]${message}`);
    }
    return finish('startup_failure', { errors: error.errors });
  }
}
