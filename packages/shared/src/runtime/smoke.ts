import { z } from 'zod';
import { errorMessage } from '../action';
import { ANY_TEXT, docField, URL_PATH } from '../vocabulary';
import { parseExposition } from './exposition';

/**
 * A smoke check, in one vocabulary wherever it runs: before traffic, sent with curl on the host to
 * the new color's port (blue-green's `smoke-requests`, deploy-staging's ssh-compose), and from the
 * runner to the staging URL (deploy-staging's `smoke-checks`). Every key means the same in both:
 * the request is sent `repeat` times; every answer must have `status` and pass the body checks
 * (`contains`, `json`, `prometheus`); and the P95 of the latencies must be within `p95-ms` (with
 * one run, the P95 is that run's latency). Only the defaults depend on where it runs.
 */

export const SMOKE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;

/** The form of a list of checks, as the inputs that take one say it. */
export const SMOKE_CHECKS_FORM =
  'a YAML list of {name, method, path, body, status, contains, json, prometheus, repeat, p95-ms}';

const { leaf, text, choice, number, boolean, mapping, list } = docField;
const latencyBudgetMs = number({ min: 1, max: 600_000, integer: true, unit: 'ms' });
type Body = string | Record<string, unknown> | unknown[];

const smokeCheckFields = mapping(
  {
    name: text(
      'a short name of letters, digits, spaces and . _ : / ( ) - (at most 80)',
      /^[A-Za-z0-9][A-Za-z0-9 ._:/()-]{0,79}$/,
    ).optional(),
    method: choice(SMOKE_METHODS).default('GET'),
    path: text('a path starting with /', URL_PATH),
    body: leaf(
      'a text (at most 65536 characters), a mapping or a list',
      (value): value is Body =>
        (typeof value === 'string' && value.length <= 65_536) || (typeof value === 'object' && value !== null),
    ).optional(),
    status: number({ min: 100, max: 599, integer: true }).default(200),
    contains: text('a text of at most 1000 characters', ANY_TEXT, 1000).optional(),
    json: boolean.default(false),
    prometheus: boolean.default(false),
    repeat: number({ min: 1, max: 1000, integer: true, unit: 'runs' }).optional(),
    'p95-ms': latencyBudgetMs.optional(),
    // The name blue-green's smoke-requests gave p95-ms before (v1 workflows use it): still read.
    'max-latency-ms': latencyBudgetMs.optional(),
  },
  'a smoke check {path, method, …}',
);

export type SmokeCheck = Omit<z.output<typeof smokeCheckFields>, 'max-latency-ms'>;

const BODY_CHECKS = ['contains', 'json', 'prometheus'] as const;

export const smokeCheckSchema = smokeCheckFields
  .superRefine((check, ctx) => {
    if (check['p95-ms'] !== undefined && check['max-latency-ms'] !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'gives both p95-ms and max-latency-ms (its old name); keep only p95-ms',
      });
    }
    if (check.method === 'HEAD') {
      for (const key of BODY_CHECKS) {
        if (check[key] !== undefined && check[key] !== false)
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `${key} checks the body, and the answer to a HEAD request has none`,
          });
      }
    }
  })
  .transform(({ 'max-latency-ms': oldName, ...check }): SmokeCheck =>
    oldName === undefined ? check : { ...check, 'p95-ms': oldName },
  );

/** The name a check is reported under: its own, or `METHOD path`. */
export function checkName(check: Pick<SmokeCheck, 'name' | 'method' | 'path'>): string {
  return check.name ?? `${check.method} ${check.path}`;
}

export const smokeChecksSchema = list(smokeCheckSchema, {
  max: 50,
  noun: 'checks',
  form: 'a list of smoke checks',
}).superRefine((checks, ctx) => {
  const names = checks.map(checkName);
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice) ctx.addIssue({ code: 'custom', message: `two checks are named '${twice}'; give each a distinct name` });
});

/** The Agent Loop service's smoke test from the deployment procedure (blue-green's default). */
export const DEFAULT_SMOKE_REQUESTS = `- method: POST
  path: /run-agent
  body: {"instruction": "Hello test", "use_ollama": true}
  status: 200
  p95-ms: 2000`;

/** What a check that does not say gets, where it runs: how many runs, and the P95 budget. */
export interface SmokeDefaults {
  repeat: number;
  p95BudgetMs: number;
}

/** Before traffic: one run, within 2 s. */
export const PRE_TRAFFIC_SMOKE: SmokeDefaults = { repeat: 1, p95BudgetMs: 2000 };

export function smokeBudgetMs(check: Pick<SmokeCheck, 'p95-ms'>, defaults: SmokeDefaults): number {
  return check['p95-ms'] ?? defaults.p95BudgetMs;
}

/** The text a check sends, or undefined when it sends no body. */
export function requestBody(check: Pick<SmokeCheck, 'body'>): string | undefined {
  if (check.body === undefined) return undefined;
  return typeof check.body === 'string' ? check.body : JSON.stringify(check.body);
}

/** The content type a body is sent with: JSON when it parses as JSON. */
export function bodyContentType(body: string): string {
  try {
    JSON.parse(body);
    return 'application/json';
  } catch {
    return 'text/plain; charset=utf-8';
  }
}

/** Nearest-rank percentile of ascending `sorted` values (q from 0 to 1); NaN for none. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] as number;
}

/** What a body must be, for the checks that say so. Returns the problem, or undefined. */
function bodyProblem(check: Pick<SmokeCheck, 'contains' | 'json' | 'prometheus'>, body: string): string | undefined {
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
  if (check.contains !== undefined && !body.includes(check.contains))
    return `the body does not contain '${check.contains}'`;
  return undefined;
}

/** One answer to a check's request, or, when none came, what happened (`no answer …`). */
export type SmokeAnswer = { status: number; body: string; latencyMs: number } | { noAnswer: string };

export interface SmokeOutcome {
  /** Requests sent: `repeat`, or fewer when one got no answer. */
  runs: number;
  passedRuns: number;
  statuses: Record<string, number>;
  /** The answers' latencies, ascending. */
  latencies: number[];
  p95Ms: number | null;
  budgetMs: number;
  /** The status of the first run that failed, else of the last run; 0 when no answer came. */
  status: number;
  /** The first problem seen, e.g. `run 2 of 5: answered 500, expected 200`. */
  problem?: string;
}

/**
 * Sends a check `repeat` times in a row through `send` (curl on a host, or HTTP from the runner)
 * and judges it. Stops early only when a request gets no answer at all.
 */
export async function judgeSmoke(
  check: SmokeCheck,
  defaults: SmokeDefaults,
  send: () => Promise<SmokeAnswer>,
): Promise<SmokeOutcome> {
  const planned = check.repeat ?? defaults.repeat;
  const budgetMs = smokeBudgetMs(check, defaults);
  const which = (run: number) => (planned > 1 ? `run ${run} of ${planned}: ` : '');
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let runs = 0;
  let passedRuns = 0;
  let status = 0;
  let problem: string | undefined;
  while (runs < planned) {
    runs++;
    const answer = await send();
    if ('noAnswer' in answer) {
      statuses.error = (statuses.error ?? 0) + 1;
      if (problem === undefined) {
        problem = `${which(runs)}${answer.noAnswer}`;
        status = 0;
      }
      break;
    }
    latencies.push(answer.latencyMs);
    statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
    const answerProblem =
      answer.status === check.status
        ? bodyProblem(check, answer.body)
        : `answered ${answer.status}, expected ${check.status}`;
    if (answerProblem === undefined) passedRuns++;
    if (problem === undefined) {
      status = answer.status;
      if (answerProblem !== undefined) problem = `${which(runs)}${answerProblem}`;
    }
  }
  latencies.sort((a, b) => a - b);
  const p95Ms = latencies.length > 0 ? percentile(latencies, 0.95) : null;
  if (problem === undefined && p95Ms !== null && p95Ms > budgetMs) {
    problem =
      planned > 1
        ? `P95 ${p95Ms} ms over ${runs} runs is above the budget of ${budgetMs} ms`
        : `took ${p95Ms} ms, budget ${budgetMs} ms`;
  }
  return {
    runs,
    passedRuns,
    statuses,
    latencies,
    p95Ms,
    budgetMs,
    status,
    ...(problem === undefined ? {} : { problem }),
  };
}
