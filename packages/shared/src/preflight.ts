import { HostError } from './errors';
import { script, type Argv } from './shell';
import type { Remote } from './ssh';

/** Host checks before anything changes: room to run a new color, and an nginx we can drive. */
export interface PreflightLimits {
  minFreeDiskMb: number;
  minFreeMemoryMb: number;
}

export interface PreflightFacts {
  freeDiskMb: number;
  freeMemoryMb: number;
  curl: boolean;
  nginxOk: boolean;
  nginxOutput: string;
  includeDir: boolean;
}

const PREFLIGHT_SCRIPT = `state_dir=$1; include_dir=$2; shift 2
mkdir -p "$state_dir" 2>/dev/null
printf 'disk_kb=%s\\n' "$(df -Pk "$state_dir" 2>/dev/null | awk 'NR==2 {print $4}')"
printf 'mem_kb=%s\\n' "$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo 2>/dev/null)"
if command -v curl >/dev/null 2>&1; then echo curl=yes; else echo curl=no; fi
if [ -d "$include_dir" ]; then echo include_dir=yes; else echo include_dir=no; fi
if out=$("$@" -t 2>&1); then echo nginx=ok; else echo nginx=failed; fi
printf '%s\\n' "$out" | sed 's/^/nginx_output=/'`;

export function preflightCommand(stateDir: string, includeDir: string, nginx: readonly string[]): Argv {
  return script('al-preflight', PREFLIGHT_SCRIPT, [stateDir, includeDir, ...nginx]);
}

export function parsePreflight(output: string): PreflightFacts {
  const values = new Map<string, string[]>();
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), [...(values.get(line.slice(0, eq)) ?? []), line.slice(eq + 1)]);
  }
  const first = (key: string): string => values.get(key)?.[0] ?? '';
  return {
    freeDiskMb: Math.floor(Number(first('disk_kb') || 0) / 1024),
    freeMemoryMb: Math.floor(Number(first('mem_kb') || 0) / 1024),
    curl: first('curl') === 'yes',
    nginxOk: first('nginx') === 'ok',
    nginxOutput: (values.get('nginx_output') ?? []).join('\n').trim(),
    includeDir: first('include_dir') === 'yes',
  };
}

/** Returns the problems found (empty when the host is ready). */
export function judgePreflight(facts: PreflightFacts, limits: PreflightLimits, includeDir: string): string[] {
  const problems: string[] = [];
  if (facts.freeDiskMb < limits.minFreeDiskMb) problems.push(`only ${facts.freeDiskMb} MB of disk free, ${limits.minFreeDiskMb} MB required (min-free-disk-mb)`);
  if (facts.freeMemoryMb < limits.minFreeMemoryMb) problems.push(`only ${facts.freeMemoryMb} MB of memory available, ${limits.minFreeMemoryMb} MB required (min-free-memory-mb)`);
  if (!facts.curl) problems.push('curl is not installed (the health checks run it on the host)');
  if (!facts.includeDir) problems.push(`the nginx include directory ${includeDir} does not exist (nginx-conf-dir)`);
  if (!facts.nginxOk) problems.push(`nginx is missing or its configuration is invalid before any change: ${facts.nginxOutput || 'no output'}`);
  return problems;
}

export async function preflight(remote: Remote, stateDir: string, includeDir: string, nginx: readonly string[], limits: PreflightLimits): Promise<PreflightFacts> {
  const result = await remote.run(preflightCommand(stateDir, includeDir, nginx), { timeoutMs: 60_000 });
  const facts = parsePreflight(result.stdout);
  const problems = judgePreflight(facts, limits, includeDir);
  if (problems.length > 0) throw new HostError(remote.label, `preflight failed: ${problems.join('; ')}`);
  return facts;
}
