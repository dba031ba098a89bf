import { HostError, systemClock, type Clock } from '../action';
import { script, type Argv, type Remote } from '../hosts';
import {
  bodyContentType,
  judgeSmoke,
  PRE_TRAFFIC_SMOKE,
  requestBody,
  smokeBudgetMs,
  type SmokeCheck,
  type SmokeDefaults,
} from './smoke';

/**
 * Health, readiness and smoke checks, run on the host itself with curl against the color's own
 * port: the new color is checked before any user traffic reaches it.
 */

export interface SmokeResult {
  method: string;
  path: string;
  /** The status of the first run that failed, else of the last; 0 when no answer came. */
  status: number;
  expectedStatus: number;
  /** The P95 of the runs' latencies (with one run, its latency). */
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
  return script('al-wait', WAIT_SCRIPT, [
    String(timeoutSeconds),
    ...paths.map((path) => `http://127.0.0.1:${port}${path}`),
  ]);
}

/** Waits until every path answers 200 on the color's port; returns how long it took. */
export async function waitHealthy(
  remote: Remote,
  port: number,
  paths: readonly string[],
  timeoutSeconds: number,
  clock: Clock = systemClock,
): Promise<number> {
  const started = clock.now();
  const result = await remote.run(waitHealthyCommand(port, paths, timeoutSeconds), {
    timeoutMs: (timeoutSeconds + 30) * 1000,
  });
  if (result.code !== 0) {
    throw new HostError(
      remote.label,
      `the new color on port ${port} did not become healthy within ${timeoutSeconds} s: ${result.stdout.trim() || result.stderr.trim()}`,
    );
  }
  return clock.now() - started;
}

/** curl prints the body, then a last line `<status> <seconds>`. */
export function probeCommand(
  port: number,
  check: SmokeCheck,
  budgetMs = smokeBudgetMs(check, PRE_TRAFFIC_SMOKE),
): Argv {
  // `-X HEAD` would make curl wait for a body that never comes (until --max-time); `--head` does not.
  const method = check.method === 'HEAD' ? ['--head'] : ['-X', check.method];
  const argv = [
    'curl',
    '-sS',
    ...method,
    '--max-time',
    String(Math.ceil(budgetMs / 1000) + 10),
    '-w',
    '\\n%{http_code} %{time_total}',
  ];
  const body = requestBody(check);
  if (body !== undefined) argv.push('-H', `Content-Type: ${bodyContentType(body)}`, '--data-binary', '@-');
  argv.push(`http://127.0.0.1:${port}${check.path}`);
  return argv;
}

/** Sends a check to the color's port from the host, `repeat` times (one before traffic, unless it says otherwise), and judges it. */
export async function smoke(
  remote: Remote,
  port: number,
  check: SmokeCheck,
  defaults: SmokeDefaults = PRE_TRAFFIC_SMOKE,
): Promise<SmokeResult> {
  const argv = probeCommand(port, check, smokeBudgetMs(check, defaults));
  const stdin = requestBody(check) ?? '';
  const outcome = await judgeSmoke(check, defaults, async () => {
    const result = await remote.run(argv, { stdin });
    const lines = result.stdout.split('\n');
    const [code = '0', seconds = '0'] = (lines.pop() ?? '').trim().split(' ');
    const status = Number(code);
    if (result.code !== 0 && status === 0)
      return { noAnswer: `no answer (${result.stderr.trim() || `curl exit ${result.code}`})` };
    return { status, body: lines.join('\n'), latencyMs: Math.round(Number(seconds) * 1000) };
  });
  return {
    method: check.method,
    path: check.path,
    status: outcome.status,
    expectedStatus: check.status,
    latencyMs: outcome.p95Ms ?? 0,
    maxLatencyMs: outcome.budgetMs,
    ok: outcome.problem === undefined,
    ...(outcome.problem === undefined ? {} : { problem: outcome.problem }),
  };
}
