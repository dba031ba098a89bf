import { action, systemClock } from '@agent-loop/shared/action';
import { githubContext } from '@agent-loop/shared/github';
import {
  checkRollbackRuntimeInputs,
  hostInputs,
  incidentInputs,
  monitorPhaseInputs,
  monitorPolicy,
  readFromRunner,
  readInputs,
  resolveHosts,
  rollbackRuntimeInputs,
  type InputReader,
} from '@agent-loop/shared/inputs';
import { monitor } from '@agent-loop/shared/procedures';
import {
  announceOptions,
  concludeMonitor,
  deploymentMetricsRecorder,
  metricsInputs,
  monitorSummary,
  progressLine,
  rolloutEvents,
} from '@agent-loop/shared/report';
import { cleanUpRun } from '@agent-loop/shared/fleet';
import { monitorSettings, sessionFromInputs } from '@agent-loop/shared/settings';

export const Outputs = {
  Verdict: 'verdict',
  Reason: 'reason',
  Rules: 'rules',
  DetectSeconds: 'detect-seconds',
  RolledBack: 'rolled-back',
  RollbackMs: 'rollback-ms',
  CanaryVersion: 'canary-version',
  IncidentUrl: 'incident-url',
} as const;

export const inputFields = {
  ...hostInputs,
  ...rollbackRuntimeInputs,
  ...metricsInputs,
  ...monitorPhaseInputs,
  ...incidentInputs({ severity: 'critical', failedDeployment: 'the GitHub deployment being watched' }),
};

export function readSettings(read: InputReader = readFromRunner) {
  const inputs = readInputs(inputFields, read);
  checkRollbackRuntimeInputs(inputs);
  const policy = monitorPolicy(inputs);
  return { inputs, hosts: resolveHosts(inputs), policy };
}

/** The post step: settles what a killed main step left (a pending ramp switch, its locks). */
export async function post(read?: InputReader): Promise<void> {
  const { inputs, hosts } = readSettings(read);
  const released = await cleanUpRun(hosts, sessionFromInputs(inputs, action.runInfo(), action.logger));
  if (released.length > 0)
    action.logger.warn(`the monitor did not finish; released its lock on ${released.join(', ')}`);
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const { inputs, hosts, policy } = readSettings(read);
    const run = action.runInfo();
    const clock = systemClock;
    const session = sessionFromInputs(inputs, run, action.logger, clock, action.cancellation.signal);
    // The watched deployment's status follows each step while it runs.
    const github = githubContext(inputs['github-token']);
    const eventDeployment =
      github && inputs['failed-deployment-id']
        ? { context: github, id: Number(inputs['failed-deployment-id']), logUrl: run.runUrl }
        : null;
    const result = await action.logger.group(`watch ${inputs.app} (${inputs.mode}) on ${hosts.length} host(s)`, () =>
      monitor(hosts, {
        ...monitorSettings(inputs, session, policy),
        onSample: (sample, current) =>
          action.logger.info(progressLine(sample, current, current.colors.canary, current.colors.stable)),
        onEvent: rolloutEvents({
          app: inputs.app,
          environment: inputs.environment,
          annotate: action.annotate,
          // The rollback has its own message (announceRollback); the steps before it are said here.
          slack: {
            webhookUrl: inputs['slack-webhook-url'],
            kinds: ['weight-advanced', 'held', 'analysis-extended', 'halted', 'promoted'],
            runUrl: run.runUrl,
          },
          deployment: eventDeployment,
          // The step's error says the verdict's reason and the rollback when the monitor fails.
          logOnly: { kinds: ['halted', 'rolled-back'], log: action.logger.info },
          warn: action.logger.warn,
        }),
      }),
    );

    const { incidentUrl } = await concludeMonitor(result, {
      app: inputs.app,
      environment: inputs.environment,
      mode: inputs.mode,
      severity: inputs['incident-severity'],
      runUrl: run.runUrl,
      recordMetrics: deploymentMetricsRecorder(inputs, hosts, session.connect, action.logger),
      announce: announceOptions(inputs, ['canary'], action.logger),
    });

    action.setOutputs({
      [Outputs.Verdict]: result.verdict,
      [Outputs.Reason]: result.reason,
      [Outputs.Rules]: JSON.stringify(result.analysis.rules),
      [Outputs.DetectSeconds]: result.analysis.detectSeconds === null ? '' : result.analysis.detectSeconds.toFixed(1),
      [Outputs.RolledBack]: String(Boolean(result.rollback?.ok)),
      [Outputs.RollbackMs]: result.rollbackMs,
      [Outputs.CanaryVersion]: result.canaryVersion,
      [Outputs.IncidentUrl]: incidentUrl,
    });
    await action.writeSummary(monitorSummary(inputs.app, result, incidentUrl));
    if (result.rollback && !result.rollback.ok)
      throw new Error(
        `the canary failed (${result.reason}) and the automatic rollback failed too: ${result.rollback.error ?? ''}`,
      );
    const rolledBack = result.rollback?.ok
      ? ` — rolled back to ${result.rollback.version} in ${((result.rollbackMs ?? 0) / 1000).toFixed(1)} s`
      : '';
    if (result.verdict !== 'success') throw new Error(`canary ${result.verdict}: ${result.reason}${rolledBack}`);
  });
}
