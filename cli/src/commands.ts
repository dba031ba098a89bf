import type { z } from 'zod';
import { ConfigurationError, forTerminal, systemClock, terminalJson, type Logger } from '@agent-loop/shared/action';
import { setHold } from '@agent-loop/shared/fleet';
import { lockHolder } from '@agent-loop/shared/hosts';
import {
  checkRollbackRuntimeInputs,
  checkRuntimeInputs,
  deployPhaseInputs,
  hostInputs,
  monitorPhaseInputs,
  monitorPolicy,
  promotePhaseInputs,
  reasonField,
  resolveHosts,
  rollbackPhaseInputs,
  rollbackRuntimeInputs,
  rollbackTarget,
  runtimeInputs,
  type HostInputs,
} from '@agent-loop/shared/inputs';
import { deploy, fleetStatus, monitor, promote, statusLines } from '@agent-loop/shared/procedures';
import { progressLine } from '@agent-loop/shared/report';
import { rollback } from '@agent-loop/shared/rollback';
import {
  deploySettings,
  monitorSettings,
  promoteSettings,
  rollbackSettings,
  sessionFromInputs,
} from '@agent-loop/shared/settings';
import { formatWeights } from '@agent-loop/shared/traffic';
import { ExitCode } from './exit-codes';

/**
 * The commands: each takes the actions' own input fields (the same zod definitions, read by the
 * same code), says which action.yml describes them, and runs the same core. The help is made from
 * these definitions (help.ts), so it lists exactly what each command reads.
 */

export type Field = z.ZodType<unknown, string>;
export type Fields = Record<string, Field>;
type Values<F extends Fields> = { [K in keyof F]: z.output<F[K]> };

/**
 * The secrets are read by the command line itself (a file or the environment), not through the
 * actions' secret fields: those register the value with the runner, a workflow command that would
 * print it on a terminal. The command line sends nothing to Slack.
 */
const { 'ssh-private-key': _key, 'slack-webhook-url': _webhook, ...hostFields } = hostInputs;
export { hostFields };

type Connection = HostInputs;
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

const define = <F extends Fields>(command: Command<F>): Command => command as unknown as Command;

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
const warningsOnly: Logger = { info: () => {}, warn: terminal.warn, group: (_title, body) => body() };

const logFor = (context: Context): Logger => (context.json ? warningsOnly : terminal);

/** The split key only shapes the include a switch writes; a command that writes none reads with the default. */
const DEFAULT_SPLIT_KEY = runtimeInputs['split-key'].parse('');

interface PhaseOutcome {
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
function hostLines(result: PhaseOutcome): void {
  for (const host of result.hosts) {
    if (result.refused && host.refused) continue;
    terminal.info(
      `${host.host}: ${host.outcome}${host.weightsAfter ? `, serving ${formatWeights(host.weightsAfter)}` : ''}${host.error ? `: ${host.error}` : ''}`,
    );
  }
}

/** A phase the hosts' state refused on every host that said no: its reasons as notices, exit 4. */
function refusal(result: PhaseOutcome, nothingTo: string): ExitCode {
  notice(`${nothingTo}; nothing was changed:`);
  for (const reason of new Set(
    result.hosts.filter((host) => host.refused && host.error).map((host) => host.error as string),
  ))
    notice(`  ${reason}`);
  return ExitCode.refused;
}

function phaseExit(result: PhaseOutcome): ExitCode {
  return result.ok ? ExitCode.ok : result.refused ? ExitCode.refused : ExitCode.failed;
}

const HOSTS_EXAMPLE =
  '--hosts "deploy@10.0.0.5 deploy@10.0.0.6" --app agent-loop --ssh-private-key-file ~/.ssh/deploy --ssh-known-hosts-file ./known_hosts';
const RUNTIME_EXAMPLE = '--runtime compose --compose-file /srv/agent-loop/docker-compose.yml';
/** The runtime of a rollback (rollback, abort, monitor): as recorded unless named (rollback/rollback.ts). */
const ROLLBACK_RUNTIME_DESCRIPTION =
  'Leave empty to stop and start each color with the runtime recorded with the release it runs (every deploy records its runtime and commands); or compose or command, then used for every color with its compose-file or start-command and stop-command. A release deployed before runtimes were recorded needs it named: until then the rollback refuses and touches nothing.';

const status = define({
  name: 'status',
  summary:
    "what every host serves, each color's version, the canary, the lock and its owner, a hold, a switch left unfinished, what a rollback would do; takes no lock, changes nothing",
  usage: 'status [--json] [options]',
  example: `agent-loop status ${HOSTS_EXAMPLE}`,
  action: 'blue-green',
  fields: { ...hostFields, 'split-key': runtimeInputs['split-key'] },
  run: async (inputs, context) => {
    const session = sessionFromInputs(inputs, context.run, warningsOnly, systemClock);
    // Warnings (a host key accepted only because insecure-skip-host-key-check is true) go to stderr, even with --json.
    const statuses = await fleetStatus(context.hosts, {
      app: session.app,
      ...(session.router ? { router: session.router } : {}),
      splitKey: session.splitKey,
      connect: session.connect,
      maxParallel: session.maxParallel,
      clock: session.clock,
      log: terminal,
    });
    process.stdout.write(
      context.json
        ? `${terminalJson({ app: inputs.app, hosts: statuses })}\n`
        : `${forTerminal(statusLines(inputs.app, statuses).join('\n'))}\n`,
    );
    return statuses.some((one) => one.error) ? ExitCode.failed : ExitCode.ok;
  },
});

const deployCommand = define({
  name: 'deploy',
  summary:
    "the blue-green action's deploy phase: the new version on the idle color, checked (preflight, health, smoke requests), then its canary share",
  usage: 'deploy --image IMAGE --version V [--canary-percent N] [options]',
  example: `agent-loop deploy --image ghcr.io/org/agent-loop:1.4.2 --version v1.4.2 --canary-percent 10 ${RUNTIME_EXAMPLE} ${HOSTS_EXAMPLE}`,
  action: 'blue-green',
  fields: { ...hostFields, ...runtimeInputs, ...deployPhaseInputs },
  required: {
    image: 'is required: an image reference such as ghcr.io/org/app:1.2.3',
    version: 'is required: a version label such as v1.4.2',
  },
  check: (inputs) => checkRuntimeInputs(inputs),
  run: async (inputs, context) => {
    const deployed = await deploy(
      context.hosts,
      deploySettings(inputs, { run: context.run, log: logFor(context), clock: systemClock, signal: context.signal }),
    );
    if (context.json) process.stdout.write(`${terminalJson(deployed)}\n`);
    else {
      hostLines(deployed);
      if (deployed.ok)
        terminal.info(
          `deployed ${deployed.version} on ${deployed.hosts.length} host(s) as ${deployed.activeColor}, taking ${deployed.canaryPercent}% of traffic`,
        );
      else if (deployed.refused) return refusal(deployed, `the hosts refused the deploy of ${inputs.version}`);
      else terminal.warn(`the deploy failed: ${deployed.error ?? 'see above'}`);
    }
    return phaseExit(deployed);
  },
});

const promoteCommand = define({
  name: 'promote',
  summary:
    "the blue-green action's promote phase: the canary takes all traffic, then the old color is drained and stopped; with --version, the canary must run that version",
  usage: 'promote [--version V] [--drain-seconds N] [--keep-previous] [options]',
  example: `agent-loop promote --version v1.4.2 ${RUNTIME_EXAMPLE} ${HOSTS_EXAMPLE}`,
  action: 'blue-green',
  fields: { ...hostFields, ...runtimeInputs, version: deployPhaseInputs.version, ...promotePhaseInputs },
  check: (inputs) => checkRuntimeInputs(inputs),
  run: async (inputs, context) => {
    const promoted = await promote(
      context.hosts,
      promoteSettings(inputs, { run: context.run, log: logFor(context), clock: systemClock, signal: context.signal }),
    );
    if (context.json) process.stdout.write(`${terminalJson(promoted)}\n`);
    else {
      hostLines(promoted);
      if (promoted.ok)
        terminal.info(
          `promoted ${promoted.version} on ${promoted.hosts.length} host(s): ${promoted.activeColor} serves all traffic`,
        );
      else if (promoted.refused) return refusal(promoted, 'nothing to promote');
      else terminal.warn(`the promote failed: ${promoted.error ?? 'see above'}`);
    }
    return phaseExit(promoted);
  },
});

const rollbackInputs = rollbackPhaseInputs('manual rollback from the command line');

/** The rollback and the abort: one procedure, the abort only ever ending a canary or a ramp. */
async function rollBack(
  inputs: Values<typeof rollbackRuntimeInputs> &
    Connection & { 'target-version': string; reason: string; 'keep-failed': boolean },
  context: Context,
  aborting: boolean,
): Promise<ExitCode> {
  const started = Date.now();
  const settings = rollbackSettings(inputs, {
    run: context.run,
    log: logFor(context),
    clock: systemClock,
    signal: context.signal,
  });
  const result = await rollback(context.hosts, { ...settings, target: rollbackTarget(inputs, aborting) }, started);
  if (context.json) {
    process.stdout.write(`${terminalJson(result)}\n`);
    return phaseExit(result);
  }
  hostLines(result);
  if (result.abortedMonitorMs !== null)
    terminal.info(
      `the canary-monitor that held the hosts stopped ${result.abortedMonitorMs} ms after it was asked to (its verdict: aborted)`,
    );
  if (result.ok) {
    terminal.info(
      result.noop
        ? `nothing to do: ${result.version ?? 'the target'} already serves all traffic`
        : `${aborting ? 'aborted: ' : ''}rolled back to ${result.version} on ${result.hosts.length} host(s); traffic restored ${result.restoredMs} ms after the start`,
    );
    return ExitCode.ok;
  }
  if (result.refused) return refusal(result, aborting ? 'nothing to abort' : 'nothing to roll back');
  terminal.warn(`the rollback failed: ${result.error ?? 'see above'}`);
  if (result.candidates.length > 0) terminal.info(`versions a rollback can go to: ${result.candidates.join(', ')}`);
  return ExitCode.failed;
}

const rollbackCommand = define({
  name: 'rollback',
  summary:
    "the rollback action's nginx method: all traffic back to the last good version (or --target-version), with the same lock, write-ahead state, audit log and cancellation",
  usage: 'rollback [--target-version V] [--reason TEXT] [--keep-failed] [options]',
  example: `agent-loop rollback --reason "checkout errors since v1.4.2" ${HOSTS_EXAMPLE}`,
  action: 'rollback',
  fields: { ...hostFields, ...rollbackRuntimeInputs, ...rollbackInputs },
  descriptions: { reason: "Why, recorded in the hosts' state and audit log.", runtime: ROLLBACK_RUNTIME_DESCRIPTION },
  check: (inputs) => checkRollbackRuntimeInputs(inputs),
  run: (inputs, context) => rollBack(inputs, context, false),
});

const abortCommand = define({
  name: 'abort',
  summary:
    'ends a canary or a ramp now: a canary-monitor that holds the hosts is asked to stop (verdict aborted) and all traffic goes back to the stable version; never goes back from a promoted release (that is rollback)',
  usage: 'abort [--reason TEXT] [options]',
  example: `agent-loop abort --reason "paged: checkout errors" ${HOSTS_EXAMPLE}`,
  action: 'rollback',
  fields: {
    ...hostFields,
    ...rollbackRuntimeInputs,
    reason: reasonField('aborted from the command line'),
    'keep-failed': rollbackInputs['keep-failed'],
  },
  descriptions: {
    reason: "Why, recorded in the hosts' state and audit log, and given to the monitor it stops.",
    runtime: ROLLBACK_RUNTIME_DESCRIPTION,
  },
  check: (inputs) => checkRollbackRuntimeInputs(inputs),
  run: (inputs, context) => rollBack({ ...inputs, 'target-version': '' }, context, true),
});

const monitorCommand = define({
  name: 'monitor',
  summary:
    "canary-monitor's analysis: a line per interval (requests, error rate and P95 per color), an event per step, the rollback it makes on its own (--auto-rollback false to only judge), then the verdict",
  usage:
    'monitor [--mode canary|ramp|post-promotion] [--duration S] [--interval S] [--steps 10,50,100] [--policy YAML] [options]',
  example: `agent-loop monitor --mode ramp --steps 10,50,100 --duration 300 ${HOSTS_EXAMPLE}`,
  action: 'canary-monitor',
  fields: { ...hostFields, ...rollbackRuntimeInputs, ...monitorPhaseInputs },
  descriptions: { runtime: ROLLBACK_RUNTIME_DESCRIPTION },
  check: (inputs) => {
    checkRollbackRuntimeInputs(inputs);
    monitorPolicy(inputs);
  },
  run: async (inputs, context) => {
    const log = logFor(context);
    const watched = await monitor(context.hosts, {
      ...monitorSettings(
        inputs,
        sessionFromInputs(inputs, context.run, log, systemClock, context.signal),
        monitorPolicy(inputs),
      ),
      onSample: (sample, current) =>
        log.info(progressLine(sample, current, current.colors.canary, current.colors.stable)),
      onEvent: (event) => log.info(`event: ${event.kind}: ${event.message}`),
    });
    if (context.json) process.stdout.write(`${terminalJson(watched)}\n`);
    else {
      terminal.info(`verdict: ${watched.verdict}: ${watched.reason}`);
      if (watched.rollback) hostLines(watched.rollback);
      if (watched.rollback?.ok)
        terminal.info(`rolled back to ${watched.rollback.version} ${watched.rollbackMs} ms after the decision`);
      else if (watched.rollback)
        terminal.warn(
          `the automatic rollback failed: ${watched.rollback.error ?? 'see above'}; roll back with: agent-loop rollback`,
        );
    }
    return watched.verdict === 'success' ? ExitCode.ok : ExitCode.failed;
  },
});

const holdCommand = define({
  name: 'hold',
  summary:
    'keeps a ramp at its current step: the monitor watches the step window after window, still ready to roll back, until agent-loop resume; refuses when no host runs a canary; takes no lock',
  usage: 'hold [--reason TEXT] [options]',
  example: `agent-loop hold --reason "waiting for the ops review" ${HOSTS_EXAMPLE}`,
  action: 'canary-monitor',
  fields: { ...hostFields, reason: reasonField('held from the command line') },
  descriptions: {
    reason:
      "Why the ramp is held: kept in the hold request on every host, shown by status and in the monitor's held event.",
  },
  run: async (inputs, context) => {
    const session = sessionFromInputs(
      { ...inputs, 'split-key': DEFAULT_SPLIT_KEY },
      context.run,
      warningsOnly,
      systemClock,
    );
    // Read first (no lock): a hold with no canary would wait, unseen, for a ramp nobody started.
    const statuses = await fleetStatus(context.hosts, {
      app: session.app,
      ...(session.router ? { router: session.router } : {}),
      splitKey: session.splitKey,
      connect: session.connect,
      maxParallel: session.maxParallel,
      clock: session.clock,
      log: terminal,
    });
    const unread = statuses.filter((one) => one.error);
    if (unread.length > 0) {
      for (const one of unread) terminal.warn(`${one.host}: cannot be read: ${one.error}`);
      terminal.warn('nothing was held');
      return ExitCode.failed;
    }
    const without = statuses.filter((one) => !one.canary);
    if (without.length > 0) {
      const serving = (one: (typeof statuses)[number]) =>
        one.active ? `${one.colors[one.active]?.version ?? one.active} serves all traffic` : 'nothing is deployed';
      throw new Refusal(
        without.length === statuses.length
          ? `there is no canary or ramp to hold: ${[...new Set(without.map(serving))].join('; ')}`
          : `${without.map((one) => `${one.host}: no canary (${serving(one)})`).join('; ')}; the others run one: deploy again so every host agrees`,
      );
    }
    const written = await setHold(context.hosts, session, { reason: inputs.reason });
    const canary = statuses[0]!.canary!;
    const lock = statuses[0]!.lock;
    const ramping =
      lock?.phase === 'monitor ramp'
        ? `${lockHolder(lock.phase)} run ${lock.runId} keeps it there after its current window`
        : 'no ramp runs on it now: one started later stays at its first step';
    terminal.info(
      `hold requested on ${written.length} host(s): ${canary.version} at ${canary.percent}% stays at its current step, watched, until agent-loop resume; ${ramping}`,
    );
    return ExitCode.ok;
  },
});

const resumeCommand = define({
  name: 'resume',
  summary: 'lifts a hold: a held ramp goes on after its current window',
  usage: 'resume [options]',
  example: `agent-loop resume ${HOSTS_EXAMPLE}`,
  action: 'canary-monitor',
  fields: { ...hostFields },
  run: async (inputs, context) => {
    const session = sessionFromInputs(
      { ...inputs, 'split-key': DEFAULT_SPLIT_KEY },
      context.run,
      warningsOnly,
      systemClock,
    );
    const written = await setHold(context.hosts, session, null);
    terminal.info(`hold lifted on ${written.length} host(s): a held ramp goes on after its current window`);
    return ExitCode.ok;
  },
});

/** Every command, in the order the help lists them. */
export const COMMANDS: readonly Command[] = [
  status,
  deployCommand,
  promoteCommand,
  rollbackCommand,
  abortCommand,
  monitorCommand,
  holdCommand,
  resumeCommand,
];
