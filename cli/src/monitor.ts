import { systemClock, terminalJson } from '@agent-loop/shared/action';
import {
  checkRollbackRuntimeInputs,
  monitorPhaseInputs,
  monitorPolicy,
  rollbackRuntimeInputs,
} from '@agent-loop/shared/inputs';
import { monitor } from '@agent-loop/shared/procedures';
import { progressLine } from '@agent-loop/shared/report';
import { monitorSettings, sessionFromInputs } from '@agent-loop/shared/settings';
import { define, hostFields, HOSTS_EXAMPLE } from './command';
import { ExitCode } from './exit-codes';
import { ROLLBACK_RUNTIME_DESCRIPTION } from './phases';
import { hostLines, logFor, terminal } from './terminal';

/** canary-monitor's analysis from a terminal: a line per interval, an event per step, then the verdict. */
export const monitorCommand = define({
  name: 'monitor',
  summary:
    "canary-monitor's analysis: a line per interval (requests, error rate and P95 per color), an event per step, " +
    'the rollback it makes on its own (--auto-rollback false to only judge), then the verdict',
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
