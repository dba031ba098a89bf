import { action, systemClock } from '@agent-loop/shared/action';
import { githubContext } from '@agent-loop/shared/github';

import { checkRuntimeInputs, field, hostInputs, monitorPhaseInputs, monitorPolicy, monitorSettings, readFromRunner, readInputs, resolveHosts, runtimeInputs, sessionFromInputs, type InputReader } from '@agent-loop/shared/inputs';
import { monitor } from '@agent-loop/shared/procedures';
import { deploymentMetricsRecorder, metricsInputs, monitorSummary, notifySlack, progressLine, rolloutEvents, announceRollback } from '@agent-loop/shared/report';
import { cleanUpRun } from '@agent-loop/shared/fleet';

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
  ...runtimeInputs,
  ...metricsInputs,
  ...monitorPhaseInputs,
  'github-token': field.secret({ form: 'a token with deployments: write and issues: write, e.g. secrets.GITHUB_TOKEN' }),
  'failed-deployment-id': field.string({ form: 'the id of the GitHub deployment being watched', pattern: /^\d{1,20}$/, max: 20 }),
  'create-incident': field.boolean(true),
  'incident-severity': field.choice(['critical', 'high', 'medium', 'low'], 'critical'),
};

export function readSettings(read: InputReader = readFromRunner) {
  const inputs = readInputs(inputFields, read);
  checkRuntimeInputs(inputs);
  const policy = monitorPolicy(inputs);
  return { inputs, hosts: resolveHosts(inputs), policy };
}

/** The post step: settles what a killed main step left (a pending ramp switch, its locks). */
export async function post(read?: InputReader): Promise<void> {
  const { inputs, hosts } = readSettings(read);
  const released = await cleanUpRun(hosts, sessionFromInputs(inputs, action.runInfo(), action.logger));
  if (released.length > 0) action.logger.warn(`the monitor did not finish; released its lock on ${released.join(', ')}`);
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const { inputs, hosts, policy } = readSettings(read);
    const run = action.runInfo();
    const clock = systemClock;
    const session = sessionFromInputs(inputs, run, action.logger, clock, action.cancellation.signal);
    // The watched deployment's status follows each step while it runs.
    const github = githubContext(inputs['github-token']);
    const eventDeployment = github && inputs['failed-deployment-id'] ? { context: github, id: Number(inputs['failed-deployment-id']), logUrl: run.runUrl } : null;
    const result = await action.logger.group(`watch ${inputs.app} (${inputs.mode}) on ${hosts.length} host(s)`, () =>
      monitor(hosts, {
        ...monitorSettings(inputs, session, policy),
        onSample: (sample, current) => action.logger.info(progressLine(sample, current, current.colors.canary, current.colors.stable)),
        onEvent: rolloutEvents({
          app: inputs.app,
          environment: inputs.environment,
          annotate: action.annotate,
          // The rollback has its own message (announceRollback); the steps before it are said here.
          slack: { webhookUrl: inputs['slack-webhook-url'], kinds: ['weight-advanced', 'held', 'analysis-extended', 'halted', 'promoted'], runUrl: run.runUrl },
          deployment: eventDeployment,
          warn: action.logger.warn,
        }),
      }),
    );

    // The deployment metrics follow what the monitor did to traffic, as the rollback action and
    // blue-green write them: a rollback that put a version back is 0 for that version, one that
    // failed is 1; a ramp it promoted is 0; a failed canary it left in place is 1.
    const recordMetrics = deploymentMetricsRecorder(inputs, hosts, session.connect, action.logger);
    if (result.rollback) await recordMetrics(!result.rollback.ok, (result.rollback.ok ? result.rollback.version : result.canaryVersion) ?? '');
    else if (inputs.mode === 'ramp' && result.verdict === 'success') await recordMetrics(false, result.canaryVersion ?? '');
    else if (result.verdict === 'failure' || result.verdict === 'error') await recordMetrics(true, result.canaryVersion ?? '');

    let incidentUrl: string | null = null;
    if (result.rollback?.ok) {
      const announcement = await announceRollback(
        {
          app: inputs.app,
          environment: inputs.environment,
          trigger: `canary-monitor (${inputs.mode}): ${result.verdict}`,
          reason: result.reason,
          severity: inputs['incident-severity'],
          failedVersion: result.canaryVersion,
          targetVersion: result.rollback.version,
          restoredMs: result.rollbackMs,
          durationMs: result.rollback.durationMs,
          figures: result.analysis.rules.map((rule) => ({ name: rule.name, observed: rule.observed === null ? '—' : String(rule.observed), threshold: String(rule.threshold), window: `${rule.windowSeconds} s`, status: rule.status })),
          hosts: result.rollback.hosts,
          runUrl: run.runUrl,
          decidedAt: result.analysis.decidedAt,
        },
        {
          github: githubContext(inputs['github-token']),
          ref: process.env.GITHUB_SHA ?? 'main',
          createIncident: inputs['create-incident'],
          incidentLabels: ['canary'],
          failedDeploymentId: inputs['failed-deployment-id'] ? Number(inputs['failed-deployment-id']) : null,
          slackWebhookUrl: inputs['slack-webhook-url'],
          log: action.logger,
        },
      );
      incidentUrl = announcement.incidentUrl;
    } else if (result.verdict !== 'success') {
      await notifySlack(inputs['slack-webhook-url'], { event: 'failed', title: `${inputs.app} canary ${result.canaryVersion ?? ''}: ${result.verdict}`, fields: { reason: result.reason, environment: inputs.environment }, runUrl: run.runUrl }, action.logger.warn);
    }

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
    if (result.rollback && !result.rollback.ok) throw new Error(`the canary failed (${result.reason}) and the automatic rollback failed too: ${result.rollback.error ?? ''}`);
    if (result.verdict !== 'success') throw new Error(`canary ${result.verdict}: ${result.reason}${result.rollback?.ok ? ` — rolled back to ${result.rollback.version} in ${((result.rollbackMs ?? 0) / 1000).toFixed(1)} s` : ''}`);
  });
}
