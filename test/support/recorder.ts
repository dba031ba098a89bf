import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A local HTTP server that records what it receives: stands in for Slack and the GitHub API. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  json: unknown;
}

export interface Recorder {
  url: string;
  requests: RecordedRequest[];
  /** Answers the next requests with this status (default 200). */
  respondWith(status: number, body?: unknown): void;
  /** Answers each request from a function of it (takes precedence over respondWith). */
  respondBy(
    answer: ((request: RecordedRequest) => { status: number; body: unknown; headers?: Record<string, string> }) | null,
  ): void;
  close(): Promise<void>;
}

export async function startRecorder(): Promise<Recorder> {
  const requests: RecordedRequest[] = [];
  let status = 200;
  let reply: unknown = { ok: true };
  let answer:
    ((request: RecordedRequest) => { status: number; body: unknown; headers?: Record<string, string> }) | null = null;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown = null;
      try {
        json = body ? JSON.parse(body) : null;
      } catch {
        json = null;
      }
      const recorded = { method: request.method ?? '', path: request.url ?? '', headers: request.headers, body, json };
      requests.push(recorded);
      const out: { status: number; body: unknown; headers?: Record<string, string> } = answer
        ? answer(recorded)
        : { status, body: reply };
      response.writeHead(out.status, { 'content-type': 'application/json', ...out.headers });
      response.end(typeof out.body === 'string' ? out.body : JSON.stringify(out.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    respondWith(nextStatus, body) {
      status = nextStatus;
      if (body !== undefined) reply = body;
    },
    respondBy(next) {
      answer = next;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
