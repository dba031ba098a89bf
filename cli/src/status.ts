import { forTerminal, systemClock, terminalJson } from '@agent-loop/shared/action';
import { runtimeInputs } from '@agent-loop/shared/inputs';
import { fleetStatus, statusLines } from '@agent-loop/shared/procedures';
import { sessionFromInputs } from '@agent-loop/shared/settings';
import { define, hostFields, HOSTS_EXAMPLE, type Connection, type Context } from './command';
import { ExitCode } from './exit-codes';
import { terminal, warningsOnly } from './terminal';

/** The split key only shapes the include a switch writes; a command that writes none reads with the default. */
export const DEFAULT_SPLIT_KEY = runtimeInputs['split-key'].parse('');

export type FleetStatus = Awaited<ReturnType<typeof fleetStatus>>;

/**
 * What every host holds, read without a lock (status, and hold and resume before they write). Warnings (a
 * host key accepted only because insecure-skip-host-key-check is true) go to stderr, even with --json.
 */
export async function readFleet(
  inputs: Connection & { 'split-key'?: string },
  context: Context,
): Promise<{ session: ReturnType<typeof sessionFromInputs>; statuses: FleetStatus }> {
  const session = sessionFromInputs(
    { ...inputs, 'split-key': inputs['split-key'] ?? DEFAULT_SPLIT_KEY },
    context.run,
    warningsOnly,
    systemClock,
  );
  const statuses = await fleetStatus(context.hosts, {
    app: session.app,
    ...(session.router ? { router: session.router } : {}),
    splitKey: session.splitKey,
    connect: session.connect,
    maxParallel: session.maxParallel,
    clock: session.clock,
    log: terminal,
  });
  return { session, statuses };
}

export const status = define({
  name: 'status',
  summary:
    "what every host serves, each color's version, the canary, the lock and its owner, a hold, a switch left unfinished, " +
    'what a rollback would do; takes no lock, changes nothing',
  usage: 'status [--json] [options]',
  example: `agent-loop status ${HOSTS_EXAMPLE}`,
  action: 'blue-green',
  fields: { ...hostFields, 'split-key': runtimeInputs['split-key'] },
  run: async (inputs, context) => {
    const { statuses } = await readFleet(inputs, context);
    process.stdout.write(
      context.json
        ? `${terminalJson({ app: inputs.app, hosts: statuses })}\n`
        : `${forTerminal(statusLines(inputs.app, statuses).join('\n'))}\n`,
    );
    return statuses.some((one) => one.error) ? ExitCode.failed : ExitCode.ok;
  },
});
