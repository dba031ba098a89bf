import { ConfigurationError, HostError } from '../action';
import { script, type Argv, type Remote } from '../hosts';
import {
  drivesNginx,
  nginxControl,
  nginxName,
  routerPrerequisites,
  switchHelperPath,
  SWITCH_HELPER_PATH,
  type Prerequisite,
} from '../traffic';
import { doctor, formatPrerequisites } from './doctor';
import {
  accessLogLine,
  inspectArgs,
  keyValues,
  parseServerFacts,
  proxyLine,
  type RouterTarget,
  type ServerBlockTarget,
  type ServerFacts,
} from './host-facts';

export type { Prerequisite };

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
  root: boolean;
  /** What nginx's configuration says about the app's server block (the helper's `inspect`); null when not asked or not known. */
  server: ServerFacts | null;
  /** nginx was not checked: another router moves the traffic. */
  nginxSkipped?: boolean;
}

const PREFLIGHT_SCRIPT = `state_dir=$1; include_dir=$2; app=$3; access_log=$4; shift 4
echo "uid=$(id -u)"
mkdir -p "$state_dir" 2>/dev/null
printf 'disk_kb=%s\\n' "$(df -Pk "$state_dir" 2>/dev/null | awk 'NR==2 {print $4}')"
printf 'mem_kb=%s\\n' "$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo 2>/dev/null)"
if command -v curl >/dev/null 2>&1; then echo curl=yes; else echo curl=no; fi
# No nginx command line: another router moves the traffic, and nginx is not checked.
[ $# -gt 0 ] || { echo nginx=skipped; exit 0; }
if [ -d "$include_dir" ]; then echo include_dir=yes; else echo include_dir=no; fi
if out=$("$@" check 2>&1 </dev/null); then echo nginx=ok; else echo nginx=failed; fi
printf '%s\\n' "$out" | sed 's/^/nginx_output=/'
if [ -n "$app" ] && facts=$("$@" inspect "$app" "$access_log" 2>/dev/null </dev/null); then echo "server=$facts"; fi`;

/**
 * The checks, with nginx checked through the helper's `check` (nginx-helper.ts), as the switch will
 * run it; with `server`, the helper's `inspect` says whether the app's server block proxies to its
 * split variable and writes the access log (a helper too old to know the verb says nothing).
 */
export function preflightCommand(
  stateDir: string,
  includeDir: string,
  nginx: readonly string[],
  server?: ServerBlockTarget,
  withNginx = true,
): Argv {
  return script('al-preflight', PREFLIGHT_SCRIPT, [
    stateDir,
    includeDir,
    ...inspectArgs(server),
    ...(withNginx ? nginxControl(nginx, includeDir) : []),
  ]);
}

export function parsePreflight(output: string): PreflightFacts {
  const { values, first } = keyValues(output);
  return {
    freeDiskMb: Math.floor(Number(first('disk_kb') || 0) / 1024),
    freeMemoryMb: Math.floor(Number(first('mem_kb') || 0) / 1024),
    curl: first('curl') === 'yes',
    nginxOk: first('nginx') === 'ok',
    nginxOutput: (values.get('nginx_output') ?? []).join('\n').trim(),
    includeDir: first('include_dir') === 'yes',
    root: first('uid') === '0',
    server: parseServerFacts(first('server')),
    ...(first('nginx') === 'skipped' ? { nginxSkipped: true } : {}),
  };
}

/**
 * What a deploy should warn about (it does not stop: before the first deploy the variable does not
 * exist yet, so the proxy line cannot be there): the new color gets no request without the proxy
 * line, and the monitor sees none without the access log line.
 */
export function serverBlockWarnings(facts: ServerFacts | null, server: ServerBlockTarget): string[] {
  if (!facts) return [];
  const warnings: string[] = [];
  if (!facts.proxy)
    warnings.push(
      `no server block of nginx proxies to $${nginxName(server.app)}: no request reaches ${server.app}'s colors, ` +
        `so the new color gets none; add '${proxyLine(server.app)}' to the location that serves ${server.app} ` +
        `(nginx knows the variable once a deploy has written agent-loop-${server.app}.conf), then reload nginx`,
    );
  if (facts.log === false)
    warnings.push(
      `no server block writes ${server.accessLog} in the agent_loop format: the canary monitor reading it sees no request; ` +
        `add '${accessLogLine(server.accessLog)}' next to that proxy_pass, then reload nginx`,
    );
  return warnings;
}

/** Returns the problems found (empty when the host is ready). */
export function judgePreflight(
  facts: PreflightFacts,
  limits: PreflightLimits,
  includeDir: string,
  nginx: readonly string[] = [],
): string[] {
  const problems: string[] = [];
  // nginx itself through sudo means a user that is not root writes what nginx loads as root.
  if (!facts.nginxSkipped && !facts.root && nginx[0] === 'sudo' && !switchHelperPath(nginx))
    problems.push(
      `nginx-command runs nginx itself through sudo as a user that is not root: use the switch helper (sudo -n ${SWITCH_HELPER_PATH}, installed by host-setup)`,
    );
  if (facts.freeDiskMb < limits.minFreeDiskMb)
    problems.push(`only ${facts.freeDiskMb} MB of disk free, ${limits.minFreeDiskMb} MB required (min-free-disk-mb)`);
  if (facts.freeMemoryMb < limits.minFreeMemoryMb)
    problems.push(
      `only ${facts.freeMemoryMb} MB of memory available, ${limits.minFreeMemoryMb} MB required (min-free-memory-mb)`,
    );
  if (!facts.curl) problems.push('curl is not installed (the health checks run it on the host)');
  if (facts.nginxSkipped) return problems;
  if (!facts.includeDir) problems.push(`the nginx include directory ${includeDir} does not exist (nginx-conf-dir)`);
  if (!facts.nginxOk)
    problems.push(
      `nginx is missing or its configuration is invalid before any change: ${facts.nginxOutput || 'no output'}`,
    );
  const served = /^valid include=(.*)$/m.exec(facts.nginxOutput)?.[1];
  if (facts.nginxOk && served !== undefined && trimSlash(served) !== trimSlash(includeDir)) {
    problems.push(
      `the nginx helper writes the include into ${served}, not into ${includeDir}: ` +
        `set nginx-conf-dir to ${served}, or run host-setup with nginx-conf-dir ${includeDir}`,
    );
  }
  return problems;
}

const trimSlash = (dir: string): string => dir.replace(/\/+$/, '') || '/';

/**
 * The checks before a deploy touches a host. nginx, when it moves the traffic, is checked by the
 * script; another router (`router`) by its own prerequisites, at the same time: one it lacks
 * stops the deploy on that host with the command that fixes it.
 */
export async function preflight(
  remote: Remote,
  stateDir: string,
  includeDir: string,
  nginx: readonly string[],
  limits: PreflightLimits,
  server?: ServerBlockTarget,
  router?: RouterTarget,
): Promise<PreflightFacts> {
  const withNginx = drivesNginx(router?.name);
  const [result, routerMissing] = await Promise.all([
    remote.run(preflightCommand(stateDir, includeDir, nginx, server, withNginx), { timeoutMs: 60_000 }),
    router && !withNginx
      ? routerPrerequisites(router.name, { remote, host: router.host, app: router.app })
      : Promise.resolve([]),
  ]);
  const facts = parsePreflight(result.stdout);
  const problems = judgePreflight(facts, limits, includeDir, nginx);
  // A prerequisite the doctor knows how to fix comes with its command.
  const missing =
    problems.length > 0
      ? await doctor(remote, { stateDir, includeDir, nginx, accessLog: '', ...(router ? { router } : {}) }).catch(
          (): Prerequisite[] => [],
        )
      : routerMissing;
  if (problems.length > 0) {
    if (missing.some((item) => item.kind !== 'configuration'))
      throw new ConfigurationError(
        `${formatPrerequisites(remote.label, missing)}\n  (preflight: ${problems.join('; ')})`,
      );
    throw new HostError(remote.label, `not ready: ${problems.join('; ')}`);
  }
  // The router's own (HAProxy's socket, its level, the app's servers): each with its fix.
  if (missing.length > 0) throw new ConfigurationError(formatPrerequisites(remote.label, missing));
  return facts;
}
