/** The one HTTP client for APIs (Slack, GitHub, Prometheus): JSON in and out, a timeout, bounded retries on 5xx and network errors. */
import { retry } from './retry';

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

export async function requestJson(method: string, url: string, payload?: unknown, headers: Record<string, string> = {}, options: Omit<HttpOptions, 'headers'> = {}): Promise<HttpResponse> {
  return retry(
    async () => {
      const response = await fetch(url, {
        method,
        headers: { accept: 'application/json', ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: payload === undefined ? undefined : JSON.stringify(payload),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      const body = await response.text();
      if (response.status >= 500) throw new Error(`HTTP ${response.status}${body ? `: ${body.slice(0, 300)}` : ''}`);
      return { status: response.status, body, headers: Object.fromEntries(response.headers) };
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
