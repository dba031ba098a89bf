import { ConfigurationError, HostError } from '../../action';
import { URL_PATH } from '../../vocabulary';
import { script, type Argv, type Remote } from '../../hosts';
import type { ColorSample, MetricSource, Sample, TimeWindow } from '..';
import type { Color } from '../../domain';

/**
 * What the host itself says: memory in use and consecutive failed health checks per color. No
 * request counts: each color's sample has `requests: 0` and an empty histogram.
 */

/**
 * Where memory comes from: the whole host (1 − MemAvailable/MemTotal, the same ratio for every
 * color), the color's compose project (the largest `docker stats` MemPerc of its containers: of
 * the container's limit, or of the host without one), or nowhere.
 */
export type HostMemory = { kind: 'host' } | { kind: 'compose'; app: string } | { kind: 'none' };

export interface HostSourceOptions {
  remote: Remote;
  ports: Record<Color, number>;
  /** Which colors to check (the ones running). */
  colors: readonly Color[];
  /** Default `/health`. */
  healthPath?: string;
  /** Default the host's memory. */
  memory?: HostMemory;
  /** Per health request. Default 5 s. */
  timeoutSeconds?: number;
}

// ------------------------------------------------------------------------------------ pure parts

export function meminfoCommand(): Argv {
  return ['cat', '/proc/meminfo'];
}

/** Share of memory in use from /proc/meminfo: 1 − MemAvailable / MemTotal (pure). */
export function parseMeminfo(text: string): number {
  const field = (name: string): number | undefined => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
    return match ? Number(match[1]) : undefined;
  };
  const total = field('MemTotal');
  const available = field('MemAvailable');
  if (!total || available === undefined) throw new Error('/proc/meminfo has no MemTotal or MemAvailable line');
  return Math.min(1, Math.max(0, 1 - available / total));
}

/**
 * Every color's compose project (`<app>-<color>`, as the compose runtime names it) in one command:
 * its running containers (`docker ps`), then `docker stats` of them. Prints `<color> <MemPerc>` per
 * container; a color with no running container prints nothing. Exit 10 when `docker ps` fails, 11
 * when `docker stats` does (the color on stderr).
 */
const COMPOSE_MEMORY_SCRIPT = `set -u
app=$1; shift
for color in "$@"; do
  ids=$(docker ps --quiet --filter "label=com.docker.compose.project=$app-$color") || { echo "docker ps for $app-$color failed" >&2; exit 10; }
  [ -n "$ids" ] || continue
  for id in $ids; do case $id in *[!0-9a-f]*) echo "docker ps gave an unexpected container id for $app-$color" >&2; exit 10 ;; esac; done
  out=$(docker stats --no-stream --format '{{.MemPerc}}' $ids) || { echo "docker stats for $app-$color failed" >&2; exit 11; }
  printf '%s\\n' "$out" | while IFS= read -r value; do printf '%s %s\\n' "$color" "$value"; done
done`;

export function composeMemoryCommand(app: string, colors: readonly Color[]): Argv {
  return script('al-compose-memory', COMPOSE_MEMORY_SCRIPT, [app, ...colors]);
}

/** The largest MemPerc per color as a ratio (pure); a color with no figure (`--` for a stopped container) is left out. */
export function parseComposeMemory(text: string): Partial<Record<Color, number>> {
  const byColor: Partial<Record<Color, number>> = {};
  for (const line of text.split('\n')) {
    const match = /^(blue|green) ([\d.]+)%$/.exec(line.trim());
    if (!match) continue;
    const color = match[1] as Color;
    byColor[color] = Math.max(byColor[color] ?? 0, Number(match[2]) / 100);
  }
  return byColor;
}

/** For each `color url` pair prints `<color> <status>` (000: no answer). */
const HEALTH_SCRIPT = `set -u
max=$1; shift
while [ "$#" -ge 2 ]; do
  code=$(curl -s -o /dev/null -A agent-loop-monitor --max-time "$max" -w '%{http_code}' "$2" 2>/dev/null) || true
  echo "$1 \${code:-000}"
  shift 2
done`;

export function healthChecksCommand(
  targets: ReadonlyArray<{ color: Color; port: number }>,
  path: string,
  timeoutSeconds: number,
): Argv {
  if (!URL_PATH.test(path))
    throw new ConfigurationError(`invalid health path ${JSON.stringify(path)}: expected a path starting with /`);
  if (!(timeoutSeconds > 0))
    throw new ConfigurationError(`the health check timeout must be positive, got ${timeoutSeconds}`);
  return script('al-health', HEALTH_SCRIPT, [
    String(timeoutSeconds),
    ...targets.flatMap(({ color, port }) => [color, `http://127.0.0.1:${port}${path}`]),
  ]);
}

/** Health status per color (pure). */
export function parseHealthOutput(stdout: string): Partial<Record<Color, number>> {
  const statuses: Partial<Record<Color, number>> = {};
  for (const line of stdout.split('\n')) {
    const match = /^(blue|green) (\d{3})$/.exec(line.trim());
    if (match) statuses[match[1] as Color] = Number(match[2]);
  }
  return statuses;
}

// ---------------------------------------------------------------------------------------- source

export class HostSource implements MetricSource {
  readonly name = 'host';
  private readonly failuresInRow: Record<Color, number> = { blue: 0, green: 0 };
  private readonly healthPath: string;
  private readonly timeoutSeconds: number;
  private readonly memory: HostMemory;

  constructor(private readonly options: HostSourceOptions) {
    this.healthPath = options.healthPath ?? '/health';
    this.timeoutSeconds = options.timeoutSeconds ?? 5;
    this.memory = options.memory ?? { kind: 'host' };
    this.healthCommand();
  }

  healthCommand(): Argv {
    return healthChecksCommand(
      this.options.colors.map((color) => ({ color, port: this.options.ports[color] })),
      this.healthPath,
      this.timeoutSeconds,
    );
  }

  async sample(window: TimeWindow): Promise<Sample> {
    const { colors } = this.options;
    const [statuses, memory] = await Promise.all([this.checkHealth(), this.readMemory()]);
    const sample: Sample = { start: window.start, end: window.end, colors: {} };
    for (const color of colors) {
      const status = statuses[color] ?? 0;
      this.failuresInRow[color] = status >= 200 && status < 300 ? 0 : this.failuresInRow[color] + 1;
      const colorSample: ColorSample = {
        requests: 0,
        errors: 0,
        latency: [],
        healthFailuresInRow: this.failuresInRow[color],
      };
      const ratio = memory[color];
      if (ratio !== undefined) colorSample.memoryRatio = ratio;
      sample.colors[color] = colorSample;
    }
    return sample;
  }

  private async checkHealth(): Promise<Partial<Record<Color, number>>> {
    const { remote, colors } = this.options;
    const result = await remote.run(this.healthCommand(), {
      timeoutMs: (colors.length * (this.timeoutSeconds + 1) + 30) * 1000,
    });
    if (result.code !== 0)
      throw new HostError(
        remote.label,
        `health checks failed to run (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(0, 500)}`,
      );
    const statuses = parseHealthOutput(result.stdout);
    for (const color of colors) {
      if (statuses[color] === undefined)
        throw new HostError(
          remote.label,
          `the health check of ${color} printed no status: ${result.stdout.trim().slice(0, 300)}`,
        );
    }
    return statuses;
  }

  private async readMemory(): Promise<Partial<Record<Color, number>>> {
    const { remote, colors } = this.options;
    const memory = this.memory;
    if (memory.kind === 'none') return {};
    if (memory.kind === 'host') {
      const result = await remote.run(meminfoCommand(), { timeoutMs: 30_000 });
      if (result.code !== 0)
        throw new HostError(
          remote.label,
          `reading /proc/meminfo failed (exit ${result.code}): ${result.stderr.trim()}`,
        );
      let ratio: number;
      try {
        ratio = parseMeminfo(result.stdout);
      } catch (error) {
        throw new HostError(remote.label, (error as Error).message);
      }
      return Object.fromEntries(colors.map((color) => [color, ratio]));
    }
    // One command for every color: with the health checks and the log read, one SSH command per host per interval.
    const result = await remote.run(composeMemoryCommand(memory.app, colors), { timeoutMs: 60_000 });
    if (result.code !== 0)
      throw new HostError(
        remote.label,
        `reading the compose projects' memory failed (exit ${result.code}): ${result.stderr.trim().slice(0, 500)}`,
      );
    return parseComposeMemory(result.stdout);
  }
}
