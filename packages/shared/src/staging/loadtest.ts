import http from 'node:http';
import https from 'node:https';
import { systemClock, type Clock } from '../action';
import { bodyContentType, percentile } from '../runtime';

/**
 * A load test at a constant arrival rate (an open model): request i is due at start + i × 60 000 /
 * rate ms, whether or not earlier ones have answered, so a slow service does not slow the test
 * down. Up to `connections` requests are in flight on keep-alive sockets; a request that waits for
 * a free socket counts that wait in its latency (latency runs from the moment it was due), so
 * queueing shows up in the percentiles instead of hiding (no coordinated omission).
 *
 * Measured on the lab against autocannon's `overallRate` (which sends each second's requests at
 * once and only in whole requests per second): see bench/load-rate.ts and the README.
 */

export interface LoadPlan {
  url: string;
  method: string;
  body?: string;
  ratePerMinute: number;
  durationSeconds: number;
  connections: number;
  /** A request with no complete answer this long after it was due counts as an error. */
  timeoutMs: number;
}

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  /** Requests the plan asks for: rate × duration. */
  planned: number;
  sent: number;
  /** Requests that got an HTTP response, whatever its status. */
  responses: number;
  ok: number;
  non2xx: number;
  /** Requests without an HTTP response: refused, reset, timed out. */
  errors: number;
  statuses: Record<string, number>;
  errorKinds: Record<string, number>;
  /** From the first request to the end of the window or the last answer, whichever is later. */
  elapsedMs: number;
  achievedRatePerMinute: number;
  /** (non-2xx + errors) / sent. */
  errorRate: number;
  /** Over every response (2xx or not), from when each request was due; null without responses. */
  latencyMs: LatencySummary | null;
  /** The latest a request left after it was due (the generator falling behind). */
  maxStartLagMs: number;
}

export function summarizeLatencies(values: readonly number[]): LatencySummary | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const round = (value: number) => Math.round(value * 10) / 10;
  return {
    p50: round(percentile(sorted, 0.5)),
    p95: round(percentile(sorted, 0.95)),
    p99: round(percentile(sorted, 0.99)),
    max: round(sorted[sorted.length - 1] as number),
    mean: round(sorted.reduce((sum, value) => sum + value, 0) / sorted.length),
  };
}

export function plannedRequests(plan: Pick<LoadPlan, 'ratePerMinute' | 'durationSeconds'>): number {
  return Math.round((plan.ratePerMinute * plan.durationSeconds) / 60);
}

interface Outcome {
  status?: number;
  error?: string;
  latencyMs: number;
  finishedAt: number;
}

/** Runs the plan; `onProgress` hears how many requests left, about every `progressEveryMs`. */
export async function runLoad(
  plan: LoadPlan,
  clock: Clock = systemClock,
  onProgress?: (sent: number, planned: number) => void,
  progressEveryMs = 30_000,
): Promise<LoadResult> {
  const url = new URL(plan.url);
  const client = url.protocol === 'https:' ? https : http;
  const agent = new client.Agent({ keepAlive: true, maxSockets: plan.connections, maxFreeSockets: plan.connections });
  const body = plan.body !== undefined && !['GET', 'HEAD'].includes(plan.method) ? Buffer.from(plan.body) : undefined;
  const headers: Record<string, string> = { 'user-agent': 'agent-loop-deploy-staging', accept: '*/*' };
  if (body) {
    headers['content-type'] = bodyContentType(plan.body as string);
    headers['content-length'] = String(body.length);
  }

  const send = (due: number): Promise<Outcome> =>
    new Promise((resolve) => {
      let settled = false;
      const settle = (outcome: Omit<Outcome, 'latencyMs' | 'finishedAt'>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const finishedAt = clock.now();
        resolve({ ...outcome, latencyMs: finishedAt - due, finishedAt });
      };
      // Runs at least 1 ms from now, after `request` below exists.
      const timer = setTimeout(
        () => {
          settle({ error: 'timeout' });
          request.destroy();
        },
        Math.max(1, due + plan.timeoutMs - clock.now()),
      );
      const request = client.request(url, { method: plan.method, agent, headers }, (response) => {
        response.on('data', () => undefined);
        response.on('end', () => settle({ status: response.statusCode ?? 0 }));
        response.on('error', (error: NodeJS.ErrnoException) => settle({ error: error.code ?? error.message }));
      });
      request.on('error', (error: NodeJS.ErrnoException) => settle({ error: error.code ?? error.message }));
      request.end(body);
    });

  const planned = plannedRequests(plan);
  const intervalMs = 60_000 / plan.ratePerMinute;
  const start = clock.now();
  const inFlight: Array<Promise<Outcome>> = [];
  let maxStartLagMs = 0;
  let lastProgress = start;
  try {
    for (let i = 0; i < planned; i++) {
      const due = start + i * intervalMs;
      const wait = due - clock.now();
      if (wait > 0) await clock.sleep(wait);
      maxStartLagMs = Math.max(maxStartLagMs, clock.now() - due);
      inFlight.push(send(due));
      if (onProgress && clock.now() - lastProgress >= progressEveryMs) {
        lastProgress = clock.now();
        onProgress(i + 1, planned);
      }
    }
    const outcomes = await Promise.all(inFlight);
    const statuses: Record<string, number> = {};
    const errorKinds: Record<string, number> = {};
    const latencies: number[] = [];
    let ok = 0;
    let non2xx = 0;
    let errors = 0;
    let lastFinish = start;
    for (const outcome of outcomes) {
      lastFinish = Math.max(lastFinish, outcome.finishedAt);
      if (outcome.status === undefined) {
        errors++;
        errorKinds[outcome.error ?? 'error'] = (errorKinds[outcome.error ?? 'error'] ?? 0) + 1;
        continue;
      }
      statuses[outcome.status] = (statuses[outcome.status] ?? 0) + 1;
      latencies.push(outcome.latencyMs);
      if (outcome.status >= 200 && outcome.status < 300) ok++;
      else non2xx++;
    }
    const elapsedMs = Math.max(plan.durationSeconds * 1000, lastFinish - start);
    const responses = ok + non2xx;
    return {
      planned,
      sent: outcomes.length,
      responses,
      ok,
      non2xx,
      errors,
      statuses,
      errorKinds,
      elapsedMs,
      achievedRatePerMinute: elapsedMs > 0 ? Math.round(((responses * 60_000) / elapsedMs) * 10) / 10 : 0,
      errorRate: outcomes.length > 0 ? (non2xx + errors) / outcomes.length : 0,
      latencyMs: summarizeLatencies(latencies),
      maxStartLagMs: Math.round(maxStartLagMs),
    };
  } finally {
    agent.destroy();
  }
}

// ------------------------------------------------------------------------------------------------
// Judging a load test against its criteria (pure).

export interface LoadCriteria {
  maxErrorRate: number;
  maxP95Ms: number;
  minRateRatio: number;
}

export interface LoadFigure {
  figure: string;
  value: string;
  criterion: string;
  /** null: shown for information, not judged. */
  met: boolean | null;
}

export interface LoadVerdict {
  passed: boolean;
  figures: LoadFigure[];
  /** One sentence per criterion not met, naming the input. */
  failures: string[];
}

const percent = (ratio: number): string => `${(Math.round(ratio * 10_000) / 100).toString()}%`;
const ms = (value: number | undefined): string => (value === undefined ? '—' : `${value} ms`);

export function judgeLoad(
  plan: Pick<LoadPlan, 'ratePerMinute' | 'durationSeconds'>,
  result: LoadResult,
  criteria: LoadCriteria,
): LoadVerdict {
  const minRate = Math.round(plan.ratePerMinute * criteria.minRateRatio * 10) / 10;
  const rateMet = result.achievedRatePerMinute >= minRate;
  const errorMet = result.sent > 0 && result.errorRate <= criteria.maxErrorRate;
  const p95 = result.latencyMs?.p95;
  const p95Met = p95 !== undefined && p95 <= criteria.maxP95Ms;
  const failures: string[] = [];
  if (!rateMet)
    failures.push(
      `achieved rate ${result.achievedRatePerMinute}/min is below min-rate-ratio ${criteria.minRateRatio} × ${plan.ratePerMinute}/min = ${minRate}/min`,
    );
  if (!errorMet)
    failures.push(
      `error rate ${percent(result.errorRate)} ` +
        `(${result.non2xx} non-2xx and ${result.errors} errors of ${result.sent} requests) ` +
        `is above max-error-rate ${percent(criteria.maxErrorRate)}`,
    );
  if (!p95Met)
    failures.push(
      p95 === undefined
        ? `P95 latency: no request got an answer (max-p95-ms ${criteria.maxP95Ms})`
        : `P95 latency ${p95} ms is above max-p95-ms ${criteria.maxP95Ms} ms`,
    );
  const errorKinds = Object.entries(result.errorKinds)
    .map(([kind, count]) => `${kind} ×${count}`)
    .join(', ');
  const statuses = Object.entries(result.statuses)
    .map(([status, count]) => `${status} ×${count}`)
    .join(', ');
  return {
    passed: failures.length === 0,
    failures,
    figures: [
      {
        figure: 'achieved rate',
        value: `${result.achievedRatePerMinute}/min (asked ${plan.ratePerMinute}/min)`,
        criterion: `≥ ${minRate}/min (min-rate-ratio ${criteria.minRateRatio})`,
        met: rateMet,
      },
      {
        figure: 'error rate',
        value: `${percent(result.errorRate)} (${result.non2xx} non-2xx, ${result.errors} errors${errorKinds ? `: ${errorKinds}` : ''})`,
        criterion: `≤ ${percent(criteria.maxErrorRate)} (max-error-rate)`,
        met: errorMet,
      },
      { figure: 'P95 latency', value: ms(p95), criterion: `≤ ${criteria.maxP95Ms} ms (max-p95-ms)`, met: p95Met },
      { figure: 'P50 latency', value: ms(result.latencyMs?.p50), criterion: '—', met: null },
      { figure: 'P99 latency', value: ms(result.latencyMs?.p99), criterion: '—', met: null },
      {
        figure: 'requests',
        value: `${result.sent} sent of ${result.planned} planned, ${result.responses} answered${statuses ? ` (${statuses})` : ''}`,
        criterion: '—',
        met: null,
      },
      {
        figure: 'duration',
        value: `${(result.elapsedMs / 1000).toFixed(1)} s (asked ${plan.durationSeconds} s)`,
        criterion: '—',
        met: null,
      },
    ],
  };
}
