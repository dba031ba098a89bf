import { ConfigurationError, forTerminal, type Logger } from '@agent-loop/shared/action';
import { formatWeights } from '@agent-loop/shared/traffic';
import { ExitCode } from './exit-codes';
import type { Context } from './command';

/**
 * Progress on the terminal as it happens. Host text is data: every line goes through `forTerminal`
 * (no escape sequence reaches the terminal), JSON through `terminalJson`.
 */
export const terminal: Logger = {
  info: (message) => process.stdout.write(`${forTerminal(message)}\n`),
  warn: (message) => process.stderr.write(`warning: ${forTerminal(message)}\n`),
  group: async (title, body) => {
    process.stdout.write(`== ${forTerminal(title)}\n`);
    return body();
  },
};

/**
 * What the hosts' state does not allow, found by the command line itself (a hold with no canary):
 * not a failure of the tool, so said as a notice, with exit 4.
 */
export class Refusal extends ConfigurationError {}

/** A refusal is not a failure of the tool: said as a notice, on stderr. */
export const notice = (message: string): void => {
  process.stderr.write(`notice: ${forTerminal(message)}\n`);
};

/** With --json, stdout holds the JSON alone: progress is left out, warnings still go to stderr. */
export const warningsOnly: Logger = { info: () => {}, warn: terminal.warn, group: (_title, body) => body() };

export const logFor = (context: Context): Logger => (context.json ? warningsOnly : terminal);

export interface PhaseOutcome {
  ok: boolean;
  refused?: boolean;
  error?: string;
  hosts: Array<{
    host: string;
    outcome: string;
    weightsAfter: { blue: number; green: number } | null;
    error?: string;
    refused?: boolean;
  }>;
}

/** What each host ended with, a line each (a refusing host's reason is said once, as a notice). */
export function hostLines(result: PhaseOutcome): void {
  for (const host of result.hosts) {
    if (result.refused && host.refused) continue;
    const serving = host.weightsAfter ? `, serving ${formatWeights(host.weightsAfter)}` : '';
    terminal.info(`${host.host}: ${host.outcome}${serving}${host.error ? `: ${host.error}` : ''}`);
  }
}

/** A phase the hosts' state refused on every host that said no: its reasons as notices, exit 4. */
export function refusal(result: PhaseOutcome, nothingTo: string): ExitCode {
  notice(`${nothingTo}; nothing was changed:`);
  for (const reason of new Set(
    result.hosts.filter((host) => host.refused && host.error).map((host) => host.error as string),
  ))
    notice(`  ${reason}`);
  return ExitCode.refused;
}

export function phaseExit(result: PhaseOutcome): ExitCode {
  return result.ok ? ExitCode.ok : result.refused ? ExitCode.refused : ExitCode.failed;
}
