import {
  action,
  buildRuntime,
  checkRuntimeInputs,
  deploy,
  DEFAULT_SMOKE_REQUESTS,
  field,
  healthPaths,
  hostInputs,
  IMAGE_REF,
  notifySlack,
  phaseSummary,
  promote,
  readInputs,
  requireInput,
  resolveHosts,
  runtimeInputs,
  sessionFromInputs,
  smokeListSchema,
  VERSION,
  type InputReader,
  type PhaseResult,
} from '@agent-loop/shared';

export const Outputs = {
  ActiveColor: 'active-color',
  PreviousColor: 'previous-color',
  Version: 'version',
  PreviousVersion: 'previous-version',
  CanaryPercent: 'canary-percent',
  SwitchMs: 'switch-ms',
  Report: 'report',
} as const;

export const inputFields = {
  ...hostInputs,
  phase: field.choice(['deploy', 'promote'], 'deploy'),
  image: field.string({ form: 'an image reference such as ghcr.io/org/app:1.2.3 (lower-case name, optional tag or @sha256 digest)', pattern: IMAGE_REF, max: 512 }),
  version: field.string({ form: 'a version label of letters, digits, . _ + - (e.g. v1.4.2 or sha-1a2b3c4)', pattern: VERSION, max: 128 }),
  'canary-percent': field.integer({ min: 0, max: 100, default: 10, unit: 'percent of requests for the new color' }),
  ...runtimeInputs,
  'smoke-requests': field.yaml(smokeListSchema, { form: 'a YAML list of {method, path, body, status, max-latency-ms, contains}', default: DEFAULT_SMOKE_REQUESTS }),
  'drain-seconds': field.integer({ min: 0, max: 3600, default: 10, unit: 'seconds' }),
  'keep-previous': field.boolean(false),
  'min-free-disk-mb': field.integer({ min: 0, max: 10_000_000, default: 1024, unit: 'MB' }),
  'min-free-memory-mb': field.integer({ min: 0, max: 10_000_000, default: 256, unit: 'MB' }),
};

export function readSettings(read?: InputReader) {
  const inputs = readInputs(inputFields, read);
  const hosts = resolveHosts(inputs);
  if (inputs.phase === 'deploy') {
    requireInput(inputs.image !== '', 'image', 'is required for phase deploy: an image reference such as ghcr.io/org/app:1.2.3');
    requireInput(inputs.version !== '', 'version', 'is required for phase deploy: a version label such as v1.4.2');
  }
  checkRuntimeInputs(inputs);
  return { inputs, hosts };
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const { inputs, hosts } = readSettings(read);
    const run = action.runInfo();
    const runtime = buildRuntime(inputs);
    const paths = healthPaths(inputs);
    const session = sessionFromInputs(inputs, run, action.logger);
    const label = `${inputs.app} ${inputs.phase}${inputs.version ? ` ${inputs.version}` : ''} to ${inputs.environment} (${hosts.length} host${hosts.length === 1 ? '' : 's'})`;
    const fields = { app: inputs.app, environment: inputs.environment, phase: inputs.phase, version: inputs.version || '(canary)', hosts: String(hosts.length) };
    await notifySlack(inputs['slack-webhook-url'], { event: 'started', title: `${label} started`, fields, runUrl: run.runUrl }, action.logger.warn);

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
      await notifySlack(inputs['slack-webhook-url'], { event: 'failed', title: `${label} failed`, fields, error: (error as Error).message, runUrl: run.runUrl }, action.logger.warn);
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
    });
    await action.writeSummary(phaseSummary(inputs.app, result));
    await notifySlack(
      inputs['slack-webhook-url'],
      result.ok
        ? { event: 'completed', title: `${label} completed`, fields: { ...fields, 'active color': result.activeColor ?? '—', canary: `${result.canaryPercent}%` }, durationMs: result.durationMs, runUrl: run.runUrl }
        : { event: 'failed', title: `${label} failed`, fields, error: result.error, durationMs: result.durationMs, runUrl: run.runUrl },
      action.logger.warn,
    );
    if (!result.ok) throw new Error(result.error ?? `${inputs.phase} failed`);
  });
}
