import { ConfigurationError, HostError } from '../action';
import { script, type Argv } from './shell';
import type { Remote } from './ssh';

/**
 * Prepares a host, once, for an unprivileged deploy user (in the manner of `kamal setup`): run by a
 * user that is root or may use sudo without a password, it makes the state directory and the nginx
 * include directory the deploy user's, lets it read the access log, installs a sudoers drop-in that
 * allows exactly `nginx -t` and `nginx -s reload` (checked with `visudo -c` first), and makes sure
 * nginx knows the agent_loop log format and includes the include directory. Each step checks
 * before it changes, so a second run changes nothing; each reports `changed`, `ok` or `todo`.
 */

/** The access log format the canary monitor reads (one JSON object per request). */
export const AGENT_LOOP_LOG_FORMAT =
  'log_format agent_loop escape=json \'{"time":$msec,"status":$status,"request_time":$request_time,"upstream":"$proxy_host","upstream_addr":"$upstream_addr","upstream_status":"$upstream_status","upstream_time":"$upstream_response_time","method":"$request_method","uri":"$uri"}\';';

export interface HostSetupPlan {
  deployUser: string;
  stateDir: string;
  includeDir: string;
  /** Empty: not checked. */
  accessLog: string;
  sudoersFile: string;
  /** The nginx command without sudo, e.g. ['nginx'] or ['/usr/sbin/nginx', '-p', '/opt/nginx/']. */
  nginx: readonly string[];
}

export interface SetupItem {
  outcome: 'changed' | 'ok' | 'todo';
  what: string;
}

export const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/**
 * sudoers reads `\ , : =` inside a command's arguments as syntax: they are escaped with a
 * backslash. Whitespace separates arguments and quotes are not sudoers syntax, so a word with
 * either cannot be matched exactly and is refused.
 */
export function sudoersWord(word: string): string {
  if (word === '' || /[\s"'\0]/.test(word)) throw new ConfigurationError(`the nginx argument '${word}' cannot be matched by a sudoers rule (no spaces or quotes)`);
  return word.replace(/[\\,:=]/g, (character) => `\\${character}`);
}

/**
 * The sudoers drop-in: the deploy user may run, as root and without a password, this exact nginx
 * (absolute path) with these exact arguments followed by `-t`, or by `-s reload`. Nothing else.
 */
export function sudoersRule(deployUser: string, nginxPath: string, nginxArgs: readonly string[]): string {
  if (!USER_NAME.test(deployUser)) throw new ConfigurationError(`'${deployUser}' is not a user name`);
  if (!nginxPath.startsWith('/')) throw new ConfigurationError(`the nginx command must resolve to an absolute path, got '${nginxPath}'`);
  const base = [nginxPath, ...nginxArgs].map(sudoersWord).join(' ');
  return [
    '# Written by agent-loop host-setup: the deploy user may check and reload nginx, and nothing else.',
    `${deployUser} ALL=(root) NOPASSWD: ${base} -t, ${base} -s reload`,
    '',
  ].join('\n');
}

/**
 * The command line the deploy user's actions use for nginx after set-up, for the `nginx-command`
 * input: sudo without a prompt, nginx by its absolute path (a non-root PATH has no /usr/sbin).
 */
export function deployNginxCommand(nginxPath: string, nginxArgs: readonly string[]): string {
  return ['sudo', '-n', nginxPath, ...nginxArgs].join(' ');
}

/** Where nginx is, as root sees it: `command -v`, else /usr/sbin (not on a non-root PATH). */
const LOCATE_SCRIPT = `name=$1
if [ "$(id -u)" = 0 ]; then path=$(command -v "$name" 2>/dev/null); else path=$(sudo -n sh -c 'command -v "$1"' sh "$name" 2>/dev/null); fi
[ -z "$path" ] && [ -x "/usr/sbin/$name" ] && path="/usr/sbin/$name"
case "$path" in /*) echo "nginx_path=$path" ;; *) echo "nginx_path=" ;; esac`;

export function locateCommand(name: string): Argv {
  return script('al-locate', LOCATE_SCRIPT, [name]);
}

const SETUP_SCRIPT = `set -u
user=$1; state_dir=$2; include_dir=$3; access_log=$4; sudoers_file=$5; log_format=$6; rule_text=$7; shift 7
if [ "$(id -u)" = 0 ]; then as_root() { "$@"; }
elif sudo -n true 2>/dev/null; then as_root() { sudo -n "$@"; }
else echo "fatal=$(id -un) is not root and cannot run sudo without a password: run host-setup with a sudo-capable login"; exit 0; fi
id -u "$user" >/dev/null 2>&1 || { echo "fatal=there is no user $user: create it first (sudo useradd --create-home --shell /bin/bash $user) and authorize the deploy key in ~$user/.ssh/authorized_keys"; exit 0; }
group=$(id -gn "$user")
err=$(mktemp); rule=$(mktemp); trap 'rm -f "$err" "$rule"' EXIT

own_dir() { # dir mode what
  if [ -d "$1" ] && [ "$(stat -c %U "$1")" = "$user" ]; then echo "ok=$3 $1 belongs to $user"; return; fi
  if as_root install -d -o "$user" -g "$group" -m "$2" "$1" 2>"$err"; then echo "changed=$3 $1 now belongs to $user"
  else echo "todo=$3 $1: $(cat "$err")"; fi
}
own_dir "$state_dir" 0750 "state directory"
own_dir "$include_dir" 0755 "nginx include directory"

if [ -n "$access_log" ]; then
  target=$access_log; [ -e "$target" ] || target=$(dirname "$access_log")
  if as_root runuser -u "$user" -- test -r "$target"; then echo "ok=$user can read $target"
  else
    log_group=$(stat -c %G "$target")
    if [ "$log_group" = root ]; then echo "todo=$target belongs to group root: give it a group $user is in (Debian uses adm)"
    elif as_root usermod -a -G "$log_group" "$user"; then echo "changed=$user joined group $log_group to read $target (effective at its next login)"
    else echo "todo=could not add $user to group $log_group"; fi
  fi
fi

printf '%s' "$rule_text" > "$rule"
if as_root cmp -s "$rule" "$sudoers_file" 2>/dev/null; then echo "ok=sudoers rule $sudoers_file"
elif ! out=$(as_root visudo -c -f "$rule" 2>&1); then echo "todo=visudo -c refused the sudoers rule, nothing was installed: $out"
elif as_root install -o root -g root -m 0440 "$rule" "$sudoers_file"; then echo "changed=installed $sudoers_file (checked with visudo -c): $user may run nginx -t and nginx -s reload as root, nothing else"
else echo "todo=could not install $sudoers_file"; fi

config=$(as_root "$@" -T 2>/dev/null || true)
case "$config" in *"# configuration file $include_dir/"*|*"include $include_dir/*"*) echo "ok=nginx includes $include_dir" ;;
  *) echo "todo=nginx does not include $include_dir: add 'include $include_dir/*.conf;' inside the http block of the main configuration, then reload" ;; esac
if printf '%s\\n' "$config" | grep -q 'log_format[[:space:]][[:space:]]*agent_loop[[:space:]]'; then echo "ok=nginx knows the agent_loop log format"
else
  file="$include_dir/00-agent-loop-log-format.conf"
  printf '%s\\n' "$log_format" | as_root tee "$file" >/dev/null
  if as_root "$@" -t >/dev/null 2>&1 && as_root "$@" -s reload >/dev/null 2>&1; then echo "changed=wrote the agent_loop log format to $file"
  else as_root rm -f "$file"; echo "todo=add at http level of the main configuration: $log_format"; fi
fi`;

/** The set-up script for a host whose nginx is at nginxPath (from locateCommand). */
export function setupCommand(plan: HostSetupPlan, nginxPath: string): Argv {
  if (!USER_NAME.test(plan.deployUser)) throw new ConfigurationError(`'${plan.deployUser}' is not a user name`);
  const nginxArgs = plan.nginx.slice(1);
  const rule = sudoersRule(plan.deployUser, nginxPath, nginxArgs);
  return script('al-host-setup', SETUP_SCRIPT, [plan.deployUser, plan.stateDir, plan.includeDir, plan.accessLog, plan.sudoersFile, AGENT_LOOP_LOG_FORMAT, rule, nginxPath, ...nginxArgs]);
}

export interface SetupReport {
  host: string;
  nginxPath: string;
  items: SetupItem[];
  fatal?: string;
}

export function parseSetup(host: string, output: string): SetupReport {
  const report: SetupReport = { host, nginxPath: '', items: [] };
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'fatal') report.fatal = value;
    else if (key === 'nginx_path') report.nginxPath = value;
    else if (key === 'changed' || key === 'ok' || key === 'todo') report.items.push({ outcome: key, what: value });
  }
  return report;
}

/** Runs the set-up on one host (as the admin login) and returns what it changed, found in order, or left to do. */
export async function setupHost(remote: Remote, plan: HostSetupPlan): Promise<SetupReport> {
  const name = plan.nginx[0] ?? 'nginx';
  const located = parseSetup(remote.label, (await remote.run(locateCommand(name), { timeoutMs: 30_000 })).stdout).nginxPath;
  if (!located) return { host: remote.label, nginxPath: '', items: [], fatal: `nginx (${name}) is not installed, or not found by root: sudo apt-get install -y --no-install-recommends nginx` };
  const result = await remote.run(setupCommand(plan, located), { timeoutMs: 120_000 });
  const report = parseSetup(remote.label, result.stdout);
  report.nginxPath = located;
  if (result.code !== 0 && !report.fatal) throw new HostError(remote.label, `host set-up failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(-800)}`);
  return report;
}
