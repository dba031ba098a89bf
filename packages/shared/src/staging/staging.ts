import { z } from 'zod';
import { errorMessage, request, systemClock, type Clock } from '../action';
import { parseExposition } from './exposition';
import type { SmokeRequest } from '../runtime';
import { URL_PATH } from '../vocabulary';
import { bodyContentType, percentile, type LoadFigure, type LoadResult, type LoadVerdict } from './loadtest';
import { table } from '../report';

/**
 * Staging checks, run from the runner against the staging URL: smoke checks (each request
 * repeated, with a P95 budget, JSON and Prometheus bodies checked), and the step-summary tables
 * for them and for the load test.
 */

export const SMOKE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;

export const smokeCheckSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._:/()-]{0,79}$/, 'expected a short name of letters, digits, spaces and . _ : / ( ) -').optional(),
    method: z.enum(SMOKE_METHODS).default('GET'),
    path: z.string().regex(URL_PATH, 'expected a path starting with /'),
    body: z.union([z.string().max(65_536), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional(),
    status: z.number().int().min(100).max(599).default(200),
    json: z.boolean().default(false),
    prometheus: z.boolean().default(false),
    repeat: z.number().int().min(1).max(1000).optional(),
    'p95-ms': z.number().int().min(1).max(600_000).optional(),
  })
  .strict();
export type SmokeCheck = z.output<typeof smokeCheckSchema>;

export const smokeChecksSchema = z
  .array(smokeCheckSchema)
  .max(50)
  .superRefine((checks, ctx) => {
    const names = checks.map(checkName);
    const twice = names.find((name, index) => names.indexOf(name) !== index);
    if (twice) ctx.addIssue({ code: 'custom', message: `two checks are named '${twice}'; give each a distinct name` });
  });

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

export function checkName(check: Pick<SmokeCheck, 'name' | 'method' | 'path'>): string {
  return check.name ?? `${check.method} ${check.path}`;
}

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

function requestBodyText(body: SmokeCheck['body']): string | undefined {
  if (body === undefined) return undefined;
  return typeof body === 'string' ? body : JSON.stringify(body);
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
export async function timedRequest(url: string, options: { method: string; body?: string; timeoutMs: number }, clock: Clock = systemClock): Promise<TimedResponse> {
  const started = clock.now();
  const answer = await request(url, {
    method: options.method,
    headers: { 'user-agent': 'agent-loop-deploy-staging', ...(options.body === undefined ? {} : { 'content-type': bodyContentType(options.body) }) },
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

/** What a body must be, for the checks that say so. Returns the problem, or undefined. */
export function bodyProblem(check: Pick<SmokeCheck, 'json' | 'prometheus'>, body: string): string | undefined {
  if (check.json) {
    try {
      JSON.parse(body);
    } catch (error) {
      return `the body is not JSON (${errorMessage(error).split('\n')[0]}): ${JSON.stringify(body.slice(0, 80))}`;
    }
  }
  if (check.prometheus) {
    try {
      parseExposition(body);
    } catch (error) {
      return `the body is not valid Prometheus text format: ${errorMessage(error)}`;
    }
  }
  return undefined;
}

export interface SmokeDefaults {
  repeat: number;
  p95BudgetMs: number;
}

/** Runs one check `repeat` times in a row; stops early only when staging does not answer at all. */
export async function runSmokeCheck(baseUrl: string, check: SmokeCheck, defaults: SmokeDefaults, clock: Clock = systemClock): Promise<SmokeCheckResult> {
  const runs = check.repeat ?? defaults.repeat;
  const budgetMs = check['p95-ms'] ?? defaults.p95BudgetMs;
  const url = stagingUrl(baseUrl, check.path);
  const body = requestBodyText(check.body);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let passedRuns = 0;
  let problem: string | undefined;
  let done = 0;
  for (let run = 1; run <= runs; run++) {
    done = run;
    let response: TimedResponse;
    try {
      response = await timedRequest(url, { method: check.method, body, timeoutMs: budgetMs + 10_000 }, clock);
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      problem ??= `run ${run} of ${runs}: no answer from ${url} (${cause?.code ?? cause?.message ?? errorMessage(error)})`;
      statuses.error = (statuses.error ?? 0) + 1;
      break;
    }
    latencies.push(response.latencyMs);
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    const runProblem = response.status !== check.status ? `answered ${response.status}, expected ${check.status}` : check.method === 'HEAD' ? undefined : bodyProblem(check, response.body);
    if (runProblem) problem ??= `run ${run} of ${runs}: ${runProblem}`;
    else passedRuns++;
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const p95Ms = sorted.length > 0 ? percentile(sorted, 0.95) : null;
  if (!problem && p95Ms !== null && p95Ms > budgetMs) problem = `P95 ${p95Ms} ms over ${runs} runs is above the budget of ${budgetMs} ms`;
  return {
    name: checkName(check),
    method: check.method,
    path: check.path,
    expectedStatus: check.status,
    runs: done,
    passedRuns,
    statuses,
    p50Ms: sorted.length > 0 ? percentile(sorted, 0.5) : null,
    p95Ms,
    maxMs: sorted.at(-1) ?? null,
    budgetMs,
    ok: problem === undefined,
    ...(problem ? { problem } : {}),
  };
}

export async function runSmokeChecks(baseUrl: string, checks: readonly SmokeCheck[], defaults: SmokeDefaults, clock: Clock = systemClock, onResult?: (result: SmokeCheckResult) => void): Promise<SmokeCheckResult[]> {
  const results: SmokeCheckResult[] = [];
  for (const check of checks) {
    const result = await runSmokeCheck(baseUrl, check, defaults, clock);
    onResult?.(result);
    results.push(result);
  }
  return results;
}

/** The same checks as requests the blue-green deploy sends to a new color before it gets traffic. */
export function smokeRequestsFor(checks: readonly SmokeCheck[], defaults: SmokeDefaults): SmokeRequest[] {
  return checks.map((check) => ({
    method: check.method,
    path: check.path,
    ...(check.body === undefined ? {} : { body: check.body }),
    status: check.status,
    'max-latency-ms': check['p95-ms'] ?? defaults.p95BudgetMs,
  }));
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
  load: ({ passed: boolean; ratePerMinute: number; durationSeconds: number; path: string; method: string; failures: string[] } & LoadResult) | { skipped: string } | null;
  passed: boolean;
  reason: string | null;
}

export function stagingSummary(report: StagingReport, verdict: LoadVerdict | null): string {
  const lines = [`### ${report.passed ? '✅' : '❌'} Staging ${report.version ? `${report.version} ` : ''}at ${report.baseUrl}`, ''];
  if (report.reason) lines.push(`> ${report.reason.split('\n').join('\n> ')}`, '');
  const deploy = report.deploy;
  lines.push(`**Deploy** (${deploy.method}): ${deploy.ok ? '✅' : '❌'} ${deploy.detail}${deploy.method === 'none' ? '' : ` in ${(deploy.durationMs / 1000).toFixed(1)} s`}`, '');
  if (report.smoke) lines.push(`**Smoke checks**: ${report.smoke.passed ? '✅ passed' : '❌ failed'}`, '', smokeTable(report.smoke.checks), '');
  if (report.load && 'skipped' in report.load) lines.push(`**Load test**: skipped (${report.load.skipped})`, '');
  else if (report.load && verdict) lines.push(`**Load test**: ${report.load.method} ${report.load.path} at ${report.load.ratePerMinute}/min for ${report.load.durationSeconds} s, constant arrival rate: ${verdict.passed ? '✅ passed' : '❌ failed'}`, '', loadTable(verdict.figures), '');
  return lines.join('\n');
}
