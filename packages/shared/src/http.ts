/** The one HTTP client for APIs (Slack, GitHub): JSON in and out, a timeout, bounded retries on 5xx and network errors. */
import { retry } from './retry';

export interface HttpResponse {
  status: number;
  body: string;
}

export async function postJson(url: string, payload: unknown, options: { headers?: Record<string, string>; timeoutMs?: number; attempts?: number } = {}): Promise<HttpResponse> {
  return retry(
    async () => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...options.headers },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      const body = await response.text();
      if (response.status >= 500) throw new Error(`HTTP ${response.status}`);
      return { status: response.status, body };
    },
    { attempts: options.attempts ?? 3, delayMs: 500 },
  );
}
