import { z } from 'zod';
import { HostError, systemClock, type Clock } from '../action';
import { URL_PATH } from '../vocabulary';
import { script, type Argv, type Remote } from '../hosts';

/**
 * Health, readiness and smoke checks, run on the host itself with curl against the color's own
 * port: the new color is checked before any user traffic reaches it.
 */

export const smokeRequestSchema = z
  .object({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']).default('GET'),
    path: z.string().regex(URL_PATH, 'expected a path starting with /'),
    body: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional(),
    status: z.number().int().min(100).max(599).default(200),
    'max-latency-ms': z.number().int().min(1).max(600_000).default(2000),
    contains: z.string().max(1000).optional(),
  })
  .strict();
export type SmokeRequest = z.output<typeof smokeRequestSchema>;
export const smokeListSchema = z.array(smokeRequestSchema).max(50);

/** The Agent Loop service's smoke test from the deployment procedure. */
export const DEFAULT_SMOKE_REQUESTS = `- method: POST
  path: /run-agent
  body: {"instruction": "Hello test", "use_ollama": true}
  status: 200
  max-latency-ms: 2000`;

export interface SmokeResult {
  method: string;
  path: string;
  status: number;
  expectedStatus: number;
  latencyMs: number;
  maxLatencyMs: number;
  ok: boolean;
  problem?: string;
}

const WAIT_SCRIPT = `deadline=$(( $(date +%s) + $1 )); shift
for url in "$@"; do
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url" 2>/dev/null) || true
    [ "$code" = 200 ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "$url answered \${code:-nothing}" ; exit 1; fi
    sleep 0.2
  done
done`;

export function waitHealthyCommand(port: number, paths: readonly string[], timeoutSeconds: number): Argv {
  return script('al-wait', WAIT_SCRIPT, [String(timeoutSeconds), ...paths.map((path) => `http://127.0.0.1:${port}${path}`)]);
}

/** Waits until every path answers 200 on the color's port; returns how long it took. */
export async function waitHealthy(remote: Remote, port: number, paths: readonly string[], timeoutSeconds: number, clock: Clock = systemClock): Promise<number> {
  const started = clock.now();
  const result = await remote.run(waitHealthyCommand(port, paths, timeoutSeconds), { timeoutMs: (timeoutSeconds + 30) * 1000 });
  if (result.code !== 0) {
    throw new HostError(remote.label, `the new color on port ${port} did not become healthy within ${timeoutSeconds} s: ${result.stdout.trim() || result.stderr.trim()}`);
  }
  return clock.now() - started;
}

/** curl prints the body, then a last line `<status> <seconds>`. */
export function probeCommand(port: number, request: SmokeRequest): Argv {
  // `-X HEAD` would make curl wait for a body that never comes (until --max-time); `--head` does not.
  const method = request.method === 'HEAD' ? ['--head'] : ['-X', request.method];
  const argv = ['curl', '-sS', ...method, '--max-time', String(Math.ceil(request['max-latency-ms'] / 1000) + 10), '-w', '\\n%{http_code} %{time_total}'];
  if (request.body !== undefined) argv.push('-H', 'Content-Type: application/json', '--data-binary', '@-');
  argv.push(`http://127.0.0.1:${port}${request.path}`);
  return argv;
}

export function requestBody(request: SmokeRequest): string | undefined {
  if (request.body === undefined) return undefined;
  return typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
}

export async function smoke(remote: Remote, port: number, request: SmokeRequest): Promise<SmokeResult> {
  const result = await remote.run(probeCommand(port, request), { stdin: requestBody(request) ?? '' });
  const lines = result.stdout.split('\n');
  const [code = '0', seconds = '0'] = (lines.pop() ?? '').trim().split(' ');
  const body = lines.join('\n');
  const status = Number(code);
  const latencyMs = Math.round(Number(seconds) * 1000);
  const base = { method: request.method, path: request.path, status, expectedStatus: request.status, latencyMs, maxLatencyMs: request['max-latency-ms'] };
  let problem: string | undefined;
  if (result.code !== 0 && status === 0) problem = `no answer (${result.stderr.trim() || `curl exit ${result.code}`})`;
  else if (status !== request.status) problem = `answered ${status}, expected ${request.status}`;
  else if (latencyMs > request['max-latency-ms']) problem = `took ${latencyMs} ms, budget ${request['max-latency-ms']} ms`;
  else if (request.contains !== undefined && !body.includes(request.contains)) problem = `the body does not contain '${request.contains}'`;
  return { ...base, ok: problem === undefined, ...(problem ? { problem } : {}) };
}
