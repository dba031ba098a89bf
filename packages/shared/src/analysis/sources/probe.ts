import { ConfigurationError, HostError } from '../../action';
import { URL_PATH } from '../../vocabulary';
import { script, type Argv, type Remote } from '../../hosts';
import { emptyColorSample, latencyBucket, type ColorSample, type MetricSource, type Sample, type TimeWindow } from '..';
import type { Color } from '../../domain';

/**
 * The monitor's own requests: each sample sends a few GET requests, on the host with curl, to
 * each color's own port (not through nginx, so they never show in the access log), and counts
 * errors and latencies. Useful when there is no user traffic to judge a color by.
 */

export interface ProbeSourceOptions {
  remote: Remote;
  ports: Record<Color, number>;
  /** Which colors to probe (the ones running). */
  colors: readonly Color[];
  /** Path requested, e.g. `/health` or `/`. */
  path: string;
  /** Requests per color per sample. */
  requestsPerSample: number;
  /** Per request; a request that takes longer counts as an error. Default 10 s. */
  timeoutSeconds?: number;
}

/** For each `color url` pair, `$1` requests; prints one `<color> <status> <seconds>` line per request (status 000: no answer). */
const PROBE_SCRIPT = `set -u
count=$1; max=$2; shift 2
while [ "$#" -ge 2 ]; do
  color=$1; url=$2; shift 2
  i=0
  while [ "$i" -lt "$count" ]; do
    out=$(curl -s -o /dev/null -A agent-loop-probe --max-time "$max" -w '%{http_code} %{time_total}' "$url" 2>/dev/null) || true
    echo "$color \${out:-000 0}"
    i=$((i + 1))
  done
done`;

/** The command that probes each color `count` times (pure). */
export function probeRequestsCommand(
  targets: ReadonlyArray<{ color: Color; port: number }>,
  path: string,
  count: number,
  timeoutSeconds: number,
): Argv {
  if (!URL_PATH.test(path))
    throw new ConfigurationError(`invalid probe path ${JSON.stringify(path)}: expected a path starting with /`);
  if (!Number.isInteger(count) || count < 1)
    throw new ConfigurationError(`requests per sample must be a positive integer, got ${count}`);
  if (!(timeoutSeconds > 0)) throw new ConfigurationError(`the probe timeout must be positive, got ${timeoutSeconds}`);
  const pairs = targets.flatMap(({ color, port }) => [color, `http://127.0.0.1:${port}${path}`]);
  return script('al-probe', PROBE_SCRIPT, [String(count), String(timeoutSeconds), ...pairs]);
}

/** Counts the probe output per color (pure): an error is a 5xx or no answer; every request lands in the histogram. */
export function parseProbeOutput(stdout: string): Partial<Record<Color, ColorSample>> {
  const colors: Partial<Record<Color, ColorSample>> = {};
  for (const line of stdout.split('\n')) {
    const match = /^(blue|green) (\d{3}) ([\d.]+)$/.exec(line.trim());
    if (!match) continue;
    const sample = (colors[match[1] as Color] ??= emptyColorSample());
    const status = Number(match[2]);
    sample.requests += 1;
    if (status === 0 || status >= 500) sample.errors += 1;
    const bucket = latencyBucket(Number(match[3]) * 1000);
    sample.latency[bucket] = (sample.latency[bucket] ?? 0) + 1;
  }
  return colors;
}

export class ProbeSource implements MetricSource {
  readonly name = 'probe';

  constructor(private readonly options: ProbeSourceOptions) {
    // Validates the options now rather than at the first sample.
    this.command();
  }

  command(): Argv {
    const { colors, ports, path, requestsPerSample, timeoutSeconds = 10 } = this.options;
    return probeRequestsCommand(
      colors.map((color) => ({ color, port: ports[color] })),
      path,
      requestsPerSample,
      timeoutSeconds,
    );
  }

  async sample(window: TimeWindow): Promise<Sample> {
    const { remote, colors, requestsPerSample, timeoutSeconds = 10 } = this.options;
    const result = await remote.run(this.command(), {
      timeoutMs: (colors.length * requestsPerSample * (timeoutSeconds + 1) + 30) * 1000,
    });
    if (result.code !== 0)
      throw new HostError(
        remote.label,
        `probing ${colors.join(' and ')} failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(0, 500)}`,
      );
    const counted = parseProbeOutput(result.stdout);
    for (const color of colors) {
      if ((counted[color]?.requests ?? 0) !== requestsPerSample) {
        throw new HostError(
          remote.label,
          `the probe of ${color} printed ${counted[color]?.requests ?? 0} results for ${requestsPerSample} requests: ${result.stdout.trim().slice(0, 300)}`,
        );
      }
    }
    return { start: window.start, end: window.end, colors: counted };
  }
}
