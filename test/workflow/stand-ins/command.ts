// Running a program for a stand-in, in the step's environment, with its output collected.
import { spawn } from 'node:child_process';
import type { StandInContext } from './index';
import { StandInError } from './inputs';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  env: Record<string, string>;
  cwd?: string;
  /** Written to stdin, then stdin is closed (a password goes this way, never in argv). */
  input?: string;
  timeoutMs?: number;
}

/** The step's environment for a child process; PATH and HOME from this process when the runner gave none. */
export function stepEnv(ctx: StandInContext, extra: Record<string, string> = {}): Record<string, string> {
  const fallback: Record<string, string> = {};
  for (const name of ['PATH', 'HOME'] as const) {
    const value = process.env[name];
    if (value !== undefined && ctx.env[name] === undefined) fallback[name] = value;
  }
  return { ...fallback, ...ctx.env, ...extra };
}

/** Runs `argv` to its end and returns its exit code and output; rejects only when it cannot start or times out. */
export function runCommand(argv: readonly string[], opts: CommandOptions): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('runCommand: empty argv');
  return new Promise((resolve, reject) => {
    // The child looks its program up on the PATH of `env` (node does that when env is given).
    const child = spawn(file, args, { env: opts.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new StandInError(`${file} did not finish within ${(opts.timeoutMs ?? 300_000) / 1000} s`));
    }, opts.timeoutMs ?? 300_000);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error.code === 'ENOENT' ? new StandInError(`${file} was not found on the step's PATH`) : error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs `argv` and throws a StandInError naming `what` with the tail of its output when it exits non-zero. */
export async function mustRun(argv: readonly string[], what: string, opts: CommandOptions): Promise<CommandResult> {
  const result = await runCommand(argv, opts);
  if (result.code !== 0) {
    const tail = `${result.stderr}${result.stdout}`.trim().split('\n').slice(-15).join('\n');
    throw new StandInError(`${what} failed (exit ${result.code}): ${tail}`);
  }
  return result;
}
