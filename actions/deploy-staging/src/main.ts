import { z } from 'zod';
import { action, requireInput, systemClock } from '@agent-loop/shared/action';
import {
  ansibleInputs,
  checkRuntimeInputs,
  collectionsRequirements,
  deployPhaseInputs,
  field,
  hostInputs,
  hostsField,
  privateKeyField,
  promotePhaseInputs,
  readInputs,
  resolveHosts,
  runtimeInputs,
  type InputReader,
} from '@agent-loop/shared/inputs';
import { APP_NAME, HOST_PATH } from '@agent-loop/shared/vocabulary';
import { PRE_TRAFFIC_SMOKE } from '@agent-loop/shared/runtime';
import {
  imageTag,
  stagingSummary,
  stagingTestInputs,
  testStaging,
  type StagingReport,
} from '@agent-loop/shared/staging';
import { deployWithAnsible, deployWithCompose } from './deploy';
import { colorSettings } from '@agent-loop/shared/settings';

export const Outputs = {
  Report: 'report',
  SmokePassed: 'smoke-passed',
  LoadPassed: 'load-passed',
  P95Ms: 'p95-ms',
  ErrorRate: 'error-rate',
  AchievedRatePerMinute: 'achieved-rate-per-minute',
} as const;

/** http(s)://host[:port][/path]: no credentials (they would be printed), no query or fragment. */
const HOST_LABEL = /[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?/.source;
const BASE_URL = new RegExp(
  `^https?:\\/\\/(?:${HOST_LABEL}(?:\\.${HOST_LABEL})*|\\[[0-9A-Fa-f:.]+\\])` +
    `(?::\\d{1,5})?(?:\\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?$`,
);
// Slack is not part of this action: the workflow's own steps report staging.
const { 'slack-webhook-url': _slack, ...hostFields } = hostInputs;

export const inputFields = {
  method: field.choice(['ansible', 'ssh-compose', 'none'], 'ansible'),
  // Credentials in a URL would land in logs, the report and the summary; refused without echoing them.
  'base-url': z
    .string()
    .refine(
      (value) => !/^[^/]*\/\/[^/]*@/.test(value),
      'must not contain credentials (user:password@); the value is not shown',
    )
    .pipe(
      field.string({
        form: 'the staging URL as the runner reaches it, http(s)://host[:port][/path], without credentials, query or fragment',
        pattern: BASE_URL,
        required: true,
        max: 2048,
      }),
    ),
  image: deployPhaseInputs.image,
  version: deployPhaseInputs.version,
  ...ansibleInputs,
  requirements: field.string({
    form: 'a requirements.yml path in the workspace, or none',
    pattern: HOST_PATH,
    max: 512,
  }),
  ...hostFields,
  hosts: hostsField({ required: false }),
  'ssh-private-key': privateKeyField(false),
  app: field.string({
    form: 'an application name of lower-case letters, digits and hyphens, starting with a letter (at most 40)',
    pattern: APP_NAME,
    max: 40,
  }),
  environment: field.string({
    form: 'an environment name such as staging',
    pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    default: 'staging',
  }),
  ...runtimeInputs,
  'drain-seconds': promotePhaseInputs['drain-seconds'],
  'min-free-disk-mb': deployPhaseInputs['min-free-disk-mb'],
  'min-free-memory-mb': deployPhaseInputs['min-free-memory-mb'],
  ...stagingTestInputs,
};

export function readSettings(read?: InputReader) {
  const inputs = readInputs(inputFields, read);
  const method = inputs.method;
  requireInput(
    URL.canParse(inputs['base-url']),
    'base-url',
    `expected http(s)://host[:port][/path], got a URL that does not parse`,
  );
  const version = inputs.version || imageTag(inputs.image) || '';
  if (method !== 'none')
    requireInput(
      inputs.image !== '',
      'image',
      `is required for method ${method}: an image reference such as ghcr.io/org/app:1.2.3`,
    );
  const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd();
  let requirements: string | null = null;
  if (method === 'ansible') {
    requireInput(
      inputs.playbook !== '',
      'playbook',
      'is required for method ansible: the playbook that deploys staging',
    );
    requireInput(inputs.inventory !== '', 'inventory', 'is required for method ansible: the staging inventory');
    requirements = collectionsRequirements(inputs, workspace);
  }
  if (method === 'ssh-compose') {
    requireInput(inputs.app !== '', 'app', 'is required for method ssh-compose: the application name on the hosts');
    requireInput(inputs.hosts.length > 0, 'hosts', 'is required for method ssh-compose: one or more user@host[:port]');
    requireInput(inputs['ssh-private-key'] !== '', 'ssh-private-key', 'is required for method ssh-compose');
    requireInput(
      version !== '',
      'version',
      'is required for method ssh-compose when the image has no tag: a version label such as v1.4.2',
    );
    checkRuntimeInputs(inputs);
  }
  const hosts = method === 'ssh-compose' ? resolveHosts({ ...inputs, 'slack-webhook-url': '' }) : [];
  return { inputs, version, hosts, workspace, requirements };
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const { inputs, version, hosts, workspace, requirements } = readSettings(read);
    const clock = systemClock;
    const baseUrl = inputs['base-url'].replace(/\/+$/, '');
    const report: StagingReport = {
      baseUrl,
      image: inputs.image,
      version,
      deploy: { method: inputs.method, ok: true, durationMs: 0, detail: 'nothing deployed: testing staging as it is' },
      smoke: null,
      load: null,
      passed: false,
      reason: null,
    };

    // 1. Deploy.
    if (inputs.method === 'ansible') {
      report.deploy = await deployWithAnsible(
        {
          playbook: inputs.playbook,
          inventory: inputs.inventory,
          limit: inputs['ansible-limit'],
          requirements,
          // `environment` is the procedure's name, but in a task `{{ environment }}` reads the play
          // keyword (hostvars[inventory_hostname].environment reads the variable): deploy_environment too.
          extraVars: {
            environment: inputs.environment,
            deploy_environment: inputs.environment,
            docker_image: inputs.image,
          },
          workspace,
          timeoutMs: inputs['command-timeout-seconds'] * 1000,
          privateKey: inputs['ssh-private-key'],
          knownHosts: inputs['ssh-known-hosts'],
        },
        clock.now,
      );
    } else if (inputs.method === 'ssh-compose') {
      const common = {
        ...colorSettings({ ...inputs, 'slack-webhook-url': '' }, { run: action.runInfo(), log: action.logger, clock }),
        version,
      };
      // Before traffic each check is sent once (unless it says otherwise), within this action's budget.
      const smokeDefaults = { ...PRE_TRAFFIC_SMOKE, p95BudgetMs: inputs['p95-budget-ms'] };
      report.deploy = await deployWithCompose(
        hosts,
        {
          ...common,
          image: inputs.image,
          canaryPercent: 100,
          smokeRequests: inputs['smoke-checks'],
          smokeDefaults,
          preflight: { minFreeDiskMb: inputs['min-free-disk-mb'], minFreeMemoryMb: inputs['min-free-memory-mb'] },
        },
        { ...common, drainSeconds: inputs['drain-seconds'], keepPrevious: false },
        clock.now,
      );
    }
    const verdict = await testStaging(report, inputs, action.logger, clock);

    // Outputs, summary, verdict.
    const load = report.load && 'skipped' in report.load ? null : report.load;
    action.setOutputs({
      [Outputs.Report]: JSON.stringify(report),
      [Outputs.SmokePassed]: report.smoke ? String(report.smoke.passed) : 'skipped',
      [Outputs.LoadPassed]: load ? String(load.passed) : 'skipped',
      [Outputs.P95Ms]: load?.latencyMs?.p95 ?? '',
      [Outputs.ErrorRate]: load ? Number(load.errorRate.toFixed(6)) : '',
      [Outputs.AchievedRatePerMinute]: load?.achievedRatePerMinute ?? '',
    });
    await action.writeSummary(stagingSummary(report, verdict));
    if (report.reason) throw new Error(report.reason);
  });
}
