import { randomBytes } from 'node:crypto';
import { ConfigurationError, errorMessage } from './errors';
import { codeBlock, forLog, forMarkdown } from './surfaces';
import { runner } from './runner';
import type { Logger } from './log';

/** What every action's entry point shares: the toolkit logger, run details, cancellation, and error reporting. */

/** Annotations: the runner's notice, warning and error lines; text from outside is data (`forLog`). */
export const annotate = {
  notice: (message: string): void => runner.notice(forLog(message)),
  warning: (message: string): void => runner.warning(forLog(message)),
  error: (message: string): void => runner.error(forLog(message)),
};

export const logger: Logger = {
  info: (message) => runner.info(forLog(message)),
  warn: (message) => runner.warning(forLog(message)),
  group: (title, body) => runner.group(forLog(title), body),
};

/** Who is acting, for locks, state history and the audit log. */
export interface RunInfo {
  /** The run and its attempt (`<run id>-<attempt>`): every job of the run shares it. */
  runId: string;
  actor: string;
  runUrl: string;
  /** The job (GITHUB_JOB), shown with its locks and pending switches; every leg of a matrix shares it. */
  job?: string;
  /**
   * A token the action's main step made and kept in the step's state: what tells this job's locks
   * and pending switches from another job's of the same run. Its post step touches only those.
   */
  jobToken?: string;
}

export function runInfo(env: NodeJS.ProcessEnv = process.env): RunInfo {
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
  const runId = env.GITHUB_RUN_ID ?? 'local';
  const attempt = env.GITHUB_RUN_ATTEMPT ? `-${env.GITHUB_RUN_ATTEMPT}` : '';
  // A job id as GitHub allows it (a letter or _, then letters, digits, - and _).
  const job = env.GITHUB_JOB && /^[A-Za-z_][A-Za-z0-9_-]{0,99}$/.test(env.GITHUB_JOB) ? env.GITHUB_JOB : '';
  const token = jobToken();
  return {
    runId: `${runId}${attempt}`,
    actor: env.GITHUB_ACTOR ?? 'unknown',
    runUrl: env.GITHUB_REPOSITORY ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${runId}` : '',
    ...(job ? { job } : {}),
    ...(token ? { jobToken: token } : {}),
  };
}

/**
 * Aborted when the runner cancels the step: it sends SIGINT, then SIGTERM 7.5 s later, then
 * kills. The phase in progress starts nothing new, puts back traffic it moved, records the run as
 * cancelled and releases its locks; a hard kill is cleaned up by the post step.
 */
export const cancellation = new AbortController();

let handlersInstalled = false;
function onCancelSignals(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const handle = (signal: NodeJS.Signals) => {
    if (!cancellation.signal.aborted) {
      runner.warning(
        `${signal} received: the run is cancelled; putting back any traffic this run moved and releasing its locks`,
      );
      cancellation.abort();
    } else {
      runner.info(`${signal} received again: still cleaning up`);
    }
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
}

/** State keys between the main step and the post step (`runs.post`). */
export const State = { IsPost: 'isPost', MainDone: 'mainDone', JobToken: 'jobToken' } as const;

let mainJobToken = '';

/**
 * This job's token: made by the main step and kept in its state, read back by the post step.
 * Every job of a run shares the run id (and every leg of a matrix the job id), so the locks and
 * pending switches a post step may clean up are those carrying this token. Empty outside `entry`.
 */
function jobToken(): string {
  return runner.getState(State.JobToken) || mainJobToken;
}

/**
 * The bundle's entry: the main step, or (when the runner runs `runs.post`, with the state the main
 * step saved) the post step, which cleans up after a main step that did not finish.
 */
export async function entry(main: () => Promise<void>, post?: () => Promise<void>): Promise<void> {
  if (runner.getState(State.IsPost) === 'true') {
    if (!post || runner.getState(State.MainDone) === 'true') return;
    await runAction(post);
    return;
  }
  runner.saveState(State.IsPost, 'true');
  // Saved before anything is locked: a main step killed at any later point leaves it to its post step.
  mainJobToken = randomBytes(16).toString('hex');
  runner.saveState(State.JobToken, mainJobToken);
  await main();
  runner.saveState(State.MainDone, 'true');
  // A cancelled run has put things back and said so; what it abandoned (a wait's timer, a remote
  // command) must not keep the process alive until the runner kills it.
  if (cancellation.signal.aborted) process.exit(1);
}

/**
 * Runs an action's body; a mistake the user can fix is reported as such, anything else as a bug
 * or an outage, with its stack in the debug log.
 */
export async function runAction(body: () => Promise<void>): Promise<void> {
  onCancelSignals();
  try {
    await body();
    if (cancellation.signal.aborted) {
      runner.setFailed('the run was cancelled; see the log for what was put back');
      await failureSummary(
        'the run was cancelled',
        'The run was cancelled: what it had moved was put back (the log says what). A plain re-run starts again.',
      );
    }
  } catch (error) {
    if (error instanceof ConfigurationError || (error instanceof Error && error.name === 'ConfigurationError')) {
      runner.setFailed(forLog(error.message));
      await failureSummary(
        error.message,
        'Do what the message says (it names the input or the holder in the way), then re-run.',
      );
    } else {
      if (error instanceof Error && error.stack) runner.debug(forLog(error.stack));
      runner.setFailed(forLog(errorMessage(error)));
      // An error that knows a plain re-run cannot help (a torn state file) says what will.
      const remedy: unknown = error instanceof Error ? (error as { remedy?: unknown }).remedy : undefined;
      await failureSummary(
        errorMessage(error),
        typeof remedy === 'string'
          ? remedy
          : 'The log has every step this run took; a plain re-run converges from wherever it stopped.',
      );
    }
  }
}

let summaryWritten = false;

/**
 * A run that ends without having written its summary (bad inputs, a lock in the way, an error
 * before the phase could report) still leaves one: what happened and what to do. Never throws.
 */
async function failureSummary(message: string, next: string): Promise<void> {
  if (summaryWritten || !process.env.GITHUB_STEP_SUMMARY) return;
  const app = runner.getInput('app');
  // The input may be what made the step stop: shown as text, never as Markdown.
  const title = `### ❌ ${app ? `${forMarkdown(app)}: ` : ''}the step stopped`;
  try {
    await writeSummary([title, '', codeBlock(message), '', `- **Next:** ${next}`, ''].join('\n'));
  } catch {
    // The summary is for people; the step's failure has been reported already.
  }
}

export function setOutputs(outputs: Record<string, string | number | null | undefined>): void {
  for (const [name, value] of Object.entries(outputs))
    runner.setOutput(name, value === null || value === undefined ? '' : String(value));
}

export async function writeSummary(markdown: string): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  summaryWritten = true;
  await runner.appendSummary(markdown);
}
