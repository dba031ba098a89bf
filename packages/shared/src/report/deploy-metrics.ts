import { errorMessage, settleLimit, type Logger } from '../action';
import { field } from '../inputs';
import { connect, script, type Argv, type ConnectOptions, type HostSpec, type Remote } from '../hosts';

/**
 * Deployment metrics for Prometheus without a Pushgateway: a file for node_exporter's textfile
 * collector on each host (`--collector.textfile.directory`), rewritten after every deploy, promote
 * and rollback. `agent_loop_deployment_failed{app,environment,version}` is what the shipped
 * `DeploymentFailed` alert watches: 1 after a failure, 0 after the next success, which resolves it.
 */
export interface MetricsOutcome {
  app: string;
  environment: string;
  version: string;
  failed: boolean;
  /** Seconds since the epoch. */
  time: number;
}

/** node_exporter reads `*.prom` files only: one per app and environment, so apps never overwrite each other. */
export function metricsFileName(app: string, environment: string): string {
  return `agent_loop_${app}_${environment}.prom`.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** Prometheus text format label value: backslash, double quote and new line escaped. */
function labelValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

export function deploymentMetricsText(outcome: MetricsOutcome): string {
  const labels = `app="${labelValue(outcome.app)}",environment="${labelValue(outcome.environment)}"`;
  const withVersion = `${labels},version="${labelValue(outcome.version)}"`;
  return [
    '# HELP agent_loop_deployment_failed 1 when the last deployment of this app to this environment failed, 0 when it succeeded.',
    '# TYPE agent_loop_deployment_failed gauge',
    `agent_loop_deployment_failed{${withVersion}} ${outcome.failed ? 1 : 0}`,
    '# HELP agent_loop_last_deployment_timestamp_seconds When the last deployment of this app to this environment ended.',
    '# TYPE agent_loop_last_deployment_timestamp_seconds gauge',
    `agent_loop_last_deployment_timestamp_seconds{${labels}} ${Math.floor(outcome.time)}`,
    ...(outcome.failed
      ? []
      : [
          '# HELP agent_loop_deployed_version_info The version serving this app in this environment after the last successful deployment.',
          '# TYPE agent_loop_deployed_version_info gauge',
          `agent_loop_deployed_version_info{${withVersion}} 1`,
        ]),
    '',
  ].join('\n');
}

/**
 * Writes stdin to DIR/FILE atomically: a temporary name node_exporter ignores (not *.prom) in the
 * same directory, then a rename, so a scrape never sees half a file. The directory must exist.
 */
const WRITE_SCRIPT = `dir=$1; file=$2
[ -d "$dir" ] || { echo "the textfile collector directory $dir does not exist" >&2; exit 2; }
tmp="$dir/.$file.$$.tmp"
cat > "$tmp" && chmod 0644 "$tmp" && mv -f "$tmp" "$dir/$file" || { rm -f "$tmp"; exit 1; }`;

export function writeMetricsCommand(directory: string, fileName: string): Argv {
  return script('al-metrics', WRITE_SCRIPT, [directory, fileName]);
}

export async function writeDeploymentMetrics(
  remote: Remote,
  directory: string,
  outcome: MetricsOutcome,
): Promise<void> {
  const result = await remote.run(writeMetricsCommand(directory, metricsFileName(outcome.app, outcome.environment)), {
    stdin: deploymentMetricsText(outcome),
    timeoutMs: 30_000,
  });
  if (result.code !== 0)
    throw new Error(`${remote.label}: writing deployment metrics failed: ${(result.stderr || result.stdout).trim()}`);
}

/**
 * Records the outcome on every host (its own connection, after the phase's sessions are closed).
 * Never fails the deploy: a host that cannot be written is a warning.
 */
export async function recordDeploymentMetrics(
  hosts: readonly HostSpec[],
  directory: string,
  outcome: MetricsOutcome,
  connectOptions: ConnectOptions,
  maxParallel: number,
  log: Logger,
): Promise<void> {
  if (directory === '') return;
  const results = await settleLimit(hosts, maxParallel, async (spec) => {
    const remote = await connect(spec.target, { ...connectOptions, attempts: 1, warn: log.warn });
    try {
      await writeDeploymentMetrics(remote, directory, outcome);
    } finally {
      remote.close();
    }
  });
  results.forEach((result, index) => {
    if (!result.ok)
      log.warn(`${hosts[index]!.target.label}: deployment metrics not written: ${errorMessage(result.error)}`);
  });
}

/** The input that turns the metrics on, shared by the actions that write them. */
export const metricsInputs = {
  'metrics-textfile-dir': field.string({
    form: "node_exporter's textfile collector directory on the hosts (absolute, e.g. /var/lib/prometheus/node-exporter), or empty for none",
    pattern: /^\/(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/+@-]*$/,
    default: '',
  }),
};

/** For an action's main: records an outcome on its hosts with its connection settings (a no-op without the input). */
export function deploymentMetricsRecorder(
  inputs: { 'metrics-textfile-dir': string; app: string; environment: string; 'max-parallel': number },
  hosts: readonly HostSpec[],
  connectOptions: ConnectOptions,
  log: Logger,
) {
  return (failed: boolean, version: string, now = Date.now()): Promise<void> =>
    recordDeploymentMetrics(
      hosts,
      inputs['metrics-textfile-dir'],
      { app: inputs.app, environment: inputs.environment, version: version || 'unknown', failed, time: now / 1000 },
      connectOptions,
      inputs['max-parallel'],
      log,
    );
}
