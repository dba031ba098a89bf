import { ConfigurationError, forTerminal } from '@agent-loop/shared/action';
import { LockHeld } from '@agent-loop/shared/hosts';
import { readInputs, resolveHosts } from '@agent-loop/shared/inputs';
import { COMMANDS, Refusal, terminal, type Command, type Context } from './commands';
import { ExitCode } from './exit-codes';
import { commandHelp, commandOptions, overview } from './help';
import { closest, envName, fileOrText, FILE_INPUTS, optionValue, parseOptions } from './options';

/**
 * The operator's command line: the same core and the same inputs as the actions, from a laptop or
 * a bastion, for when GitHub Actions is slow or down. Host keys are checked as the actions check
 * them (ssh-known-hosts); nothing here prints a secret. `agent-loop --help` lists the commands,
 * `agent-loop <command> --help` every option; the exit codes are in exit-codes.ts.
 */

const HELP_WORDS = new Set(['help', '--help', '-h']);

/** Which command the arguments name, or the help they ask for. */
function route(
  argv: readonly string[],
): { help: true; command: Command | null } | { help: false; command: Command; args: readonly string[] } {
  const [first = '', ...rest] = argv;
  if (first === '') throw new ConfigurationError('a command is required');
  const find = (name: string): Command => {
    const command = COMMANDS.find((candidate) => candidate.name === name);
    if (command) return command;
    const suggestion = closest(
      name,
      COMMANDS.map((candidate) => candidate.name),
    );
    const names = COMMANDS.map((candidate) => candidate.name).join(', ');
    throw new ConfigurationError(
      `unknown command ${JSON.stringify(name)}${suggestion ? `; did you mean ${suggestion}?` : ''} (commands: ${names})`,
    );
  };
  if (HELP_WORDS.has(first)) return { help: true, command: rest[0] && !rest[0].startsWith('-') ? find(rest[0]) : null };
  if (first.startsWith('-')) throw new ConfigurationError(`a command comes first, before ${first}`);
  return { help: false, command: find(first), args: rest };
}

/** AGENT_LOOP_* variables no command reads: a typo there would otherwise be ignored in silence. */
function warnUnknownVariables(env: NodeJS.ProcessEnv): void {
  const known = new Set(COMMANDS.flatMap((command) => [...commandOptions(command).keys()].map(envName)));
  for (const name of FILE_INPUTS) known.add(envName(name));
  const names = [...known].map((name) => name.slice('AGENT_LOOP_'.length));
  for (const variable of Object.keys(env)) {
    if (!variable.startsWith('AGENT_LOOP_') || known.has(variable)) continue;
    const suggestion = closest(variable.slice('AGENT_LOOP_'.length), names);
    terminal.warn(
      `${variable} is set, but no command reads it${suggestion ? `; did you mean AGENT_LOOP_${suggestion}?` : ''}`,
    );
  }
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<ExitCode> {
  let commandName = '';
  // Until a host is contacted, a ConfigurationError is a usage error; after, it is the hosts' refusal.
  let contacted = false;
  try {
    const routed = route(argv);
    if (routed.help) {
      process.stdout.write(routed.command ? commandHelp(routed.command) : overview());
      return ExitCode.ok;
    }
    const { command } = routed;
    commandName = command.name;
    const line = parseOptions(routed.args, commandOptions(command), command.name);
    if (line.help) {
      process.stdout.write(commandHelp(command));
      return ExitCode.ok;
    }
    warnUnknownVariables(env);
    const knownHosts = fileOrText(line.flags, env, 'ssh-known-hosts');
    const inputs = readInputs(command.fields, (name) =>
      name === 'ssh-known-hosts' ? knownHosts : optionValue(line.flags, env, name),
    ) as Record<string, unknown> & Context['connection'];
    for (const [name, message] of Object.entries(command.required ?? {})) {
      if (inputs[name] === '') throw new ConfigurationError(`Input '${name}': ${message}`);
    }
    command.check?.(inputs);
    const privateKey = fileOrText(line.flags, env, 'ssh-private-key');
    if (privateKey === '')
      throw new ConfigurationError(
        "Input 'ssh-private-key': is required: --ssh-private-key-file PATH, AGENT_LOOP_SSH_PRIVATE_KEY_FILE or AGENT_LOOP_SSH_PRIVATE_KEY",
      );
    const connection = { ...inputs, 'ssh-private-key': privateKey, 'slack-webhook-url': '' };
    const hosts = resolveHosts(connection);
    // The actor goes into the hosts' state and audit log, which accept a user name only; the run id
    // says it came from the command line.
    const user = env.USER ?? '';
    const run = {
      runId: `cli-${process.pid}-${Date.now().toString(36)}`,
      actor: /^[A-Za-z0-9._@[\]-]{1,100}$/.test(user) ? user : 'operator',
      runUrl: '',
    };
    // Ctrl-C works as the runner's cancel does: nothing new starts, and a rollback finishes the switch it began.
    const cancel = new AbortController();
    process.once('SIGINT', () => cancel.abort());
    contacted = true;
    return await command.run(connection, { hosts, connection, run, json: line.json, signal: cancel.signal });
  } catch (error) {
    return reportError(error, commandName, contacted);
  }
}

function isConfigurationError(error: unknown): boolean {
  return error instanceof ConfigurationError || (error instanceof Error && error.name === 'ConfigurationError');
}

function heldLock(error: unknown): LockHeld | null {
  if (error instanceof LockHeld) return error;
  if (error instanceof AggregateError)
    return (error.errors.find((inner) => inner instanceof LockHeld) as LockHeld | undefined) ?? null;
  return null;
}

/** Says what went wrong, and returns its exit code: each kind of outcome has its own. */
function reportError(error: unknown, command: string, contacted: boolean): ExitCode {
  const message = (text: string) => forTerminal(text);
  const held = heldLock(error);
  if (held) {
    process.stderr.write(`agent-loop: ${message(held.message)}\n`);
    return ExitCode.lockHeld;
  }
  const text = error instanceof Error ? error.message : String(error);
  if (error instanceof Refusal) {
    process.stderr.write(`notice: ${message(text)}; nothing was changed\n`);
    return ExitCode.refused;
  }
  if (isConfigurationError(error) && contacted) {
    process.stderr.write(`agent-loop: refused, nothing was changed: ${message(text)}\n`);
    return ExitCode.refused;
  }
  if (isConfigurationError(error)) {
    process.stderr.write(
      `agent-loop: ${message(text)}\n${command ? `agent-loop ${command} --help lists every option` : 'agent-loop --help lists the commands'}\n`,
    );
    return ExitCode.usage;
  }
  process.stderr.write(`agent-loop: ${message(text)}\n`);
  return ExitCode.failed;
}
