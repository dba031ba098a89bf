// One process of a step (a run: script, or an action's pre/main/post): its output read for
// workflow commands, its command files applied, and the runner's timeout and cancel.
import { CommandReader, readCommandFile, readPathFile, readText } from './commands';
import { startProcess } from './process';
import type { JobScope } from './scope';
import type { StepFiles } from './step-env';

export interface StepExit {
  /** Exit code 0 and no command that failed the step. */
  ok: boolean;
  code: number;
  outputs: Record<string, string>;
  state: Record<string, string>;
  timedOut: boolean;
  /** Why the step failed, when the runner says more than the exit code. */
  failure?: string;
}

export interface ProcessRequest {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  files: StepFiles;
  /** The step's id: GITHUB_STEP_SUMMARY is kept under `<job>/<id>`. */
  stepId: string;
  timeoutMinutes?: number;
}

/** GitHub refuses a step summary over 1 MiB. */
const SUMMARY_LIMIT = 1024 * 1024;

export async function runProcess(job: JobScope, request: ProcessRequest): Promise<StepExit> {
  const commandOutputs: Record<string, string> = {};
  const commandState: Record<string, string> = {};
  let failure: string | undefined;
  const reader = new CommandReader({
    mask: (value) => job.masker.add(value),
    annotate: (annotation) => job.log.annotate(annotation),
    output: (name, value) => (commandOutputs[name] = value),
    state: (name, value) => (commandState[name] = value),
    fail: (message) => (failure = message),
  });
  const running = startProcess({
    command: request.command,
    args: request.args,
    cwd: request.cwd,
    env: request.env,
    onLine: (line) => {
      const shown = reader.line(line);
      if (shown !== undefined) job.log.line(shown);
    },
  });
  let timedOut = false;
  job.cancelStep = () => running.cancel();
  const timer =
    request.timeoutMinutes !== undefined
      ? setTimeout(() => {
          timedOut = true;
          running.cancel();
        }, request.timeoutMinutes * 60_000)
      : undefined;
  const code = await running.exited;
  if (timer) clearTimeout(timer);
  job.cancelStep = undefined;
  const files = applyFiles(job, request);
  return {
    ok: code === 0 && failure === undefined && files.failure === undefined,
    code,
    outputs: { ...commandOutputs, ...files.outputs },
    state: { ...commandState, ...files.state },
    timedOut,
    failure: failure ?? files.failure,
  };
}

/** Reads what the step wrote to its command files: outputs and state are returned, env and path applied to the job. */
function applyFiles(
  job: JobScope,
  request: ProcessRequest,
): { outputs: Record<string, string>; state: Record<string, string>; failure?: string } {
  const { files } = request;
  const summary = readText(files.GITHUB_STEP_SUMMARY);
  if (Buffer.byteLength(summary) > SUMMARY_LIMIT) {
    job.log.error(
      `$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of 1024k, got ${Math.ceil(Buffer.byteLength(summary) / 1024)}k.`,
    );
  } else if (summary !== '') job.log.summary(request.stepId, summary);
  try {
    Object.assign(job.env, readCommandFile(files.GITHUB_ENV));
    job.path.unshift(...readPathFile(files.GITHUB_PATH).reverse());
    return { outputs: readCommandFile(files.GITHUB_OUTPUT), state: readCommandFile(files.GITHUB_STATE) };
  } catch (error) {
    // The runner fails the step on a malformed command file.
    return { outputs: {}, state: {}, failure: (error as Error).message };
  }
}
