import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { action, systemClock } from '@agent-loop/shared/action';
import { buildRuntime, checkRuntimeInputs, field, healthPaths, hostInputs, hostsField, privateKeyField, readInputs, requireInput, resolveHosts, runtimeInputs, sessionFromInputs, smokeChecksField, type InputReader, z } from '@agent-loop/shared/inputs';
import { APP_NAME, HOST_PATH, IMAGE_REF, URL_PATH, VERSION } from '@agent-loop/shared/vocabulary';
import { PRE_TRAFFIC_SMOKE, SMOKE_METHODS } from '@agent-loop/shared/runtime';
import { DEFAULT_SMOKE_CHECKS, imageTag, judgeLoad, runLoad, runSmokeChecks, stagingSummary, stagingUrl, type LoadVerdict, type StagingReport } from '@agent-loop/shared/staging';
import { deployWithAnsible, deployWithCompose } from './deploy';

export const Outputs = {
  Report: 'report',
  SmokePassed: 'smoke-passed',
  LoadPassed: 'load-passed',
  P95Ms: 'p95-ms',
  ErrorRate: 'error-rate',
  AchievedRatePerMinute: 'achieved-rate-per-minute',
} as const;

/** http(s)://host[:port][/path]: no credentials (they would be printed), no query or fragment. */
const BASE_URL = /^https?:\/\/(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?:\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?$/;
const DEFAULT_LOAD_BODY = '{"instruction":"Hello test","use_ollama":true}';
/** A request of the load test without any answer this long after it was due counts as an error. */
const LOAD_TIMEOUT_MS = 30_000;

// Slack is not part of this action: the workflow's own steps report staging.
const { 'slack-webhook-url': _slack, ...hostFields } = hostInputs;

export const inputFields = {
  method: field.choice(['ansible', 'ssh-compose', 'none'], 'ansible'),
  // Credentials in a URL would land in logs, the report and the summary; refused without echoing them.
  'base-url': z
    .string()
    .refine((value) => !/^[^/]*\/\/[^/]*@/.test(value), 'must not contain credentials (user:password@); the value is not shown')
    .pipe(field.string({ form: 'the staging URL as the runner reaches it, http(s)://host[:port][/path], without credentials, query or fragment', pattern: BASE_URL, required: true, max: 2048 })),
  image: field.string({ form: 'an image reference such as ghcr.io/org/app:1.2.3 (lower-case name, optional tag or @sha256 digest)', pattern: IMAGE_REF, max: 512 }),
  version: field.string({ form: 'a version label of letters, digits, . _ + - (e.g. v1.4.2 or sha-1a2b3c4)', pattern: VERSION, max: 128 }),
  playbook: field.string({ form: 'a playbook path in the workspace', pattern: HOST_PATH, max: 512 }),
  inventory: field.string({ form: 'an inventory path in the workspace', pattern: HOST_PATH, max: 512 }),
  'ansible-limit': field.string({ form: 'an ansible --limit pattern', pattern: /^[A-Za-z0-9._:,*!&-]+$/, max: 512 }),
  requirements: field.string({ form: 'a requirements.yml path in the workspace, or none', pattern: HOST_PATH, max: 512 }),
  ...hostFields,
  hosts: hostsField({ required: false }),
  'ssh-private-key': privateKeyField(false),
  app: field.string({ form: 'an application name of lower-case letters, digits and hyphens, starting with a letter (at most 40)', pattern: APP_NAME, max: 40 }),
  environment: field.string({ form: 'an environment name such as staging', pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, default: 'staging' }),
  ...runtimeInputs,
  'drain-seconds': field.integer({ min: 0, max: 3600, default: 10, unit: 'seconds' }),
  'min-free-disk-mb': field.integer({ min: 0, max: 10_000_000, default: 1024, unit: 'MB' }),
  'min-free-memory-mb': field.integer({ min: 0, max: 10_000_000, default: 256, unit: 'MB' }),
  'smoke-checks': smokeChecksField(DEFAULT_SMOKE_CHECKS),
  'smoke-repeat': field.integer({ min: 1, max: 1000, default: 5, unit: 'runs of each smoke check' }),
  'p95-budget-ms': field.integer({ min: 1, max: 600_000, default: 2000, unit: 'ms' }),
  'load-rate-per-minute': field.integer({ min: 1, max: 60_000, default: 500, unit: 'requests per minute' }),
  'load-duration-seconds': field.integer({ min: 0, max: 3600, default: 300, unit: 'seconds; 0 skips the load test' }),
  'load-method': field.choice(SMOKE_METHODS, 'POST'),
  'load-path': field.string({ form: 'a URL path such as /run-agent', pattern: URL_PATH, default: '/run-agent', max: 2048 }),
  'load-body': field.string({ form: 'the request body (JSON is sent as application/json)', pattern: /^[^\0]*$/, default: DEFAULT_LOAD_BODY, max: 65_536 }),
  'load-connections': field.integer({ min: 1, max: 1000, default: 50, unit: 'requests in flight at most' }),
  'max-error-rate': field.decimal({ min: 0, max: 1, default: 0.01, unit: 'share of requests' }),
  'max-p95-ms': field.integer({ min: 1, max: 600_000, default: 2000, unit: 'ms' }),
  'min-rate-ratio': field.decimal({ min: 0, max: 1, default: 0.95, unit: 'share of load-rate-per-minute' }),
};

export function readSettings(read?: InputReader) {
  const inputs = readInputs(inputFields, read);
  const method = inputs.method;
  requireInput(URL.canParse(inputs['base-url']), 'base-url', `expected http(s)://host[:port][/path], got a URL that does not parse`);
  const version = inputs.version || imageTag(inputs.image) || '';
  if (method !== 'none') requireInput(inputs.image !== '', 'image', `is required for method ${method}: an image reference such as ghcr.io/org/app:1.2.3`);
  const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd();
  let requirements: string | null = null;
  if (method === 'ansible') {
    requireInput(inputs.playbook !== '', 'playbook', 'is required for method ansible: the playbook that deploys staging');
    requireInput(inputs.inventory !== '', 'inventory', 'is required for method ansible: the staging inventory');
    const inWorkspace = (path: string) => (isAbsolute(path) ? path : resolve(workspace, path));
    if (inputs.requirements === 'none') requirements = null;
    else if (inputs.requirements !== '') {
      requirements = inWorkspace(inputs.requirements);
      requireInput(existsSync(requirements), 'requirements', `names ${inputs.requirements}, which does not exist in the workspace`);
    } else {
      const beside = inWorkspace(join(dirname(inputs.playbook), 'requirements.yml'));
      requirements = existsSync(beside) ? beside : null;
    }
  }
  if (method === 'ssh-compose') {
    requireInput(inputs.app !== '', 'app', 'is required for method ssh-compose: the application name on the hosts');
    requireInput(inputs.hosts.length > 0, 'hosts', 'is required for method ssh-compose: one or more user@host[:port]');
    requireInput(inputs['ssh-private-key'] !== '', 'ssh-private-key', 'is required for method ssh-compose');
    requireInput(version !== '', 'version', 'is required for method ssh-compose when the image has no tag: a version label such as v1.4.2');
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
    const report: StagingReport = { baseUrl, image: inputs.image, version, deploy: { method: inputs.method, ok: true, durationMs: 0, detail: 'nothing deployed: testing staging as it is' }, smoke: null, load: null, passed: false, reason: null };
    let verdict: LoadVerdict | null = null;

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
          extraVars: { environment: inputs.environment, deploy_environment: inputs.environment, docker_image: inputs.image },
          workspace,
          timeoutMs: inputs['command-timeout-seconds'] * 1000,
        },
        clock.now,
      );
    } else if (inputs.method === 'ssh-compose') {
      const session = sessionFromInputs({ ...inputs, 'slack-webhook-url': '' }, action.runInfo(), action.logger, clock);
      const common = { ...session, version, runtime: buildRuntime(inputs), healthPaths: healthPaths(inputs), healthTimeoutSeconds: inputs['health-timeout-seconds'], commandTimeoutSeconds: inputs['command-timeout-seconds'] };
      // Before traffic each check is sent once (unless it says otherwise), within this action's budget.
      const smokeDefaults = { ...PRE_TRAFFIC_SMOKE, p95BudgetMs: inputs['p95-budget-ms'] };
      report.deploy = await deployWithCompose(
        hosts,
        { ...common, image: inputs.image, canaryPercent: 100, smokeRequests: inputs['smoke-checks'], smokeDefaults, preflight: { minFreeDiskMb: inputs['min-free-disk-mb'], minFreeMemoryMb: inputs['min-free-memory-mb'] } },
        { ...common, drainSeconds: inputs['drain-seconds'], keepPrevious: false },
        clock.now,
      );
    }
    if (!report.deploy.ok) report.reason = `deploy failed: ${report.deploy.error ?? report.deploy.detail}`;

    // 2. Smoke checks, from the runner against base-url.
    if (report.deploy.ok) {
      const checks = await action.logger.group(`smoke checks against ${baseUrl}`, () =>
        runSmokeChecks(baseUrl, inputs['smoke-checks'], { repeat: inputs['smoke-repeat'], p95BudgetMs: inputs['p95-budget-ms'] }, clock, (result) =>
          action.logger.info(`${result.ok ? '✅' : '❌'} ${result.name}: ${Object.entries(result.statuses).map(([status, count]) => `${status} ×${count}`).join(', ')}; P95 ${result.p95Ms ?? '—'} ms (budget ${result.budgetMs} ms)${result.problem ? `: ${result.problem}` : ''}`),
        ),
      );
      const failed = checks.filter((check) => !check.ok);
      report.smoke = { passed: failed.length === 0, checks };
      if (failed.length > 0) report.reason = failed.map((check) => `smoke check '${check.name}' failed: ${check.problem}`).join('\n');
    }

    // 3. Load test at a constant arrival rate.
    const rate = inputs['load-rate-per-minute'];
    const durationSeconds = inputs['load-duration-seconds'];
    if (durationSeconds === 0) report.load = { skipped: 'load-duration-seconds is 0' };
    else if (!report.smoke) report.load = { skipped: 'the deploy failed' };
    else if (!report.smoke.passed) report.load = { skipped: 'the smoke checks failed' };
    else {
      const plan = { url: stagingUrl(baseUrl, inputs['load-path']), method: inputs['load-method'], body: inputs['load-body'], ratePerMinute: rate, durationSeconds, connections: inputs['load-connections'], timeoutMs: LOAD_TIMEOUT_MS };
      const result = await action.logger.group(`load test: ${plan.method} ${plan.url} at ${rate}/min for ${durationSeconds} s (constant arrival rate, up to ${plan.connections} in flight)`, () =>
        runLoad(plan, clock, (sent, planned) => action.logger.info(`${sent} of ${planned} requests sent`)),
      );
      verdict = judgeLoad(plan, result, { maxErrorRate: inputs['max-error-rate'], maxP95Ms: inputs['max-p95-ms'], minRateRatio: inputs['min-rate-ratio'] });
      for (const figure of verdict.figures) action.logger.info(`${figure.met === null ? '  ' : figure.met ? '✅' : '❌'} ${figure.figure}: ${figure.value}${figure.criterion === '—' ? '' : ` — criterion ${figure.criterion}`}`);
      report.load = { passed: verdict.passed, ratePerMinute: rate, durationSeconds, path: inputs['load-path'], method: inputs['load-method'], failures: verdict.failures, ...result };
      if (!verdict.passed) report.reason = `load test failed: ${verdict.failures.join('; ')}`;
    }

    // 4. Outputs, summary, verdict.
    report.passed = report.reason === null;
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
