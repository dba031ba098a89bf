import { action, requireInput, systemClock, type RunInfo } from '@agent-loop/shared/action';
import { githubContext } from '@agent-loop/shared/github';
import {
  accessLogInput,
  checkRuntimeInputs,
  deployPhaseInputs,
  deploymentRecord,
  deploymentRecordInputs,
  field,
  hostInputs,
  promotePhaseInputs,
  readInputs,
  resolveHosts,
  runtimeInputs,
  type InputReader,
} from '@agent-loop/shared/inputs';
import { deploy, promote, fleetStatus, statusLines, statusSummary } from '@agent-loop/shared/procedures';
import { deploymentMetricsRecorder, metricsInputs, phaseSummary, recordedPhase } from '@agent-loop/shared/report';
import { cleanUpRun, type PhaseResult } from '@agent-loop/shared/fleet';
import { deploySettings, promoteSettings, sessionFromInputs } from '@agent-loop/shared/settings';

export const Outputs = {
  ActiveColor: 'active-color',
  PreviousColor: 'previous-color',
  Version: 'version',
  PreviousVersion: 'previous-version',
  CanaryPercent: 'canary-percent',
  SwitchMs: 'switch-ms',
  Report: 'report',
  DeploymentId: 'deployment-id',
  Status: 'status',
} as const;

export const inputFields = {
  ...hostInputs,
  // Where the deploy marks the access log at the switch: the monitor's access-log, same default.
  'access-log': accessLogInput,
  phase: field.choice(['deploy', 'promote', 'status'], 'deploy'),
  ...deployPhaseInputs,
  ...promotePhaseInputs,
  ...runtimeInputs,
  ...deploymentRecordInputs,
  ...metricsInputs,
};

export function readSettings(read?: InputReader, env: NodeJS.ProcessEnv = process.env) {
  const inputs = readInputs(inputFields, read);
  const hosts = resolveHosts(inputs);
  if (inputs.phase === 'deploy') {
    requireInput(
      inputs.image !== '',
      'image',
      'is required for phase deploy: an image reference such as ghcr.io/org/app:1.2.3',
    );
    requireInput(inputs.version !== '', 'version', 'is required for phase deploy: a version label such as v1.4.2');
  }
  // A status starts and stops nothing: it needs no runtime.
  if (inputs.phase !== 'status') checkRuntimeInputs(inputs);
  return {
    inputs,
    hosts,
    deployment: deploymentRecord(inputs, env),
    github: githubContext(inputs['github-token'], env),
  };
}

/** The post step: settles what a killed main step left (a pending switch, its locks). */
export async function post(read?: InputReader): Promise<void> {
  const { inputs, hosts } = readSettings(read);
  // A status reads and takes no lock: there is nothing to settle after it.
  if (inputs.phase === 'status') return;
  const released = await cleanUpRun(hosts, sessionFromInputs(inputs, action.runInfo(), action.logger));
  if (released.length > 0)
    action.logger.warn(
      `the ${inputs.phase} did not finish; settled its traffic and released its lock on ${released.join(', ')}`,
    );
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const { inputs, hosts, deployment, github } = readSettings(read);
    const run = action.runInfo();
    if (inputs.phase === 'status') return reportStatus(inputs, hosts, run);
    const context = { run, log: action.logger, clock: systemClock, signal: action.cancellation.signal };
    const { result, deploymentId } = await recordedPhase(
      {
        app: inputs.app,
        environment: inputs.environment,
        phase: inputs.phase,
        version: inputs.version,
        hosts: hosts.length,
        slackWebhookUrl: inputs['slack-webhook-url'],
        github,
        deployment,
        runUrl: run.runUrl,
        annotate: action.annotate,
        log: action.logger,
        recordMetrics: deploymentMetricsRecorder(
          inputs,
          hosts,
          sessionFromInputs(inputs, run, action.logger).connect,
          action.logger,
        ),
      },
      (): Promise<PhaseResult> =>
        inputs.phase === 'deploy'
          ? deploy(hosts, deploySettings(inputs, context))
          : promote(hosts, promoteSettings(inputs, context)),
    );
    action.setOutputs({
      [Outputs.ActiveColor]: result.activeColor,
      [Outputs.PreviousColor]: result.previousColor,
      [Outputs.Version]: result.version,
      [Outputs.PreviousVersion]: result.previousVersion,
      [Outputs.CanaryPercent]: result.canaryPercent,
      [Outputs.SwitchMs]: result.switchMs,
      [Outputs.Report]: JSON.stringify(result.hosts),
      [Outputs.DeploymentId]: deploymentId,
    });
    await action.writeSummary(phaseSummary(inputs.app, result));
    if (!result.ok) throw new Error(result.error ?? `${inputs.phase} failed`);
  });
}

/** Phase status: what every host serves and holds, read without a lock; fails when a host could not be read. */
async function reportStatus(
  inputs: ReturnType<typeof readSettings>['inputs'],
  hosts: ReturnType<typeof readSettings>['hosts'],
  run: RunInfo,
): Promise<void> {
  const session = sessionFromInputs(inputs, run, action.logger);
  const statuses = await fleetStatus(hosts, {
    app: inputs.app,
    router: inputs.router,
    splitKey: inputs['split-key'],
    connect: session.connect,
    maxParallel: inputs['max-parallel'],
    clock: session.clock,
    log: session.log,
  });
  for (const line of statusLines(inputs.app, statuses)) action.logger.info(line);
  action.setOutputs({ [Outputs.Status]: JSON.stringify(statuses) });
  await action.writeSummary(statusSummary(inputs.app, statuses));
  const unread = statuses.filter((status) => status.error);
  if (unread.length > 0)
    throw new Error(
      `${unread.length} of ${statuses.length} host(s) could not be read: ${unread.map((status) => status.host).join(', ')}`,
    );
}
