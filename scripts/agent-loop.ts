#!/usr/bin/env node
/**
 * The operator's command line: the same core and the same inputs as the actions, from a laptop or
 * a bastion, for when GitHub Actions is slow or down. Host keys are checked as the actions check
 * them (ssh-known-hosts); nothing here prints a secret.
 *
 *   bin/agent-loop status --hosts "deploy@10.0.0.5 deploy@10.0.0.6" --app agent-loop \
 *     --ssh-private-key-file ~/.ssh/deploy --ssh-known-hosts-file ./known_hosts [--json]
 *
 * Every input of the actions can be given as `--name value` or as the environment variable
 * AGENT_LOOP_<NAME> (upper case, hyphens as underscores). The key and known hosts can also be
 * given as text: AGENT_LOOP_SSH_PRIVATE_KEY, AGENT_LOOP_SSH_KNOWN_HOSTS.
 *
 * Commands: status — what every host serves, each color's version, the releases a rollback can go
 * to, the lock and its owner, a switch left unfinished. It takes no lock and changes nothing.
 * Exit code: 0 when every host was read, 1 when one could not be, 2 for a usage error.
 */
import { readFileSync } from 'node:fs';
import { ConfigurationError, fleetStatus, hostInputs, readInputs, resolveHosts, runtimeInputs, sessionFromInputs, silentLogger, statusLines, systemClock } from '@agent-loop/shared';

const USAGE = 'usage: agent-loop status [--json] [--hosts H] [--app A] [--ssh-private-key-file F] [--ssh-known-hosts-file F] [--<input> value ...]';

function parse(argv: string[]): { command: string; flags: Map<string, string>; json: boolean } {
  const [command = '', ...rest] = argv;
  const flags = new Map<string, string>();
  let json = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--json') {
      json = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new ConfigurationError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    if (eq > 0) {
      flags.set(arg.slice(2, eq), arg.slice(eq + 1));
      continue;
    }
    const value = rest[i + 1];
    if (value === undefined) throw new ConfigurationError(`${arg} needs a value`);
    flags.set(arg.slice(2), value);
    i++;
  }
  return { command, flags, json };
}

function fromFileOrText(flags: Map<string, string>, name: string): string {
  const file = flags.get(`${name}-file`) ?? process.env[`AGENT_LOOP_${name.toUpperCase().replace(/-/g, '_')}_FILE`];
  if (file) return readFileSync(file, 'utf8');
  return flags.get(name) ?? process.env[`AGENT_LOOP_${name.toUpperCase().replace(/-/g, '_')}`] ?? '';
}

async function main(): Promise<number> {
  const { command, flags, json } = parse(process.argv.slice(2));
  if (command !== 'status') throw new ConfigurationError(command ? `unknown command ${JSON.stringify(command)}` : 'a command is required');
  // The secrets are read here, not through the actions' secret fields: those register the value
  // with the runner (a workflow command that would print it on a terminal).
  const { 'ssh-private-key': _key, 'slack-webhook-url': _webhook, ...fields } = hostInputs;
  const known = new Set([...Object.keys(fields), 'split-key', 'ssh-private-key', 'ssh-private-key-file', 'ssh-known-hosts-file']);
  for (const name of flags.keys()) if (!known.has(name)) throw new ConfigurationError(`unknown option --${name}; known: ${[...known].map((option) => `--${option}`).join(' ')}`);
  const values: Record<string, string> = { 'ssh-known-hosts': fromFileOrText(flags, 'ssh-known-hosts') };
  const read = (name: string): string => values[name] ?? flags.get(name) ?? process.env[`AGENT_LOOP_${name.toUpperCase().replace(/-/g, '_')}`] ?? '';
  const inputs = readInputs({ ...fields, 'split-key': runtimeInputs['split-key'] }, read);
  const privateKey = fromFileOrText(flags, 'ssh-private-key');
  if (privateKey === '') throw new ConfigurationError("Input 'ssh-private-key': is required: --ssh-private-key-file PATH or AGENT_LOOP_SSH_PRIVATE_KEY");
  const all = { ...inputs, 'ssh-private-key': privateKey, 'slack-webhook-url': '' };
  const hosts = resolveHosts(all);
  const session = sessionFromInputs(all, { runId: `cli-${process.pid}`, actor: process.env.USER ?? 'cli', runUrl: '' }, silentLogger, systemClock);
  const statuses = await fleetStatus(hosts, { app: session.app, splitKey: session.splitKey, connect: session.connect, maxParallel: session.maxParallel, clock: session.clock });
  process.stdout.write(json ? `${JSON.stringify({ app: inputs.app, hosts: statuses }, null, 2)}\n` : `${statusLines(inputs.app, statuses).join('\n')}\n`);
  return statuses.some((status) => status.error) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const usage = error instanceof ConfigurationError;
    process.stderr.write(`agent-loop: ${(error as Error).message}${usage ? `\n${USAGE}` : ''}\n`);
    process.exit(usage ? 2 : 1);
  },
);
