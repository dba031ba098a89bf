/** The one HTTP client for APIs (Slack, GitHub, Prometheus): JSON in and out, a timeout, bounded retries on 5xx and network errors. */
import { retry } from './retry';

/** The most an answer may hold (a page of GitHub deployments or a Prometheus range is well under it). */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/**
 * Reads a response body up to `maxBytes`: a server that answers without end (or a proxy page of
 * megabytes) cannot fill the runner's memory; beyond the cap the request fails.
 */
export async function readCapped(response: Response, maxBytes = MAX_BODY_BYTES): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new Error(`the answer is ${declared} bytes, more than the ${maxBytes} this client reads`);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`the answer is more than the ${maxBytes} bytes this client reads`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A short excerpt of an answer for an error message: never the whole body, never a raw control character or line break. */
export function excerpt(body: string, max = 200): string {
  const flat = body
    .trim()
    // eslint-disable-next-line no-control-regex
    .replace(/[\0-\x1f\x7f]/g, (char) =>
      char === '\n' ? '\\n' : `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

export interface HttpResponse {
  status: number;
  body: string;
  /** Response headers, names in lower case (e.g. `link` for GitHub's pagination). */
  headers?: Record<string, string>;
}

export interface HttpOptions {
  headers?: Record<string, string>;
  timeoutMs?: number;
  attempts?: number;
}

/**
 * One HTTP request, the suite's only way to make one: the answer's body read with a size cap,
 * redirects not followed unless asked (a 302 to a login page is an answer to report, not to chase),
 * no retry. Throws when there is no answer (refused, timed out).
 */
export async function request(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    timeoutMs?: number;
    followRedirects?: boolean;
  } = {},
): Promise<HttpResponse> {
  const response = await fetch(url, {
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
    redirect: options.followRedirects ? 'follow' : 'manual',
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  const body = await readCapped(response);
  return { status: response.status, body, headers: Object.fromEntries(response.headers) };
}

/** A JSON API call: a 5xx answer or no answer is retried (`attempts`, 3 by default); the caller parses the body. */
export async function requestJson(
  method: string,
  url: string,
  payload?: unknown,
  headers: Record<string, string> = {},
  options: Omit<HttpOptions, 'headers'> = {},
): Promise<HttpResponse> {
  return retry(
    async () => {
      const answer = await request(url, {
        method,
        headers: {
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: payload === undefined ? undefined : JSON.stringify(payload),
        timeoutMs: options.timeoutMs,
        followRedirects: true,
      });
      if (answer.status >= 500)
        throw new Error(`HTTP ${answer.status}${answer.body ? `: ${excerpt(answer.body)}` : ''}`);
      return answer;
    },
    { attempts: options.attempts ?? 3, delayMs: 500 },
  );
}

export function postJson(url: string, payload: unknown, options: HttpOptions = {}): Promise<HttpResponse> {
  return requestJson('POST', url, payload, options.headers, options);
}

/** GET a JSON API (e.g. Prometheus's); the caller parses the body. */
export function getJson(url: string, options: HttpOptions = {}): Promise<HttpResponse> {
  return requestJson('GET', url, undefined, options.headers, options);
}
