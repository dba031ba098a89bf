import { type Clock, errorMessage, forMarkdown, request, systemClock, table } from '../action';
import {
  bodyContentType,
  checkName,
  judgeSmoke,
  percentile,
  requestBody,
  smokeBudgetMs,
  type SmokeCheck,
  type SmokeDefaults,
} from '../runtime';
import type { LoadFigure, LoadResult, LoadVerdict } from './loadtest';

/**
 * Staging checks, run from the runner against the staging URL: smoke checks (runtime's one
 * vocabulary: each request repeated, with a P95 budget and its body checked), and the
 * step-summary tables for them and for the load test.
 */

/** The Agent Loop service, as the team's staging procedure checks it. */
export const DEFAULT_SMOKE_CHECKS = `- name: health
  path: /health
- name: ready
  path: /ready
- name: metrics
  path: /metrics
  prometheus: true
- name: run-agent
  method: POST
  path: /run-agent
  body: {"instruction": "Hello test", "use_ollama": true}
  json: true`;

/** The tag of an image reference (`ghcr.io/org/app:1.2.3` → `1.2.3`), or null when it has none (a bare name or only a digest). */
export function imageTag(image: string): string | null {
  const name = image.split('@')[0] as string;
  const last = name.slice(name.lastIndexOf('/') + 1);
  const colon = last.indexOf(':');
  return colon >= 0 ? last.slice(colon + 1) : null;
}

/** base-url joined with a path: `https://staging.example.com/api` + `/health`. */
export function stagingUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${path}`;
}

export interface TimedResponse {
  status: number;
  body: string;
  latencyMs: number;
}

/**
 * One request to staging (the suite's HTTP client: body read with a size cap, redirects not
 * followed), timed to the last byte of the body. Throws on no answer.
 */
export async function timedRequest(
  url: string,
  options: { method: string; body?: string; timeoutMs: number },
  clock: Clock = systemClock,
): Promise<TimedResponse> {
  const started = clock.now();
  const answer = await request(url, {
    method: options.method,
    headers: {
      'user-agent': 'agent-loop-deploy-staging',
      ...(options.body === undefined ? {} : { 'content-type': bodyContentType(options.body) }),
    },
    body: options.body,
    timeoutMs: options.timeoutMs,
  });
  return { status: answer.status, body: answer.body, latencyMs: clock.now() - started };
}

export interface SmokeCheckResult {
  name: string;
  method: string;
  path: string;
  expectedStatus: number;
  runs: number;
  passedRuns: number;
  statuses: Record<string, number>;
  p50Ms: number | null;
  p95Ms: number | null;
  maxMs: number | null;
  budgetMs: number;
  ok: boolean;
  /** The first problem seen, e.g. `run 2 of 5: answered 500, expected 200`. */
  problem?: string;
}

/** Sends one check from the runner `repeat` times in a row, and judges it (runtime's judgeSmoke). */
export async function runSmokeCheck(
  baseUrl: string,
  check: SmokeCheck,
  defaults: SmokeDefaults,
  clock: Clock = systemClock,
): Promise<SmokeCheckResult> {
  const url = stagingUrl(baseUrl, check.path);
  const body = requestBody(check);
  const timeoutMs = smokeBudgetMs(check, defaults) + 10_000;
  const outcome = await judgeSmoke(check, defaults, async () => {
    try {
      return await timedRequest(url, { method: check.method, body, timeoutMs }, clock);
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return { noAnswer: `no answer from ${url} (${cause?.code ?? cause?.message ?? errorMessage(error)})` };
    }
  });
  const sorted = outcome.latencies;
  return {
    name: checkName(check),
    method: check.method,
    path: check.path,
    expectedStatus: check.status,
    runs: outcome.runs,
    passedRuns: outcome.passedRuns,
    statuses: outcome.statuses,
    p50Ms: sorted.length > 0 ? percentile(sorted, 0.5) : null,
    p95Ms: outcome.p95Ms,
    maxMs: sorted.at(-1) ?? null,
    budgetMs: outcome.budgetMs,
    ok: outcome.problem === undefined,
    ...(outcome.problem === undefined ? {} : { problem: outcome.problem }),
  };
}

export async function runSmokeChecks(
  baseUrl: string,
  checks: readonly SmokeCheck[],
  defaults: SmokeDefaults,
  clock: Clock = systemClock,
  onResult?: (result: SmokeCheckResult) => void,
): Promise<SmokeCheckResult[]> {
  const results: SmokeCheckResult[] = [];
  for (const check of checks) {
    const result = await runSmokeCheck(baseUrl, check, defaults, clock);
    onResult?.(result);
    results.push(result);
  }
  return results;
}

// ------------------------------------------------------------------------------------------------
// Summary (pure).

const statusText = (statuses: Record<string, number>): string =>
  Object.entries(statuses)
    .map(([status, count]) => `${status} ×${count}`)
    .join(', ') || '—';

export function smokeTable(results: readonly SmokeCheckResult[]): string {
  return table(
    ['check', 'status', 'runs', 'P95', 'budget', 'result'],
    results.map((result) => [
      `${result.name} (${result.method} ${result.path})`,
      statusText(result.statuses),
      `${result.passedRuns}/${result.runs} passed`,
      result.p95Ms === null ? '—' : `${result.p95Ms} ms`,
      `${result.budgetMs} ms`,
      result.ok ? '✅' : `❌ ${result.problem ?? ''}`,
    ]),
  );
}

const MET = (met: boolean | null): string => (met === null ? '' : met ? '✅' : '❌');

export function loadTable(figures: readonly LoadFigure[]): string {
  return table(
    ['figure', 'value', 'criterion', 'met'],
    figures.map((figure) => [figure.figure, figure.value, figure.criterion, MET(figure.met)]),
  );
}

export interface StagingDeployReport {
  method: 'ansible' | 'ssh-compose' | 'none';
  ok: boolean;
  durationMs: number;
  detail: string;
  error?: string;
}

export interface StagingReport {
  baseUrl: string;
  image: string;
  version: string;
  // With what the method adds: the collections (ansible), the hosts' reports (ssh-compose).
  deploy: StagingDeployReport;
  smoke: { passed: boolean; checks: SmokeCheckResult[] } | null;
  load:
    | ({
        passed: boolean;
        ratePerMinute: number;
        durationSeconds: number;
        path: string;
        method: string;
        failures: string[];
      } & LoadResult)
    | { skipped: string }
    | null;
  passed: boolean;
  reason: string | null;
}

export function stagingSummary(report: StagingReport, verdict: LoadVerdict | null): string {
  const lines = [
    `### ${report.passed ? '✅' : '❌'} Staging ${report.version ? `${report.version} ` : ''}at ${report.baseUrl}`,
    '',
  ];
  // The reason and the deploy's detail carry what the service and the hosts answered: text, made inert.
  if (report.reason)
    lines.push(
      report.reason
        .split(/\r\n|\r|\n/)
        .map((line) => `> ${forMarkdown(line)}`)
        .join('\n'),
      '',
    );
  const deploy = report.deploy;
  lines.push(
    `**Deploy** (${deploy.method}): ${deploy.ok ? '✅' : '❌'} ${forMarkdown(deploy.detail)}` +
      (deploy.method === 'none' ? '' : ` in ${(deploy.durationMs / 1000).toFixed(1)} s`),
    '',
  );
  if (report.smoke)
    lines.push(
      `**Smoke checks**: ${report.smoke.passed ? '✅ passed' : '❌ failed'}`,
      '',
      smokeTable(report.smoke.checks),
      '',
    );
  if (report.load && 'skipped' in report.load) lines.push(`**Load test**: skipped (${report.load.skipped})`, '');
  else if (report.load && verdict)
    lines.push(
      `**Load test**: ${report.load.method} ${report.load.path} at ${report.load.ratePerMinute}/min ` +
        `for ${report.load.durationSeconds} s, constant arrival rate: ${verdict.passed ? '✅ passed' : '❌ failed'}`,
      '',
      loadTable(verdict.figures),
      '',
    );
  return lines.join('\n');
}
