import { spawn } from 'node:child_process';
import type { Argv } from './shell';

export interface LocalResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program on the runner itself (kubectl, ansible-playbook): argv, no shell, output streamed line by line. */
export function runLocal(
  argv: Argv,
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; onLine?: (line: string) => void } = {},
): Promise<LocalResult> {
  const [program, ...args] = argv;
  if (!program) return Promise.reject(new Error('empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let pending = '';
    const lines = (chunk: string): void => {
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) options.onLine?.(line);
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      lines(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      lines(chunk);
    });
    const timer = options.timeoutMs
      ? setTimeout(() => {
          child.kill('SIGTERM');
          reject(new Error(`${program} did not finish within ${Math.round((options.timeoutMs ?? 0) / 1000)} s`));
        }, options.timeoutMs)
      : undefined;
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${program} could not be started: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (pending) options.onLine?.(pending);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}
