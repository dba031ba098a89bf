// npm run workflow -- run <caller.yml> --event <name> [--payload <file>] [--ref <ref>] [--input k=v]
//   [--secret k=v] [--env-secret <env>:k=v] [--var k=v] [--environment <env>=approve|reject|timeout]
//   [--repo <path>] [--repository owner/name] [--actions-repo <path>] [--work <dir>] [--api-url <url>]
//   [--server-url <url>] [--log <file>] --json <file>
// Exit code: 0 the run concluded success (or did not run: its trigger did not match), 1 it did
// not, 2 it was refused before any job ran (or the command line is wrong).
import { appendFileSync, writeFileSync } from 'node:fs';
import { runWorkflow } from './run';
import type { GateAnswer, RunOptions, RunResult } from './types';

const USAGE =
  'usage: npm run workflow -- run <caller.yml> --event <name> [--payload <file>] [--ref <ref>] [--input k=v] [--secret k=v] ' +
  '[--env-secret <env>:k=v] [--var k=v] [--environment <env>=approve|reject|timeout] [--repo <path>] [--repository owner/name] ' +
  '[--actions-repo <path>] [--work <dir>] [--api-url <url>] [--server-url <url>] [--log <file>] --json <file>';

class UsageError extends Error {}

interface Command {
  options: RunOptions;
  json?: string;
  logFile?: string;
}

function pair(value: string, flag: string): [string, string] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new UsageError(`${flag} expects k=v, got '${value}'`);
  return [value.slice(0, eq), value.slice(eq + 1)];
}

function envSecret(value: string, into: Record<string, Record<string, string>>): void {
  const colon = value.indexOf(':');
  if (colon <= 0) throw new UsageError(`--env-secret expects <env>:k=v, got '${value}'`);
  const [name, secret] = pair(value.slice(colon + 1), '--env-secret');
  (into[value.slice(0, colon)] ??= {})[name] = secret;
}

function gate(value: string, into: Record<string, GateAnswer>): void {
  const [name, answer] = pair(value, '--environment');
  if (answer !== 'approve' && answer !== 'reject' && answer !== 'timeout')
    throw new UsageError(`--environment ${name}= expects approve, reject or timeout, got '${answer}'`);
  into[name] = answer;
}

export function parseCommandLine(argv: string[]): Command {
  const [verb, workflow, ...rest] = argv;
  if (verb !== 'run' || !workflow) throw new UsageError(USAGE);
  const inputs: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  const vars: Record<string, string> = {};
  const envSecrets: Record<string, Record<string, string>> = {};
  const environments: Record<string, GateAnswer> = {};
  const command: Command = { options: { workflow, event: '', inputs, secrets, vars, envSecrets, environments } };
  const { options } = command;
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i]!;
    const value = rest[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value\n${USAGE}`);
    const set: Record<string, () => void> = {
      '--event': () => (options.event = value),
      '--payload': () => (options.payload = value),
      '--ref': () => (options.ref = value),
      '--input': () => Object.assign(inputs, Object.fromEntries([pair(value, flag)])),
      '--secret': () => Object.assign(secrets, Object.fromEntries([pair(value, flag)])),
      '--var': () => Object.assign(vars, Object.fromEntries([pair(value, flag)])),
      '--env-secret': () => envSecret(value, envSecrets),
      '--environment': () => gate(value, environments),
      '--repo': () => (options.repo = value),
      '--repository': () => (options.repository = value),
      '--actions-repo': () => (options.actionsRepo = value),
      '--work': () => (options.work = value),
      '--api-url': () => (options.apiUrl = value),
      '--server-url': () => (options.serverUrl = value),
      '--json': () => (command.json = value),
      '--log': () => (command.logFile = value),
    };
    const apply = set[flag];
    if (!apply) throw new UsageError(`unknown option ${flag}\n${USAGE}`);
    apply();
  }
  if (!options.event) throw new UsageError(`--event is required\n${USAGE}`);
  return command;
}

export function exitCode(result: RunResult): number {
  if (result.conclusion === 'startup_failure') return 2;
  return result.conclusion === 'success' || result.conclusion === 'skipped' ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  let command: Command;
  try {
    command = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const { logFile } = command;
  if (logFile) writeFileSync(logFile, '');
  const log = logFile
    ? (line: string) => appendFileSync(logFile, `${line}\n`)
    : (line: string) => process.stderr.write(`${line}\n`);
  // Steps run in their own process groups: a signal to this command cancels them like the runner does.
  const abort = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => abort.abort());
  const result = await runWorkflow({ ...command.options, log, signal: abort.signal });
  if (command.json)
    writeFileSync(command.json, `${JSON.stringify({ conclusion: result.conclusion, jobs: result.jobs }, null, 2)}\n`);
  return exitCode(result);
}

process.exitCode = await main(process.argv.slice(2));
