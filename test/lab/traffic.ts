// Bounded HTTP traffic generator: GET requests over keep-alive connections,
// with one retry of a GET whose connection was reset (as HTTP allows for
// idempotent requests).
import http from 'node:http';

export interface TrafficResult {
  /** Logical requests finished (ok + non2xx + failed); retries are not counted again. */
  sent: number;
  ok: number;
  non2xx: number;
  /** Connection resets / socket hang-ups seen (including ones that a retry then fixed). */
  resets: number;
  retried: number;
  /** Requests that got no HTTP response (after the retry, when one was allowed). */
  failed: number;
  /** By the x-version response header; 'unknown' when the header is missing. */
  byVersion: Record<string, number>;
  /** By the x-color response header; 'unknown' when the header is missing. */
  byColor: Record<string, number>;
  /** By HTTP status; 'error' for requests that failed without a response. */
  statuses: Record<string, number>;
  latenciesMs: number[];
  /** One entry per response; t = ms since traffic started. */
  timeline: Array<{ t: number; version: string; color: string; status: number }>;
}

export interface TrafficOptions {
  url: string;
  concurrency?: number;
  maxRequests?: number;
  durationMs?: number;
  ratePerSecond?: number;
  /** Path (and query) appended to url's origin; default: url's own path. */
  path?: string;
  retryOnReset?: boolean;
  /** Per-request timeout (default 10 s); a timeout counts as failed. */
  requestTimeoutMs?: number;
}

const HARD_CAP_MS = 60_000;

function isReset(err: NodeJS.ErrnoException): boolean {
  return err.code === 'ECONNRESET' || err.code === 'EPIPE' || /socket hang up/i.test(err.message ?? '');
}

interface Outcome {
  status?: number;
  version: string;
  color: string;
  error?: NodeJS.ErrnoException;
}

export function startTraffic(opts: TrafficOptions): { stop(): Promise<TrafficResult>; done: Promise<TrafficResult> } {
  if (opts.maxRequests === undefined && opts.durationMs === undefined) {
    throw new Error('startTraffic: maxRequests or durationMs is required');
  }
  const base = new URL(opts.url);
  const target = opts.path !== undefined ? new URL(opts.path, base) : base;
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
  const maxRequests = opts.maxRequests ?? Infinity;
  const durationMs = Math.min(opts.durationMs ?? HARD_CAP_MS, HARD_CAP_MS);
  const rate = opts.ratePerSecond && opts.ratePerSecond > 0 ? opts.ratePerSecond : undefined;
  const retryOnReset = opts.retryOnReset ?? true;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;

  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const result: TrafficResult = {
    sent: 0,
    ok: 0,
    non2xx: 0,
    resets: 0,
    retried: 0,
    failed: 0,
    byVersion: {},
    byColor: {},
    statuses: {},
    latenciesMs: [],
    timeline: [],
  };
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  let started = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  const stopSignal = new Promise<void>((r) => (wake = r));

  // A retry goes on a fresh connection: the pooled ones may be closing with the same old worker.
  const once = (fresh = false): Promise<Outcome> =>
    new Promise((resolve) => {
      const req = http.get(
        target,
        {
          agent: fresh ? false : agent,
          headers: { 'user-agent': 'agent-loop-lab-traffic' },
          timeout: requestTimeoutMs,
        },
        (res) => {
          const version = headerValue(res.headers['x-version']);
          const color = headerValue(res.headers['x-color']);
          res.on('error', (error: NodeJS.ErrnoException) => resolve({ version, color, error }));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, version, color }));
          // A body cut off part-way ends neither way on every Node version: 'close' always comes.
          res.on('close', () => {
            if (!res.complete)
              resolve({ version, color, error: Object.assign(new Error('response cut off'), { code: 'ECONNRESET' }) });
          });
          res.resume();
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('request timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (error: NodeJS.ErrnoException) => resolve({ version: 'unknown', color: 'unknown', error }));
    });

  const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

  const one = async (): Promise<void> => {
    const s = performance.now();
    let out = await once();
    if (out.error && isReset(out.error)) {
      result.resets++;
      if (retryOnReset) {
        result.retried++;
        out = await once(true);
        if (out.error && isReset(out.error)) result.resets++;
      }
    }
    const now = performance.now();
    result.sent++;
    if (out.error || out.status === undefined) {
      result.failed++;
      bump(result.statuses, 'error');
      return;
    }
    if (out.status >= 200 && out.status < 300) result.ok++;
    else result.non2xx++;
    bump(result.statuses, String(out.status));
    bump(result.byVersion, out.version);
    bump(result.byColor, out.color);
    result.latenciesMs.push(now - s);
    result.timeline.push({ t: Math.round(now - t0), version: out.version, color: out.color, status: out.status });
  };

  const worker = async (): Promise<void> => {
    for (;;) {
      if (stopped || started >= maxRequests || performance.now() >= deadline) return;
      if (rate) {
        const due = t0 + (started / rate) * 1000;
        const wait = Math.min(due, deadline) - performance.now();
        if (wait > 0) {
          await Promise.race([sleep(wait), stopSignal]);
          continue; // re-check the bounds after waiting
        }
      }
      started++;
      await one();
    }
  };

  const done = (async () => {
    const cap = setTimeout(() => stopNow(), durationMs + 1000);
    try {
      await Promise.all(Array.from({ length: concurrency }, () => worker()));
    } finally {
      clearTimeout(cap);
      agent.destroy();
    }
    return result;
  })();

  function stopNow(): void {
    if (stopped) return;
    stopped = true;
    wake?.();
    // The cap is hard: requests still waiting for an answer are cut off and count as failed.
    if (performance.now() >= deadline) agent.destroy();
  }

  return {
    done,
    stop() {
      stopNow();
      return done;
    },
  };
}

export function sendTraffic(opts: TrafficOptions): Promise<TrafficResult> {
  return startTraffic(opts).done;
}

function headerValue(v: string | string[] | undefined): string {
  if (Array.isArray(v)) return v[0] ?? 'unknown';
  return v ?? 'unknown';
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** p-th percentile (0..100) of a list of numbers; NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}
