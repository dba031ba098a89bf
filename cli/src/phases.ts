import { systemClock, terminalJson } from '@agent-loop/shared/action';
import {
  checkRollbackRuntimeInputs,
  checkRuntimeInputs,
  deployPhaseInputs,
  promotePhaseInputs,
  reasonField,
  rollbackPhaseInputs,
  rollbackRuntimeInputs,
  rollbackTarget,
  runtimeInputs,
} from '@agent-loop/shared/inputs';
import { deploy, promote } from '@agent-loop/shared/procedures';
import { rollback } from '@agent-loop/shared/rollback';
import { deploySettings, promoteSettings, rollbackSettings } from '@agent-loop/shared/settings';
import {
  define,
  hostFields,
  HOSTS_EXAMPLE,
  RUNTIME_EXAMPLE,
  type Connection,
  type Context,
  type Values,
} from './command';
import { ExitCode } from './exit-codes';
import { hostLines, logFor, phaseExit, refusal, terminal } from './terminal';

/** The phases that change traffic: the blue-green action's deploy and promote, the rollback action's nginx method. */

/** The runtime of a rollback (rollback, abort, monitor): as recorded unless named (rollback/rollback.ts). */
export const ROLLBACK_RUNTIME_DESCRIPTION =
  'Leave empty to stop and start each color with the runtime recorded with the release it runs (every deploy records ' +
  'its runtime and commands); or compose or command, then used for every color with its compose-file or start-command ' +
  'and stop-command. A release deployed before runtimes were recorded needs it named: until then the rollback refuses ' +
  'and touches nothing.';

export const deployCommand = define({
  name: 'deploy',
  summary:
    "the blue-green action's deploy phase: the new version on the idle color, checked (preflight, health, smoke requests), " +
    'then its canary share',
  usage: 'deploy --image IMAGE --version V [--canary-percent N] [options]',
  example:
    'agent-loop deploy --image ghcr.io/org/agent-loop:1.4.2 --version v1.4.2 --canary-percent 10 ' +
    `${RUNTIME_EXAMPLE} ${HOSTS_EXAMPLE}`,
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
          `deployed ${deployed.version} on ${deployed.hosts.length} host(s) as ${deployed.activeColor}, ` +
            `taking ${deployed.canaryPercent}% of traffic`,
        );
      else if (deployed.refused) return refusal(deployed, `the hosts refused the deploy of ${inputs.version}`);
      else terminal.warn(`the deploy failed: ${deployed.error ?? 'see above'}`);
    }
    return phaseExit(deployed);
  },
});

export const promoteCommand = define({
  name: 'promote',
  summary:
    "the blue-green action's promote phase: the canary takes all traffic, then the old color is drained and stopped; " +
    'with --version, the canary must run that version',
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
      `the canary-monitor that held the hosts stopped ${result.abortedMonitorMs} ms after it was asked to ` +
        '(its verdict: aborted)',
    );
  if (result.ok) {
    terminal.info(
      result.noop
        ? `nothing to do: ${result.version ?? 'the target'} already serves all traffic`
        : `${aborting ? 'aborted: ' : ''}rolled back to ${result.version} on ${result.hosts.length} host(s); ` +
            `traffic restored ${result.restoredMs} ms after the start`,
    );
    return ExitCode.ok;
  }
  if (result.refused) return refusal(result, aborting ? 'nothing to abort' : 'nothing to roll back');
  terminal.warn(`the rollback failed: ${result.error ?? 'see above'}`);
  if (result.candidates.length > 0) terminal.info(`versions a rollback can go to: ${result.candidates.join(', ')}`);
  return ExitCode.failed;
}

export const rollbackCommand = define({
  name: 'rollback',
  summary:
    "the rollback action's nginx method: all traffic back to the last good version (or --target-version), " +
    'with the same lock, write-ahead state, audit log and cancellation',
  usage: 'rollback [--target-version V] [--reason TEXT] [--keep-failed] [options]',
  example: `agent-loop rollback --reason "checkout errors since v1.4.2" ${HOSTS_EXAMPLE}`,
  action: 'rollback',
  fields: { ...hostFields, ...rollbackRuntimeInputs, ...rollbackInputs },
  descriptions: { reason: "Why, recorded in the hosts' state and audit log.", runtime: ROLLBACK_RUNTIME_DESCRIPTION },
  check: (inputs) => checkRollbackRuntimeInputs(inputs),
  run: (inputs, context) => rollBack(inputs, context, false),
});

export const abortCommand = define({
  name: 'abort',
  summary:
    'ends a canary or a ramp now: a canary-monitor that holds the hosts is asked to stop (verdict aborted) and all ' +
    'traffic goes back to the stable version; never goes back from a promoted release (that is rollback)',
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
