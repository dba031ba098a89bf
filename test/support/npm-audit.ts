import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/**
 * The npm registry as a runner reaches it, with a stand-in for its audit service: the registry
 * this machine reaches serves packages but answers the audit endpoint 405. Every request is
 * forwarded to that registry, except `POST /-/npm/v1/security/advisories/bulk` (what `npm audit`
 * sends), which is answered from `advisories` in the registry's format: per package name, the
 * advisories whose vulnerable range a sent version falls in. npm then judges them as usual.
 */
export interface AuditRegistry {
  /** Give it to npm as its registry (NPM_CONFIG_REGISTRY). */
  url: string;
  /** What the next audits answer, by package name. */
  advisories: Record<string, Advisory[]>;
  /** The package names each audit asked about. */
  audits: string[][];
  close(): Promise<void>;
}

export interface Advisory {
  id: number;
  title: string;
  severity: 'low' | 'moderate' | 'high' | 'critical';
  vulnerable_versions: string;
  url: string;
}

const UPSTREAM = new URL('https://registry.npmjs.org/');
/** The CA file npm is configured with on this machine (its global npmrc), else Node's own list. */
function upstreamCa(): string | undefined {
  try {
    return readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8');
  } catch {
    return undefined;
  }
}

function body(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

export async function startAuditRegistry(): Promise<AuditRegistry> {
  const ca = upstreamCa();
  const state: Pick<AuditRegistry, 'advisories' | 'audits'> = { advisories: {}, audits: [] };
  const server: Server = createServer((request, response) => {
    void (async () => {
      const raw = await body(request);
      if (request.method === 'POST' && request.url === '/-/npm/v1/security/advisories/bulk') {
        const text =
          request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
        const asked = JSON.parse(text) as Record<string, string[]>;
        state.audits.push(Object.keys(asked));
        const answer = Object.fromEntries(
          Object.keys(asked)
            .filter((name) => state.advisories[name])
            .map((name) => [name, state.advisories[name]]),
        );
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(answer));
        return;
      }
      const headers = { ...request.headers, host: UPSTREAM.host };
      delete headers['content-length'];
      const upstream = httpsRequest(
        new URL(request.url ?? '/', UPSTREAM),
        { method: request.method, headers, ...(ca ? { ca } : {}) },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      upstream.on('error', (error) => {
        response.writeHead(502, { 'content-type': 'text/plain' });
        response.end(`upstream registry: ${error.message}`);
      });
      upstream.end(raw);
    })().catch((error: Error) => {
      response.writeHead(500);
      response.end(error.message);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    ...state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
