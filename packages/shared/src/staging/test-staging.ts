import type { Clock, Logger } from '../action';
import { field, smokeChecksField } from '../inputs';
import { SMOKE_METHODS, type SmokeCheck } from '../runtime';
import { URL_PATH } from '../vocabulary';
import { judgeLoad, runLoad, type LoadVerdict } from './loadtest';
import { DEFAULT_SMOKE_CHECKS, runSmokeChecks, stagingUrl, type StagingReport } from './staging';

/**
 * Staging as the procedure tests it once it is deployed: the smoke checks, then, if they passed,
 * the load test at a constant arrival rate, then the verdict. Its inputs are defined here once.
 */

const DEFAULT_LOAD_BODY = '{"instruction":"Hello test","use_ollama":true}';
/** A request of the load test without any answer this long after it was due counts as an error. */
const LOAD_TIMEOUT_MS = 30_000;

export const stagingTestInputs = {
  'smoke-checks': smokeChecksField(DEFAULT_SMOKE_CHECKS),
  'smoke-repeat': field.integer({ min: 1, max: 1000, default: 5, unit: 'runs of each smoke check' }),
  'p95-budget-ms': field.integer({ min: 1, max: 600_000, default: 2000, unit: 'ms' }),
  'load-rate-per-minute': field.integer({ min: 1, max: 60_000, default: 500, unit: 'requests per minute' }),
  'load-duration-seconds': field.integer({ min: 0, max: 3600, default: 300, unit: 'seconds; 0 skips the load test' }),
  'load-method': field.choice(SMOKE_METHODS, 'POST'),
  'load-path': field.string({
    form: 'a URL path such as /run-agent',
    pattern: URL_PATH,
    default: '/run-agent',
    max: 2048,
  }),
  'load-body': field.string({
    form: 'the request body (JSON is sent as application/json)',
    pattern: /^[^\0]*$/,
    default: DEFAULT_LOAD_BODY,
    max: 65_536,
  }),
  'load-connections': field.integer({ min: 1, max: 1000, default: 50, unit: 'requests in flight at most' }),
  'max-error-rate': field.decimal({ min: 0, max: 1, default: 0.01, unit: 'share of requests' }),
  'max-p95-ms': field.integer({ min: 1, max: 600_000, default: 2000, unit: 'ms' }),
  'min-rate-ratio': field.decimal({ min: 0, max: 1, default: 0.95, unit: 'share of load-rate-per-minute' }),
};

export interface StagingTestInputs {
  'smoke-checks': SmokeCheck[];
  'smoke-repeat': number;
  'p95-budget-ms': number;
  'load-rate-per-minute': number;
  'load-duration-seconds': number;
  'load-method': (typeof SMOKE_METHODS)[number];
  'load-path': string;
  'load-body': string;
  'load-connections': number;
  'max-error-rate': number;
  'max-p95-ms': number;
  'min-rate-ratio': number;
}

/**
 * Smoke checks and load test against `report.baseUrl`, after the report's deploy: fills the
 * report's smoke, load, passed and reason (the first thing that failed), and returns the load
 * test's verdict for the summary (null when it did not run).
 */
export async function testStaging(
  report: StagingReport,
  inputs: StagingTestInputs,
  log: Logger,
  clock: Clock,
): Promise<LoadVerdict | null> {
  const baseUrl = report.baseUrl;
  if (!report.deploy.ok) report.reason = `deploy failed: ${report.deploy.error ?? report.deploy.detail}`;

  // Smoke checks, from the runner against base-url.
  if (report.deploy.ok) {
    const checks = await log.group(`smoke checks against ${baseUrl}`, () =>
      runSmokeChecks(
        baseUrl,
        inputs['smoke-checks'],
        { repeat: inputs['smoke-repeat'], p95BudgetMs: inputs['p95-budget-ms'] },
        clock,
        (result) =>
          log.info(
            `${result.ok ? '✅' : '❌'} ${result.name}: ${Object.entries(result.statuses)
              .map(([status, count]) => `${status} ×${count}`)
              .join(
                ', ',
              )}; P95 ${result.p95Ms ?? '—'} ms (budget ${result.budgetMs} ms)${result.problem ? `: ${result.problem}` : ''}`,
          ),
      ),
    );
    const failed = checks.filter((check) => !check.ok);
    report.smoke = { passed: failed.length === 0, checks };
    if (failed.length > 0)
      report.reason = failed.map((check) => `smoke check '${check.name}' failed: ${check.problem}`).join('\n');
  }

  // Load test at a constant arrival rate.
  let verdict: LoadVerdict | null = null;
  const rate = inputs['load-rate-per-minute'];
  const durationSeconds = inputs['load-duration-seconds'];
  if (durationSeconds === 0) report.load = { skipped: 'load-duration-seconds is 0' };
  else if (!report.smoke) report.load = { skipped: 'the deploy failed' };
  else if (!report.smoke.passed) report.load = { skipped: 'the smoke checks failed' };
  else {
    const plan = {
      url: stagingUrl(baseUrl, inputs['load-path']),
      method: inputs['load-method'],
      body: inputs['load-body'],
      ratePerMinute: rate,
      durationSeconds,
      connections: inputs['load-connections'],
      timeoutMs: LOAD_TIMEOUT_MS,
    };
    const result = await log.group(
      `load test: ${plan.method} ${plan.url} at ${rate}/min for ${durationSeconds} s (constant arrival rate, up to ${plan.connections} in flight)`,
      () => runLoad(plan, clock, (sent, planned) => log.info(`${sent} of ${planned} requests sent`)),
    );
    verdict = judgeLoad(plan, result, {
      maxErrorRate: inputs['max-error-rate'],
      maxP95Ms: inputs['max-p95-ms'],
      minRateRatio: inputs['min-rate-ratio'],
    });
    for (const figure of verdict.figures)
      log.info(
        `${figure.met === null ? '  ' : figure.met ? '✅' : '❌'} ${figure.figure}: ${figure.value}` +
          (figure.criterion === '—' ? '' : ` — criterion ${figure.criterion}`),
      );
    report.load = {
      passed: verdict.passed,
      ratePerMinute: rate,
      durationSeconds,
      path: inputs['load-path'],
      method: inputs['load-method'],
      failures: verdict.failures,
      ...result,
    };
    if (!verdict.passed) report.reason = `load test failed: ${verdict.failures.join('; ')}`;
  }
  report.passed = report.reason === null;
  return verdict;
}
