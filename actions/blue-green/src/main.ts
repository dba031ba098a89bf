import { action, systemClock } from '@agent-loop/shared/action';
import { bestEffort, createDeployment, githubContext, setDeploymentStatus, type DeploymentState } from '@agent-loop/shared/github';
import { buildRuntime, checkRuntimeInputs, deployPhaseInputs, field, healthPaths, hostInputs, promotePhaseInputs, readInputs, requireInput, resolveHosts, runtimeInputs, sessionFromInputs, type InputReader } from '@agent-loop/shared/inputs';
import { deploy, promote, fleetStatus, statusLines, statusSummary } from '@agent-loop/shared/procedures';
import { deploymentMetricsRecorder, metricsInputs, notifySlack, phaseSummary, rolloutEvents, type RolloutEvent } from '@agent-loop/shared/report';
import { cleanUpRun, type RunInfo, type PhaseResult } from '@agent-loop/shared/fleet';

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

const GIT_REF = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._/-]*$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

export const inputFields = {
  ...hostInputs,
  phase: field.choice(['deploy', 'promote', 'status'], 'deploy'),
  ...deployPhaseInputs,
  ...promotePhaseInputs,
  ...runtimeInputs,
  'github-token': field.secret({ form: 'a token with deployments: write, e.g. secrets.GITHUB_TOKEN' }),
  'deployment-ref': field.string({ form: 'the branch, tag or commit SHA being deployed, e.g. main or a 40-character SHA', pattern: GIT_REF, max: 255 }),
  'commit-time': field.string({ form: 'an ISO 8601 time with a zone, e.g. 2026-05-01T12:34:56Z', pattern: ISO_TIME, max: 40 }),
  'deployment-id': field.string({ form: 'the id of the GitHub deployment that phase deploy recorded (its deployment-id output)', pattern: /^\d{1,20}$/, max: 20 }),
  ...metricsInputs,
};

export function readSettings(read?: InputReader, env: NodeJS.ProcessEnv = process.env) {
  const inputs = readInputs(inputFields, read);
  const hosts = resolveHosts(inputs);
  if (inputs.phase === 'deploy') {
    requireInput(inputs.image !== '', 'image', 'is required for phase deploy: an image reference such as ghcr.io/org/app:1.2.3');
    requireInput(inputs.version !== '', 'version', 'is required for phase deploy: a version label such as v1.4.2');
    requireInput(inputs['deployment-id'] === '', 'deployment-id', 'is for phase promote only: phase deploy records a new deployment and outputs its id');
  }
  // A status starts and stops nothing: it needs no runtime.
  if (inputs.phase !== 'status') checkRuntimeInputs(inputs);
  requireInput(inputs['commit-time'] === '' || Number.isFinite(Date.parse(inputs['commit-time'])), 'commit-time', `expected a real ISO 8601 time such as 2026-05-01T12:34:56Z, got '${inputs['commit-time']}'`);
  const deploymentRef = inputs['deployment-ref'] || (env.GITHUB_SHA ?? '');
  requireInput(inputs['github-token'] === '' || inputs.phase !== 'deploy' || deploymentRef !== '', 'deployment-ref', 'is required with github-token when GITHUB_SHA is not set: the branch, tag or commit SHA being deployed');
  return { inputs, hosts, deploymentRef, github: githubContext(inputs['github-token'], env) };
}

/** The post step: settles what a killed main step left (a pending switch, its locks). */
export async function post(read?: InputReader): Promise<void> {
  const { inputs, hosts } = readSettings(read);
  // A status reads and takes no lock: there is nothing to settle after it.
  if (inputs.phase === 'status') return;
  const released = await cleanUpRun(hosts, sessionFromInputs(inputs, action.runInfo(), action.logger));
  if (released.length > 0) action.logger.warn(`the ${inputs.phase} did not finish; settled its traffic and released its lock on ${released.join(', ')}`);
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const { inputs, hosts, deploymentRef, github } = readSettings(read);
    const run = action.runInfo();
    if (inputs.phase === 'status') return reportStatus(inputs, hosts, run);
    const runtime = buildRuntime(inputs);
    const paths = healthPaths(inputs);
    const session = sessionFromInputs(inputs, run, action.logger, systemClock, action.cancellation.signal);
    const recordMetrics = deploymentMetricsRecorder(inputs, hosts, session.connect, action.logger);
    const label = `${inputs.app} ${inputs.phase}${inputs.version ? ` ${inputs.version}` : ''} to ${inputs.environment} (${hosts.length} host${hosts.length === 1 ? '' : 's'})`;
    const fields = { app: inputs.app, environment: inputs.environment, phase: inputs.phase, version: inputs.version || '(canary)', hosts: String(hosts.length) };
    await notifySlack(inputs['slack-webhook-url'], { event: 'started', title: `${label} started`, fields, runUrl: run.runUrl }, action.logger.warn);

    // The GitHub deployment record (DORA figures read it): created by deploy, completed by promote.
    // Without a token nothing is recorded; a failed call is a warning and never fails the phase.
    let deploymentId = inputs['deployment-id'] ? Number(inputs['deployment-id']) : null;
    if (github && inputs.phase === 'deploy') {
      deploymentId = await bestEffort('recording the GitHub deployment', action.logger.warn, () =>
        createDeployment(github, {
          ref: deploymentRef,
          environment: inputs.environment,
          description: `deploy ${inputs.app} ${inputs.version}`,
          payload: { app: inputs.app, version: inputs.version, image: inputs.image, commitTime: inputs['commit-time'] ? new Date(inputs['commit-time']).toISOString() : null },
        }),
      );
    }
    const recordStatus = async (state: DeploymentState, description: string): Promise<void> => {
      if (!github || deploymentId === null) return;
      const id = deploymentId;
      await bestEffort(`setting GitHub deployment ${id} to ${state}`, action.logger.warn, () => setDeploymentStatus(github, id, state, description, run.runUrl));
    };
    if (inputs.phase === 'deploy') await recordStatus('in_progress', `deploying ${inputs.version}`);

    let result: PhaseResult;
    try {
      result = await action.logger.group(label, () =>
        inputs.phase === 'deploy'
          ? deploy(hosts, {
              ...session,
              image: inputs.image,
              version: inputs.version,
              canaryPercent: inputs['canary-percent'],
              runtime,
              healthPaths: paths,
              healthTimeoutSeconds: inputs['health-timeout-seconds'],
              smokeRequests: inputs['smoke-requests'],
              preflight: { minFreeDiskMb: inputs['min-free-disk-mb'], minFreeMemoryMb: inputs['min-free-memory-mb'] },
              commandTimeoutSeconds: inputs['command-timeout-seconds'],
            })
          : promote(hosts, {
              ...session,
              version: inputs.version,
              runtime,
              healthPaths: paths,
              healthTimeoutSeconds: inputs['health-timeout-seconds'],
              drainSeconds: inputs['drain-seconds'],
              keepPrevious: inputs['keep-previous'],
              commandTimeoutSeconds: inputs['command-timeout-seconds'],
            }),
      );
    } catch (error) {
      await recordStatus('failure', `${inputs.phase} failed: ${(error as Error).message}`);
      await notifySlack(inputs['slack-webhook-url'], { event: 'failed', title: `${label} failed`, fields, error: (error as Error).message, runUrl: run.runUrl }, action.logger.warn);
      await recordMetrics(true, inputs.version);
      throw error;
    }

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
    if (!result.ok) await recordStatus('failure', `${inputs.phase} failed: ${result.error ?? 'see the run'}`);
    // Complete once the version serves all traffic: after promote, or a deploy that took it all at once.
    else if (inputs.phase === 'promote' || result.canaryPercent === 100) await recordStatus('success', `${result.version ?? inputs.version} serves all traffic`);
    // The event of this step, as the monitor's are: an annotation, and the deployment's description.
    const event: RolloutEvent | null = !result.ok
      ? null
      : inputs.phase === 'deploy' && result.canaryPercent < 100
        ? { kind: 'canary-started', message: `canary ${result.version ?? inputs.version} started at ${result.canaryPercent}% on ${result.hosts.length} host${result.hosts.length === 1 ? '' : 's'}` }
        : { kind: 'promoted', message: `${result.version ?? inputs.version} serves all traffic on ${result.hosts.length} host${result.hosts.length === 1 ? '' : 's'}` };
    if (event) await rolloutEvents({ app: inputs.app, environment: inputs.environment, annotate: action.annotate, deployment: github && deploymentId !== null ? { context: github, id: deploymentId, logUrl: run.runUrl } : null, warn: action.logger.warn })(event);
    await action.writeSummary(phaseSummary(inputs.app, result));
    await notifySlack(
      inputs['slack-webhook-url'],
      result.ok
        ? { event: 'completed', title: `${label} completed`, fields: { ...fields, 'active color': result.activeColor ?? '—', canary: `${result.canaryPercent}%` }, durationMs: result.durationMs, runUrl: run.runUrl }
        : { event: 'failed', title: `${label} failed`, fields, error: result.error, durationMs: result.durationMs, runUrl: run.runUrl },
      action.logger.warn,
    );
    await recordMetrics(!result.ok, result.version ?? inputs.version);
    if (!result.ok) throw new Error(result.error ?? `${inputs.phase} failed`);
  });
}

/** Phase status: what every host serves and holds, read without a lock; fails when a host could not be read. */
async function reportStatus(inputs: ReturnType<typeof readSettings>['inputs'], hosts: ReturnType<typeof readSettings>['hosts'], run: RunInfo): Promise<void> {
  const session = sessionFromInputs(inputs, run, action.logger);
  const statuses = await fleetStatus(hosts, { app: inputs.app, splitKey: inputs['split-key'], connect: session.connect, maxParallel: inputs['max-parallel'], clock: session.clock });
  for (const line of statusLines(inputs.app, statuses)) action.logger.info(line);
  action.setOutputs({ [Outputs.Status]: JSON.stringify(statuses) });
  await action.writeSummary(statusSummary(inputs.app, statuses));
  const unread = statuses.filter((status) => status.error);
  if (unread.length > 0) throw new Error(`${unread.length} of ${statuses.length} host(s) could not be read: ${unread.map((status) => status.host).join(', ')}`);
}
