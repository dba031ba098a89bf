import { ConfigurationError, HostError } from '../action';
import { quote, script, type Argv, type Remote } from '../hosts';

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
  if (problems.length > 0) {
    // A prerequisite the doctor knows how to fix comes with its command.
    const missing = await doctor(remote, { stateDir, includeDir, nginx, accessLog: '' }).catch((): Prerequisite[] => []);
    if (missing.some((item) => item.kind !== 'configuration')) throw new ConfigurationError(`${formatPrerequisites(remote.label, missing)}\n  (preflight: ${problems.join('; ')})`);
    throw new HostError(remote.label, `not ready: ${problems.join('; ')}`);
  }
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
}

export interface Prerequisite {
  problem: string;
  fix: string;
  /** 'configuration': nginx's own configuration is broken (not something host-setup provides). */
  kind?: 'configuration';
}

export interface DoctorFacts {
  user: string;
  root: boolean;
  stateDir: 'writable' | 'creatable' | 'denied';
  includeDir: 'writable' | 'missing' | 'denied';
  nginxFound: boolean;
  nginxInSbin: string;
  nginxOk: boolean;
  nginxOutput: string;
  curl: boolean;
  accessLog: 'readable' | 'absent' | 'denied' | 'unchecked';
  accessLogGroup: string;
  sudo: boolean;
}

const DOCTOR_SCRIPT = `state_dir=$1; include_dir=$2; access_log=$3; shift 3
echo "user=$(id -un)"; echo "uid=$(id -u)"
if [ -d "$state_dir" ]; then if [ -w "$state_dir" ]; then echo state=writable; else echo state=denied; fi
else
  parent=$state_dir; while [ ! -d "$parent" ]; do parent=$(dirname "$parent"); done
  if [ -w "$parent" ]; then echo state=creatable; else echo state=denied; fi
fi
if [ ! -d "$include_dir" ]; then echo include=missing; elif [ -w "$include_dir" ]; then echo include=writable; else echo include=denied; fi
word=$1; [ "$word" = sudo ] && { shift; while [ "\${1#-}" != "$1" ]; do shift; done; word=$1; set -- sudo -n "$@"; }
if command -v "$word" >/dev/null 2>&1; then echo nginx_found=yes; else echo nginx_found=no; fi
case "$word" in */*) ;; *) [ -x "/usr/sbin/$word" ] && echo "nginx_sbin=/usr/sbin/$word" ;; esac
if out=$("$@" -t 2>&1 </dev/null); then echo nginx=ok; else echo nginx=failed; fi
printf '%s\\n' "$out" | sed 's/^/nginx_output=/'
if command -v curl >/dev/null 2>&1; then echo curl=yes; else echo curl=no; fi
if command -v sudo >/dev/null 2>&1; then echo sudo=yes; else echo sudo=no; fi
if [ -z "$access_log" ]; then echo log=unchecked
elif [ -e "$access_log" ]; then if [ -r "$access_log" ]; then echo log=readable; else echo log=denied; echo "log_group=$(stat -c %G "$access_log")"; fi
else echo log=absent; fi`;

export function doctorCommand(target: DoctorTarget): Argv {
  return script('al-doctor', DOCTOR_SCRIPT, [target.stateDir, target.includeDir, target.accessLog, ...target.nginx]);
}

export function parseDoctor(output: string): DoctorFacts {
  const { values, first } = keyValues(output);
  return {
    user: first('user'),
    root: first('uid') === '0',
    stateDir: (['writable', 'creatable'].includes(first('state')) ? first('state') : 'denied') as DoctorFacts['stateDir'],
    includeDir: (['writable', 'missing'].includes(first('include')) ? first('include') : 'denied') as DoctorFacts['includeDir'],
    nginxFound: first('nginx_found') === 'yes',
    nginxInSbin: first('nginx_sbin'),
    nginxOk: first('nginx') === 'ok',
    nginxOutput: (values.get('nginx_output') ?? []).join('\n').trim(),
    curl: first('curl') === 'yes',
    accessLog: (['readable', 'absent', 'denied'].includes(first('log')) ? first('log') : 'unchecked') as DoctorFacts['accessLog'],
    accessLogGroup: first('log_group'),
    sudo: first('sudo') === 'yes',
  };
}

const q = (word: string) => quote(word);

/** What is missing, each with the command that fixes it (run as a sudo-capable user, or run host-setup). */
export function judgeDoctor(facts: DoctorFacts, target: DoctorTarget): Prerequisite[] {
  const user = facts.user || 'DEPLOY_USER';
  const found: Prerequisite[] = [];
  const nginxWords = target.nginx[0] === 'sudo' ? target.nginx.filter((word, index) => index > 0 && !(word.startsWith('-') && index === 1)) : [...target.nginx];
  const nginxLine = nginxWords.join(' ');
  if (facts.stateDir === 'denied') found.push({ problem: `${user} cannot write the state directory ${target.stateDir} (state-dir)`, fix: `sudo install -d -o ${q(user)} -g ${q(user)} -m 0750 ${q(target.stateDir)}` });
  if (facts.includeDir === 'missing') found.push({ problem: `the nginx include directory ${target.includeDir} does not exist (nginx-conf-dir)`, fix: `sudo install -d -o ${q(user)} -m 0755 ${q(target.includeDir)}` });
  if (facts.includeDir === 'denied') found.push({ problem: `${user} cannot write the nginx include directory ${target.includeDir} (nginx-conf-dir)`, fix: `sudo chown ${q(user)} ${q(target.includeDir)}` });
  if (!facts.curl) found.push({ problem: 'curl is not installed (the health checks run it on the host)', fix: 'sudo apt-get install -y --no-install-recommends curl' });
  if (!facts.nginxFound) {
    found.push(
      facts.nginxInSbin
        ? { problem: `'${nginxWords[0]}' is not on ${user}'s PATH (a non-root PATH on Debian has no /usr/sbin)`, fix: `set nginx-command: sudo -n ${[facts.nginxInSbin, ...nginxWords.slice(1)].join(' ')} (and run host-setup for the sudoers rule)` }
        : { problem: `nginx ('${nginxWords[0]}') is not installed`, fix: 'sudo apt-get install -y --no-install-recommends nginx' },
    );
  } else if (!facts.nginxOk) {
    const privileged = /permission denied|not permitted|a password is required|sudo:/i.test(facts.nginxOutput);
    if (privileged && !facts.root) {
      const path = nginxWords[0]?.startsWith('/') ? nginxWords[0] : (facts.nginxInSbin || `/usr/sbin/${nginxWords[0] ?? 'nginx'}`);
      const base = [path, ...nginxWords.slice(1)].join(' ');
      found.push({
        problem: `${user} cannot run '${nginxLine} -t': ${facts.nginxOutput.split('\n')[0] ?? ''}`,
        fix: `run host-setup with deploy-user ${user}, or: echo ${q(`${user} ALL=(root) NOPASSWD: ${base} -t, ${base} -s reload`)} | sudo tee /etc/sudoers.d/agent-loop && sudo chmod 0440 /etc/sudoers.d/agent-loop && sudo visudo -c; then set nginx-command: sudo -n ${base}`,
      });
    } else {
      found.push({ problem: `nginx's configuration is invalid before any change: ${facts.nginxOutput || 'no output'}`, fix: `fix the configuration until '${nginxLine} -t' passes`, kind: 'configuration' });
    }
  }
  if (facts.accessLog === 'denied') {
    found.push({ problem: `${user} cannot read the access log ${target.accessLog} (access-log)`, fix: facts.accessLogGroup && facts.accessLogGroup !== 'root' ? `sudo usermod -a -G ${q(facts.accessLogGroup)} ${q(user)}` : `sudo chgrp adm ${q(target.accessLog)} && sudo usermod -a -G adm ${q(user)}` });
  }
  return found;
}

export function formatPrerequisites(host: string, missing: readonly Prerequisite[]): string {
  return [`${host}: ${missing.length} prerequisite${missing.length === 1 ? '' : 's'} missing (run the host-setup action once, or these commands):`, ...missing.map((item) => `  - ${item.problem}\n    fix: ${item.fix}`)].join('\n');
}

/** Runs the doctor on a connected host; returns what is missing (empty when ready). */
export async function doctor(remote: Remote, target: DoctorTarget): Promise<Prerequisite[]> {
  const result = await remote.run(doctorCommand(target), { timeoutMs: 60_000 });
  return judgeDoctor(parseDoctor(result.stdout), target);
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
