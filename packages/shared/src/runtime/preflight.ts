import { ConfigurationError, HostError } from '../action';
import { quote, script, type Argv, type HostSpec, type Remote } from '../hosts';
import {
  drivesNginx,
  nginxControl,
  nginxName,
  routerPrerequisites,
  switchHelperPath,
  SWITCH_HELPER_PATH,
  type Prerequisite,
} from '../traffic';

export type { Prerequisite };

/**
 * The router a host's traffic goes through, by its registered name, with the host and the app it
 * routes: nginx is checked by the scripts below (nginx -t through nginx-command, the include
 * directory, the server block); any other router by its registry entry's own `prerequisites`.
 */
export interface RouterTarget {
  name: string;
  host: HostSpec;
  app: string;
}

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

/** From nginx -T, through the helper: does a server block proxy to `$agent_loop_<app>`, and write the access log in the agent_loop format? */
export interface ServerFacts {
  proxy: boolean;
  /** null: not checked (no absolute access log to look for). */
  log: boolean | null;
}

/** What the server block of an app needs, checked when given. */
export interface ServerBlockTarget {
  app: string;
  /** The access log the monitor reads; checked only when absolute. */
  accessLog: string;
}

/** The helper's `inspect` arguments: the app, and the access log (or `-` when it is not an absolute path). */
function inspectArgs(server: ServerBlockTarget | undefined): [string, string] {
  if (!server) return ['', '-'];
  return [server.app, server.accessLog.startsWith('/') ? server.accessLog : '-'];
}

function parseServerFacts(line: string): ServerFacts | null {
  const match = /^proxy=(yes|no) log=(yes|no|unchecked)$/.exec(line.trim());
  if (!match) return null;
  return { proxy: match[1] === 'yes', log: match[2] === 'unchecked' ? null : match[2] === 'yes' };
}

/** The line an app's server block needs so that requests reach its colors. */
export function proxyLine(app: string): string {
  return `proxy_pass http://$${nginxName(app)};`;
}

/** The line that writes the access log the monitor reads. */
export function accessLogLine(accessLog: string): string {
  return `access_log ${accessLog} agent_loop;`;
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

/** The `key=value` lines a host script prints: every value of a key, and the first one. */
function keyValues(output: string): { values: Map<string, string[]>; first: (key: string) => string } {
  const values = new Map<string, string[]>();
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), [...(values.get(line.slice(0, eq)) ?? []), line.slice(eq + 1)]);
  }
  return { values, first: (key) => values.get(key)?.[0] ?? '' };
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
      `no server block of nginx proxies to $${nginxName(server.app)}: no request reaches ${server.app}'s colors, so the new color gets none; add '${proxyLine(server.app)}' to the location that serves ${server.app} (nginx knows the variable once a deploy has written agent-loop-${server.app}.conf), then reload nginx`,
    );
  if (facts.log === false)
    warnings.push(
      `no server block writes ${server.accessLog} in the agent_loop format: the canary monitor reading it sees no request; add '${accessLogLine(server.accessLog)}' next to that proxy_pass, then reload nginx`,
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
      `the nginx helper writes the include into ${served}, not into ${includeDir}: set nginx-conf-dir to ${served}, or run host-setup with nginx-conf-dir ${includeDir}`,
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

// ------------------------------------------------------------------------------------ doctor

/**
 * The doctor: every prerequisite a deploy needs on a host, checked as the deploy user itself, each
 * missing one with the exact command that fixes it. Run on its own (host-setup phase doctor) and
 * before a deploy takes its lock, so an unprepared host fails with the whole list, not with the
 * first `Permission denied`.
 */
export interface DoctorTarget {
  stateDir: string;
  includeDir: string;
  nginx: readonly string[];
  /** Empty: not checked (the canary monitor reads it). */
  accessLog: string;
  /** The app whose server block is checked (its proxy_pass and access_log); empty or absent: not checked. */
  app?: string;
  /** The router that moves the host's traffic; absent: nginx. Another router's prerequisites are its registry entry's, and nginx is not checked. */
  router?: RouterTarget;
}

export interface DoctorFacts {
  user: string;
  root: boolean;
  stateDir: 'writable' | 'creatable' | 'denied';
  includeDir: 'writable' | 'missing' | 'denied';
  /** nginx-command starts with sudo. */
  viaSudo: boolean;
  nginxFound: boolean;
  nginxInSbin: string;
  nginxOk: boolean;
  nginxOutput: string;
  curl: boolean;
  accessLog: 'readable' | 'absent' | 'denied' | 'unchecked';
  sudo: boolean;
  /** The app's server block, from nginx -T through the helper; null when not checked or not known. */
  server: ServerFacts | null;
  /** The helper refused `inspect` (installed by an older host-setup): its first line. */
  serverUnknown: string;
  /** nginx was not checked: another router moves the traffic. */
  nginxSkipped?: boolean;
}

const DOCTOR_SCRIPT = `state_dir=$1; include_dir=$2; access_log=$3; app=$4; inspect_log=$5; n=$6; shift 6
echo "user=$(id -un)"; echo "uid=$(id -u)"
if [ -d "$state_dir" ]; then if [ -w "$state_dir" ]; then echo state=writable; else echo state=denied; fi
else
  parent=$state_dir; while [ ! -d "$parent" ]; do parent=$(dirname "$parent"); done
  if [ -w "$parent" ]; then echo state=creatable; else echo state=denied; fi
fi
if [ "$n" -eq 0 ]; then echo nginx=skipped
elif [ ! -d "$include_dir" ]; then echo include=missing; elif [ -w "$include_dir" ]; then echo include=writable; else echo include=denied; fi
# No nginx command line: another router moves the traffic, and nginx is not checked.
if [ "$n" -gt 0 ]; then
# The program nginx-command runs (after sudo and its options), then the helper's argv.
word=; via_sudo=no; i=0
for w; do
  [ "$i" -lt "$n" ] || break; i=$((i + 1))
  [ -z "$word" ] || continue
  case $w in sudo) via_sudo=yes ;; -*) [ "$via_sudo" = yes ] || word=$w ;; *) word=$w ;; esac
done
shift "$n"
echo "via_sudo=$via_sudo"
if command -v "$word" >/dev/null 2>&1; then echo nginx_found=yes; else echo nginx_found=no; fi
case "$word" in */*) ;; *) [ -x "/usr/sbin/$word" ] && echo "nginx_sbin=/usr/sbin/$word" ;; esac
if out=$("$@" check 2>&1 </dev/null); then echo nginx=ok; else echo nginx=failed; fi
printf '%s\\n' "$out" | sed 's/^/nginx_output=/'
if [ -n "$app" ]; then
  if facts=$("$@" inspect "$app" "$inspect_log" 2>&1 </dev/null); then echo "server=$facts"
  else code=$?; case $facts in *usage:*) printf 'server_unknown=%s\\n' "$(printf '%s\\n' "$facts" | head -n 1)" ;; *) echo "server_failed=$code" ;; esac; fi
fi
fi
if command -v curl >/dev/null 2>&1; then echo curl=yes; else echo curl=no; fi
if command -v sudo >/dev/null 2>&1; then echo sudo=yes; else echo sudo=no; fi
if [ -z "$access_log" ]; then echo log=unchecked
elif [ -e "$access_log" ]; then if [ -r "$access_log" ]; then echo log=readable; else echo log=denied; fi
else echo log=absent; fi`;

export function doctorCommand(target: DoctorTarget): Argv {
  const [app, inspectLog] = inspectArgs(target.app ? { app: target.app, accessLog: target.accessLog } : undefined);
  const nginx = drivesNginx(target.router?.name)
    ? [String(target.nginx.length), ...target.nginx, ...nginxControl(target.nginx, target.includeDir)]
    : ['0'];
  return script('al-doctor', DOCTOR_SCRIPT, [
    target.stateDir,
    target.includeDir,
    target.accessLog,
    app,
    inspectLog,
    ...nginx,
  ]);
}

export function parseDoctor(output: string): DoctorFacts {
  const { values, first } = keyValues(output);
  return {
    user: first('user'),
    root: first('uid') === '0',
    stateDir: (['writable', 'creatable'].includes(first('state'))
      ? first('state')
      : 'denied') as DoctorFacts['stateDir'],
    includeDir: (['writable', 'missing'].includes(first('include'))
      ? first('include')
      : 'denied') as DoctorFacts['includeDir'],
    viaSudo: first('via_sudo') === 'yes',
    nginxFound: first('nginx_found') === 'yes',
    nginxInSbin: first('nginx_sbin'),
    nginxOk: first('nginx') === 'ok',
    nginxOutput: (values.get('nginx_output') ?? []).join('\n').trim(),
    curl: first('curl') === 'yes',
    accessLog: (['readable', 'absent', 'denied'].includes(first('log'))
      ? first('log')
      : 'unchecked') as DoctorFacts['accessLog'],
    sudo: first('sudo') === 'yes',
    server: parseServerFacts(first('server')),
    serverUnknown: first('server_unknown'),
    ...(first('nginx') === 'skipped' ? { nginxSkipped: true } : {}),
  };
}

const q = (word: string) => quote(word);

/**
 * What is missing, each with the command that fixes it (run as a sudo-capable user, or run
 * host-setup). A user that is not root drives nginx only through the switch helper: a directory
 * it may write that nginx (root) loads, or nginx itself through sudo next to such a directory,
 * would make it root in all but name, and is reported as a problem, not as a way to deploy.
 */
export function judgeDoctor(facts: DoctorFacts, target: DoctorTarget): Prerequisite[] {
  const user = facts.user || 'DEPLOY_USER';
  const found: Prerequisite[] = [];
  const helper = switchHelperPath(target.nginx);
  const nginxWords =
    target.nginx[0] === 'sudo'
      ? target.nginx.filter((word, index) => index > 0 && !(word.startsWith('-') && index === 1))
      : [...target.nginx];
  const nginxLine = nginxWords.join(' ');
  const setUp = `run host-setup with deploy-user ${user}, then set nginx-command: sudo -n ${helper ?? SWITCH_HELPER_PATH}`;
  if (facts.stateDir === 'denied')
    found.push({
      problem: `${user} cannot write the state directory ${target.stateDir} (state-dir)`,
      fix: `sudo install -d -o ${q(user)} -g ${q(user)} -m 0750 ${q(target.stateDir)}`,
    });
  if (facts.nginxSkipped) {
    if (!facts.curl)
      found.push({
        problem: 'curl is not installed (the health checks run it on the host)',
        fix: 'sudo apt-get install -y --no-install-recommends curl',
      });
    if (facts.accessLog === 'denied') found.push(accessLogFix(user, target.accessLog));
    return found;
  }
  if (facts.includeDir === 'missing')
    found.push({
      problem: `the nginx include directory ${target.includeDir} does not exist (nginx-conf-dir)`,
      fix: `sudo install -d -o root -g root -m 0755 ${q(target.includeDir)}`,
    });
  if (!facts.curl)
    found.push({
      problem: 'curl is not installed (the health checks run it on the host)',
      fix: 'sudo apt-get install -y --no-install-recommends curl',
    });
  const privileged = /permission denied|not permitted|a password is required|not allowed|sudo:/i.test(
    facts.nginxOutput,
  );
  if (helper) {
    if (!facts.root && facts.includeDir === 'writable') {
      found.push({
        problem: `${user} can write the nginx include directory ${target.includeDir}, which nginx loads as root: ${user} could make nginx write any file (nginx-conf-dir)`,
        fix: `sudo chown root:root ${q(target.includeDir)} && sudo chmod go-w ${q(target.includeDir)} (or run host-setup)`,
      });
    }
    if (!facts.nginxFound)
      found.push({
        problem: `the nginx helper ${helper} is not installed`,
        fix: `run host-setup with deploy-user ${user} (it installs ${helper} and the sudoers rule for it)`,
      });
    else if (!facts.nginxOk && privileged && !facts.root)
      found.push({
        problem: `${user} may not run ${helper} through sudo: ${facts.nginxOutput.split('\n')[0] ?? ''}`,
        fix: `run host-setup with deploy-user ${user} (its sudoers rule allows ${helper} and nothing else)`,
      });
    else if (!facts.nginxOk)
      found.push({
        problem: `nginx's configuration is invalid before any change: ${facts.nginxOutput || 'no output'}`,
        fix: `fix the configuration until 'sudo ${helper} check' passes`,
        kind: 'configuration',
      });
  } else if (!facts.root && facts.viaSudo) {
    found.push({
      problem: `nginx-command runs nginx itself through sudo: ${user} would then write nginx's include directory ${target.includeDir}, which nginx loads as root, and could become root`,
      fix: setUp,
    });
  } else if (!facts.nginxFound) {
    found.push(
      facts.nginxInSbin
        ? {
            problem: `'${nginxWords[0]}' is not on ${user}'s PATH (a non-root PATH on Debian has no /usr/sbin)`,
            fix: facts.root ? `set nginx-command: ${[facts.nginxInSbin, ...nginxWords.slice(1)].join(' ')}` : setUp,
          }
        : {
            problem: `nginx ('${nginxWords[0]}') is not installed`,
            fix: 'sudo apt-get install -y --no-install-recommends nginx',
          },
    );
  } else if (!facts.nginxOk) {
    if (privileged && !facts.root)
      found.push({
        problem: `${user} cannot run '${nginxLine} -t': ${facts.nginxOutput.split('\n')[0] ?? ''}`,
        fix: setUp,
      });
    else
      found.push({
        problem: `nginx's configuration is invalid before any change: ${facts.nginxOutput || 'no output'}`,
        fix: `fix the configuration until '${nginxLine} -t' passes`,
        kind: 'configuration',
      });
  } else if (facts.includeDir === 'denied') {
    found.push({
      problem: `${user} cannot write the nginx include directory ${target.includeDir} (nginx-conf-dir)`,
      fix: setUp,
    });
  }
  // The server block, from nginx's own view of its configuration: the two lines the README asks for.
  if (target.app && facts.server) {
    const variable = `$${nginxName(target.app)}`;
    if (!facts.server.proxy)
      found.push({
        problem: `no server block proxies to ${variable}: requests for ${target.app} never reach its colors, and a deploy's canary gets none`,
        fix: `add '${proxyLine(target.app)}' to the location of the server block that serves ${target.app} (nginx knows ${variable} once a deploy has written agent-loop-${target.app}.conf), then reload nginx`,
      });
    if (facts.server.log === false)
      found.push({
        problem: `no server block writes ${target.accessLog} in the agent_loop format: the canary monitor reading it (access-log) sees no request`,
        fix: `add '${accessLogLine(target.accessLog)}' next to that proxy_pass, then reload nginx`,
      });
  } else if (target.app && facts.serverUnknown) {
    found.push({
      problem: `the switch helper cannot check the server block (${facts.serverUnknown.slice(0, 120)}): it was installed by an older host-setup`,
      fix: `run host-setup again (it updates ${helper ?? SWITCH_HELPER_PATH})`,
    });
  }
  if (facts.accessLog === 'denied') found.push(accessLogFix(user, target.accessLog));
  return found;
}

const accessLogFix = (user: string, accessLog: string): Prerequisite => ({
  problem: `${user} cannot read the access log ${accessLog} (access-log)`,
  fix: `sudo setfacl -m u:${q(user)}:r ${q(accessLog)} (or run host-setup with access-log ${accessLog})`,
});

export function formatPrerequisites(host: string, missing: readonly Prerequisite[]): string {
  return [
    `${host}: ${missing.length} prerequisite${missing.length === 1 ? '' : 's'} missing (run the host-setup action once, or these commands):`,
    ...missing.map((item) => `  - ${item.problem}\n    fix: ${item.fix}`),
  ].join('\n');
}

/** Runs the doctor on a connected host; returns what is missing (empty when ready): the host's, then the router's own when it is not nginx. */
export async function doctor(remote: Remote, target: DoctorTarget): Promise<Prerequisite[]> {
  const router = target.router;
  const [result, routerMissing] = await Promise.all([
    remote.run(doctorCommand(target), { timeoutMs: 60_000 }),
    router && !drivesNginx(router.name)
      ? routerPrerequisites(router.name, { remote, host: router.host, app: router.app })
      : Promise.resolve([]),
  ]);
  return [...judgeDoctor(parseDoctor(result.stdout), target), ...routerMissing];
}

/** The doctor as a gate: throws a ConfigurationError listing every missing prerequisite with its fix. */
export async function requirePrerequisites(remote: Remote, target: DoctorTarget): Promise<void> {
  const missing = await doctor(remote, target);
  if (missing.length > 0) throw new ConfigurationError(formatPrerequisites(remote.label, missing));
}

/**
 * When a first step on a host fails (taking the lock in the state directory), asks the doctor why:
 * an unprepared host gets the whole list of what is missing, with fixes, instead of a bare
 * `mkdir: Permission denied`. Anything else is passed on as it was.
 */
export async function explainUnprepared(remote: Remote, target: DoctorTarget, error: unknown): Promise<never> {
  let missing: Prerequisite[] = [];
  try {
    missing = await doctor(remote, target);
  } catch {
    // The doctor could not run either: the original error says more.
  }
  if (missing.length > 0) throw new ConfigurationError(formatPrerequisites(remote.label, missing));
  throw error;
}
