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
 * Commands:
 *  - status: what every host serves, each color's version, the releases a rollback can go to, the
 *    lock and its owner, a switch left unfinished. It takes no lock and changes nothing.
 *  - deploy --image IMAGE --version V [--canary-percent N] [--smoke-requests YAML]: the blue-green
 *    action's deploy phase: the new version on the idle color, checked, then its canary share.
 *  - promote [--version V] [--drain-seconds N] [--keep-previous true]: the blue-green action's
 *    promote phase: the canary takes all traffic, then the old color is drained and stopped. With
 *    --version, the canary must be that version. Needs the runtime inputs, as rollback does.
 *  - rollback [--target-version V] [--reason TEXT] [--keep-failed true]: the rollback action's
 *    nginx method, with the same locks, write-ahead state and audit log; a line per host per step
 *    as it goes. Needs the runtime inputs (--runtime, --start-command/--stop-command or --compose-file).
 *  - abort [--reason TEXT]: ends a canary or a ramp now: all traffic back on the stable version. A
 *    canary-monitor that holds the hosts is asked to stop (its verdict: aborted) and the rollback
 *    goes ahead within seconds. Needs the runtime inputs, as rollback does.
 *  - hold [--reason TEXT] / resume: a ramp that canary-monitor runs stays at its current step,
 *    watched window after window, until `resume`; takes no lock (a file next to it on every host).
 *  - monitor [--mode canary|ramp|post-promotion] [--duration S] [--interval S] [--steps 10,50,100]
 *    [--policy YAML] [--sources nginx-log,host] ...: the canary-monitor action's analysis, with a
 *    progress line per interval (requests, error rate and P95 per color) and an event per step; it
 *    rolls back on its own as the action does (--auto-rollback false to only judge).
 * Exit code: 0 on success, 1 when a host could not be read or the promote or rollback failed, 2 for a usage
 * error (found before any host is contacted).
 */
import { readFileSync } from 'node:fs';
import {
  checkRuntimeInputs,
  ConfigurationError,
  deploy,
  deployPhaseInputs,
  deploySettings,
  fleetStatus,
  promote,
  promotePhaseInputs,
  promoteSettings,
  reasonField,
  formatWeights,
  forTerminal,
  hostInputs,
  readInputs,
  requireInput,
  resolveHosts,
  rollback,
  rollbackPhaseInputs,
  rollbackSettings,
  rollbackTarget,
  monitor,
  monitorPhaseInputs,
  monitorPolicy,
  monitorSettings,
  progressLine,
  runtimeInputs,
  sessionFromInputs,
  setHold,
  statusLines,
  systemClock,
  terminalJson,
  type Logger,
} from '@agent-loop/shared';

const USAGE = 'usage: agent-loop status|deploy|promote|rollback|abort|monitor|hold|resume [--json] [--hosts H] [--app A] [--ssh-private-key-file F] [--ssh-known-hosts-file F] [--<input> value ...]';

const rollbackInputs = rollbackPhaseInputs('manual rollback from the command line');

const abortInputs = { reason: reasonField('aborted from the command line'), 'keep-failed': rollbackInputs['keep-failed'] };

/** The command line's deploy and promote take the blue-green action's own inputs. */
const deployInputs = deployPhaseInputs;
const promoteInputs = { version: deployPhaseInputs.version, ...promotePhaseInputs };

/** What each host ended with, a line each. */
function hostLines(result: { hosts: Array<{ host: string; outcome: string; weightsAfter: { blue: number; green: number } | null; error?: string }> }): void {
  for (const host of result.hosts) terminal.info(`${host.host}: ${host.outcome}${host.weightsAfter ? `, serving ${formatWeights(host.weightsAfter)}` : ''}${host.error ? `: ${host.error}` : ''}`);
}

/**
 * Progress on the terminal as it happens. Host text is data: every line goes through `forTerminal`
 * (no escape sequence reaches the terminal), JSON through `terminalJson`.
 */
const terminal: Logger = {
  info: (message) => process.stdout.write(`${forTerminal(message)}\n`),
  warn: (message) => process.stderr.write(`warning: ${forTerminal(message)}\n`),
  group: async (title, body) => {
    process.stdout.write(`== ${forTerminal(title)}\n`);
    return body();
  },
};

/**
 * With --json stdout holds the JSON alone, and hold and resume say one line: progress is left out,
 * but warnings (a host key accepted unchecked) still go to stderr.
 */
const warningsOnly: Logger = { info: () => {}, warn: terminal.warn, group: (_title, body) => body() };

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
  if (!['status', 'deploy', 'promote', 'rollback', 'abort', 'monitor', 'hold', 'resume'].includes(command)) throw new ConfigurationError(command ? `unknown command ${JSON.stringify(command)}` : 'a command is required');
  // The secrets are read here, not through the actions' secret fields: those register the value
  // with the runner (a workflow command that would print it on a terminal).
  const { 'ssh-private-key': _key, 'slack-webhook-url': _webhook, ...hostFields } = hostInputs;
  const fields =
    command === 'rollback'
      ? { ...hostFields, ...runtimeInputs, ...rollbackInputs }
      : command === 'abort'
        ? { ...hostFields, ...runtimeInputs, ...abortInputs }
      : command === 'monitor'
        ? { ...hostFields, ...runtimeInputs, ...monitorPhaseInputs }
      : command === 'hold'
        ? { ...hostFields, reason: reasonField('held from the command line') }
      : command === 'resume'
        ? { ...hostFields }
      : command === 'promote'
        ? { ...hostFields, ...runtimeInputs, ...promoteInputs }
        : command === 'deploy'
          ? { ...hostFields, ...runtimeInputs, ...deployInputs }
        : { ...hostFields, 'split-key': runtimeInputs['split-key'] };
  const known = new Set([...Object.keys(fields), 'ssh-private-key', 'ssh-private-key-file', 'ssh-known-hosts-file']);
  for (const name of flags.keys()) if (!known.has(name)) throw new ConfigurationError(`unknown option --${name} for ${command}; known: ${[...known].map((option) => `--${option}`).join(' ')}`);
  const values: Record<string, string> = { 'ssh-known-hosts': fromFileOrText(flags, 'ssh-known-hosts') };
  const read = (name: string): string => values[name] ?? flags.get(name) ?? process.env[`AGENT_LOOP_${name.toUpperCase().replace(/-/g, '_')}`] ?? '';
  const inputs = readInputs(fields as typeof hostFields & typeof runtimeInputs & typeof rollbackInputs & typeof promoteInputs & typeof deployInputs & typeof monitorPhaseInputs, read);
  if (!['status', 'hold', 'resume'].includes(command)) checkRuntimeInputs(inputs);
  const policy = command === 'monitor' ? monitorPolicy(inputs) : null;
  if (command === 'deploy') {
    requireInput(inputs.image !== '', 'image', 'is required: an image reference such as ghcr.io/org/app:1.2.3');
    requireInput(inputs.version !== '', 'version', 'is required: a version label such as v1.4.2');
  }
  const privateKey = fromFileOrText(flags, 'ssh-private-key');
  if (privateKey === '') throw new ConfigurationError("Input 'ssh-private-key': is required: --ssh-private-key-file PATH or AGENT_LOOP_SSH_PRIVATE_KEY");
  const all = { ...inputs, 'ssh-private-key': privateKey, 'slack-webhook-url': '' };
  const hosts = resolveHosts(all);
  // The actor goes into the hosts' state and audit log, which accept a user name only; the run id
  // says it came from the command line.
  const user = process.env.USER ?? '';
  const who = { runId: `cli-${process.pid}-${Date.now().toString(36)}`, actor: /^[A-Za-z0-9._@[\]-]{1,100}$/.test(user) ? user : 'operator', runUrl: '' };

  if (command === 'status') {
    const session = sessionFromInputs(all, who, warningsOnly, systemClock);
    // Warnings (a host key accepted only because insecure-skip-host-key-check is true) go to stderr, even with --json.
    const statuses = await fleetStatus(hosts, { app: session.app, splitKey: session.splitKey, connect: session.connect, maxParallel: session.maxParallel, clock: session.clock, log: terminal });
    process.stdout.write(json ? `${terminalJson({ app: inputs.app, hosts: statuses })}\n` : `${forTerminal(statusLines(inputs.app, statuses).join('\n'))}\n`);
    return statuses.some((status) => status.error) ? 1 : 0;
  }

  if (command === 'hold' || command === 'resume') {
    const session = sessionFromInputs(all, who, warningsOnly, systemClock);
    const written = await setHold(hosts, session, command === 'hold' ? { reason: inputs.reason } : null);
    terminal.info(command === 'hold' ? `hold requested on ${written.length} host(s): a ramp stays at its current step, watched, until agent-loop resume` : `hold lifted on ${written.length} host(s): a held ramp goes on after its current window`);
    return 0;
  }

  // Ctrl-C works as the runner's cancel does: nothing new starts, and the rollback finishes the switch it began.
  const cancel = new AbortController();
  process.once('SIGINT', () => cancel.abort());
  const log = json ? warningsOnly : terminal;
  const started = Date.now();
  const context = { run: who, log, clock: systemClock, signal: cancel.signal };
  if (command === 'deploy') {
    const deployed = await deploy(hosts, deploySettings(all, context));
    if (json) process.stdout.write(`${terminalJson(deployed)}\n`);
    else {
      hostLines(deployed);
      if (deployed.ok) terminal.info(`deployed ${deployed.version} on ${deployed.hosts.length} host(s) as ${deployed.activeColor}, taking ${deployed.canaryPercent}% of traffic`);
      else terminal.warn(`the deploy failed: ${deployed.error ?? 'see above'}`);
    }
    return deployed.ok ? 0 : 1;
  }
  if (command === 'promote') {
    const promoted = await promote(hosts, promoteSettings(all, context));
    if (json) process.stdout.write(`${terminalJson(promoted)}\n`);
    else {
      hostLines(promoted);
      if (promoted.ok) terminal.info(`promoted ${promoted.version} on ${promoted.hosts.length} host(s): ${promoted.activeColor} serves all traffic`);
      else terminal.warn(`the promote failed: ${promoted.error ?? 'see above'}`);
    }
    return promoted.ok ? 0 : 1;
  }
  if (command === 'monitor' && policy) {
    const watched = await monitor(hosts, {
      ...monitorSettings(all, sessionFromInputs(all, who, log, systemClock, cancel.signal), policy),
      onSample: (sample, current) => log.info(progressLine(sample, current, current.colors.canary, current.colors.stable)),
      onEvent: (event) => log.info(`event: ${event.kind}: ${event.message}`),
    });
    if (json) process.stdout.write(`${terminalJson(watched)}\n`);
    else {
      terminal.info(`verdict: ${watched.verdict}: ${watched.reason}`);
      if (watched.rollback) hostLines(watched.rollback);
      if (watched.rollback?.ok) terminal.info(`rolled back to ${watched.rollback.version} ${watched.rollbackMs} ms after the decision`);
      else if (watched.rollback) terminal.warn(`the automatic rollback failed: ${watched.rollback.error ?? 'see above'}; roll back with: agent-loop rollback`);
    }
    return watched.verdict === 'success' ? 0 : 1;
  }
  const aborting = command === 'abort';
  const result = await rollback(hosts, { ...rollbackSettings(all, context), target: rollbackTarget(inputs, aborting) }, started);
  if (json) process.stdout.write(`${terminalJson(result)}\n`);
  else {
    hostLines(result);
    if (result.abortedMonitorMs !== null) terminal.info(`the canary-monitor that held the hosts stopped ${result.abortedMonitorMs} ms after it was asked to (its verdict: aborted)`);
    if (result.ok) terminal.info(result.noop ? `nothing to do: ${result.version ?? 'the target'} already serves all traffic` : `${aborting ? 'aborted: ' : ''}rolled back to ${result.version} on ${result.hosts.length} host(s); traffic restored ${result.restoredMs} ms after the start`);
    else terminal.warn(`the rollback failed: ${result.error ?? 'see above'}`);
    if (!result.ok && result.candidates.length > 0) terminal.info(`versions a rollback can go to: ${result.candidates.join(', ')}`);
  }
  return result.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const usage = error instanceof ConfigurationError;
    process.stderr.write(`agent-loop: ${forTerminal(error instanceof Error ? error.message : String(error))}${usage ? `\n${USAGE}` : ''}\n`);
    process.exit(usage ? 2 : 1);
  },
);
