import type { z } from 'zod';
import { hostInputs, resolveHosts, type HostInputs } from '@agent-loop/shared/inputs';
import type { ExitCode } from './exit-codes';

/**
 * What a command is: it takes the actions' own input fields (the same zod definitions, read by the
 * same code), says which action.yml describes them, and runs the same core. The help is made from
 * these definitions (help.ts), so it lists exactly what each command reads.
 */

export type Field = z.ZodType<unknown, string>;
export type Fields = Record<string, Field>;
export type Values<F extends Fields> = { [K in keyof F]: z.output<F[K]> };

/**
 * The secrets are read by the command line itself (a file or the environment), not through the
 * actions' secret fields: those register the value with the runner, a workflow command that would
 * print it on a terminal. The command line sends nothing to Slack.
 */
const { 'ssh-private-key': _key, 'slack-webhook-url': _webhook, ...hostFields } = hostInputs;
export { hostFields };

export type Connection = HostInputs;
type Hosts = ReturnType<typeof resolveHosts>;

export interface Context {
  hosts: Hosts;
  /** Every host input, the private key included (never printed). */
  connection: Connection;
  run: { runId: string; actor: string; runUrl: string };
  json: boolean;
  signal: AbortSignal;
}

export interface Command<F extends Fields = Fields> {
  name: string;
  /** One line: what it does. */
  summary: string;
  /** What follows `agent-loop`, for the usage line. */
  usage: string;
  /** A whole command an operator could run. */
  example: string;
  /** Whose action.yml describes the fields first (the others fill in what it lacks). */
  action: 'blue-green' | 'rollback' | 'canary-monitor';
  fields: F;
  /** Fields the command needs although the action lets them be empty: the message when one is. */
  required?: Partial<Record<keyof F & string, string>>;
  /** Where a field means something else on the command line than in its action. */
  descriptions?: Partial<Record<keyof F & string, string>>;
  /** Checks between inputs that need no host (usage errors). */
  check?: (inputs: Values<F>) => void;
  run: (inputs: Values<F> & Connection, context: Context) => Promise<ExitCode>;
}

export const define = <F extends Fields>(command: Command<F>): Command => command as unknown as Command;

export const HOSTS_EXAMPLE =
  '--hosts "deploy@10.0.0.5 deploy@10.0.0.6" --app agent-loop ' +
  '--ssh-private-key-file ~/.ssh/deploy --ssh-known-hosts-file ./known_hosts';
export const RUNTIME_EXAMPLE = '--runtime compose --compose-file /srv/agent-loop/docker-compose.yml';
