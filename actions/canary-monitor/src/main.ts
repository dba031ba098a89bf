import { action, ConfigurationError, systemClock } from '@agent-loop/shared/action';
import { DEFAULT_POLICY_YAML, DEFAULT_ROLLBACK_ON, parsePolicy, type Verdict } from '@agent-loop/shared/analysis';
import { announceRollback, githubContext } from '@agent-loop/shared/github';
import { cleanUpRun } from '@agent-loop/shared/hosts';
import { buildRuntime, checkRuntimeInputs, field, healthPaths, hostInputs, HOST_PATH, readFromRunner, readInputs, requireInput, resolveHosts, runtimeInputs, sessionFromInputs, URL_PATH, z, type InputReader } from '@agent-loop/shared/inputs';
import { monitor, type SourceKind } from '@agent-loop/shared/procedures';
import { deploymentMetricsRecorder, metricsInputs, monitorSummary, notifySlack, progressLine, rolloutEvents } from '@agent-loop/shared/report';
import { parse as parseYaml } from 'yaml';

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

const SOURCES = ['nginx-log', 'host', 'probe', 'prometheus'] as const;
const VERDICTS = ['failure', 'error', 'inconclusive'] as const;

/** `a, b` reads as `[a, b]`, so comma lists and YAML lists read the same (in the field itself, so its default is checked like any value). */
function commaList<S extends z.ZodType<unknown, string>>(schema: S) {
  return z
    .string()
    .transform((raw) => (raw !== '' && !raw.startsWith('[') && !raw.startsWith('-') ? `[${raw}]` : raw))
    .pipe(schema);
}

function list<T extends string>(allowed: readonly T[], defaultValue: string, what: string) {
  return commaList(field.yaml(z.array(z.enum(allowed as unknown as [T, ...T[]])).min(1), { form: `${what}: a comma-separated list of ${allowed.join(', ')}`, default: `[${defaultValue}]` }));
}

export const inputFields = {
  ...hostInputs,
  ...runtimeInputs,
  ...metricsInputs,
  mode: field.choice(['canary', 'ramp', 'post-promotion'], 'canary'),
  policy: field.string({ form: 'a YAML analysis policy (see the README)', pattern: /^[\s\S]*$/, max: 20_000 }),
  duration: field.integer({ min: 0, max: 86_400, default: 0, unit: 'seconds of analysis per step; 0 keeps the policy\'s (300)' }),
  interval: field.integer({ min: 0, max: 3600, default: 0, unit: 'seconds between samples; 0 keeps the policy\'s (5)' }),
  steps: commaList(field.yaml(z.array(z.number().int().min(1).max(100)).min(1).max(20), { form: 'canary shares for a ramp, increasing, e.g. 10,25,50,100', default: '[10, 25, 50, 100]' })),
  model: field.boolean(false),
  sources: list(SOURCES, 'nginx-log, host', 'metric sources'),
  'access-log': field.string({ form: "the app's nginx access log in the agent_loop format (absolute, or relative to the SSH user's home)", pattern: HOST_PATH, default: '/var/log/nginx/access.log', max: 512 }),
  'prometheus-url': field.string({ form: 'the Prometheus base URL reachable from the runner, e.g. http://prometheus.internal:9090', pattern: /^https?:\/\/[A-Za-z0-9.:[\]_-]+(\/[A-Za-z0-9._~/-]*)?$/, max: 512 }),
  'prometheus-queries': field.yaml(z.partialRecord(z.enum(['requests', 'errors', 'latencyBuckets', 'memory', 'drift']), z.string().max(2000).nullable()).optional(), { form: 'a YAML mapping of PromQL templates with {app} {color} {version} {window}', default: '{}' }),
  'probe-path': field.string({ form: 'a URL path the probe requests', pattern: URL_PATH, default: '/health' }),
  'probe-requests': field.integer({ min: 1, max: 100, default: 3, unit: 'requests per color per sample' }),
  memory: field.choice(['host', 'compose', 'none'], 'host'),
  'auto-rollback': field.boolean(true),
  'rollback-on': list(VERDICTS, DEFAULT_ROLLBACK_ON.join(', '), 'verdicts that roll back'),
  'keep-failed': field.boolean(false),
  'github-token': field.secret({ form: 'a token with deployments: write and issues: write, e.g. secrets.GITHUB_TOKEN' }),
  'failed-deployment-id': field.string({ form: 'the id of the GitHub deployment being watched', pattern: /^\d{1,20}$/, max: 20 }),
  'create-incident': field.boolean(true),
  'incident-severity': field.choice(['critical', 'high', 'medium', 'low'], 'critical'),
};

export function readSettings(read: InputReader = readFromRunner) {
  const inputs = readInputs(inputFields, read);
  checkRuntimeInputs(inputs);
  let document: Record<string, unknown>;
  try {
    const parsed: unknown = parseYaml(inputs.policy === '' ? DEFAULT_POLICY_YAML : inputs.policy);
    document = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) throw new Error('expected a mapping');
  } catch (error) {
    throw new ConfigurationError(`Input 'policy': is not a valid YAML mapping (${(error as Error).message.split('\n')[0]})`);
  }
  if (inputs.duration > 0) document.duration = inputs.duration;
  if (inputs.interval > 0) document.interval = inputs.interval;
  let policy;
  try {
    policy = parsePolicy(document);
  } catch (error) {
    throw new ConfigurationError(`Input 'policy': ${(error as Error).message}`);
  }
  const steps = inputs.steps;
  requireInput(steps.every((step, index) => index === 0 || step > (steps[index - 1] as number)), 'steps', `must increase, got ${steps.join(', ')}`);
  requireInput(!inputs.sources.includes('prometheus') || inputs['prometheus-url'] !== '', 'prometheus-url', 'is required when sources include prometheus');
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
        ...session,
        policy,
        mode: inputs.mode,
        steps: inputs.steps,
        model: inputs.model,
        sources: inputs.sources as SourceKind[],
        prometheus: inputs['prometheus-url'] ? { url: inputs['prometheus-url'], queries: inputs['prometheus-queries'] ?? {} } : null,
        healthPath: inputs['health-path'],
        probePath: inputs['probe-path'],
        probeRequests: inputs['probe-requests'],
        memory: inputs.memory,
        autoRollback: inputs['auto-rollback'],
        rollbackOn: inputs['rollback-on'] as Verdict[],
        rollback: {
          reason: '',
          runtime: buildRuntime(inputs),
          healthPaths: healthPaths(inputs),
          healthTimeoutSeconds: inputs['health-timeout-seconds'],
          keepFailed: inputs['keep-failed'],
          commandTimeoutSeconds: inputs['command-timeout-seconds'],
        },
        onSample: (sample, current) => action.logger.info(progressLine(sample, current, current.colors.canary, current.colors.stable)),
        onEvent: rolloutEvents({
          app: inputs.app,
          environment: inputs.environment,
          annotate: action.annotate,
          // The rollback has its own message (announceRollback); the steps before it are said here.
          slack: { webhookUrl: inputs['slack-webhook-url'], kinds: ['weight-advanced', 'analysis-extended', 'halted', 'promoted'], runUrl: run.runUrl },
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
