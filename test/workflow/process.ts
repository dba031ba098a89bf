// Starting a step's process in its own process group, and stopping it the way the runner does:
// SIGINT to the group, SIGTERM 7.5 s later, then SIGKILL.
import { spawn } from 'node:child_process';

export interface ProcessSpec {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Each line the process prints, stdout and stderr alike (the runner reads commands on both). */
  onLine(line: string): void;
}

export interface RunningProcess {
  /** Resolves with the exit code (128 + signal number when killed) once the output is read. */
  exited: Promise<number>;
  /** The runner's cancel: SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after that. */
  cancel(): void;
}

export const SIGTERM_AFTER_MS = 7500;
export const SIGKILL_AFTER_MS = 2500;

/** Process groups still running: killed if this process exits first, so no step outlives the runner. */
const live = new Set<number>();
process.on('exit', () => {
  for (const pid of live) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

function lineReader(onLine: (line: string) => void): { push(chunk: string): void; flush(): void } {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine(line.replace(/\r$/, ''));
    },
    flush() {
      if (pending !== '') onLine(pending);
      pending = '';
    },
  };
}

export function startProcess(spec: ProcessSpec): RunningProcess {
  // detached: its own process group, so a cancel reaches the script's children too.
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = lineReader(spec.onLine);
  const err = lineReader(spec.onLine);
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => err.push(chunk));
  const timers: NodeJS.Timeout[] = [];
  if (child.pid !== undefined) live.add(child.pid);
  const exited = new Promise<number>((resolve) => {
    child.on('error', (error) => {
      spec.onLine(`##[error]${error.message}`);
      resolve(127);
    });
    child.on('close', (code, signal) => {
      if (child.pid !== undefined) live.delete(child.pid);
      timers.forEach(clearTimeout);
      out.flush();
      err.flush();
      resolve(code ?? 128 + (SIGNAL_NUMBERS[signal ?? ''] ?? 0));
    });
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  return {
    exited,
    cancel() {
      if (timers.length > 0 || child.exitCode !== null) return;
      signalGroup('SIGINT');
      timers.push(setTimeout(() => signalGroup('SIGTERM'), SIGTERM_AFTER_MS));
      timers.push(setTimeout(() => signalGroup('SIGKILL'), SIGTERM_AFTER_MS + SIGKILL_AFTER_MS));
    },
  };
}
