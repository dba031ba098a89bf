import { ConfigurationError, HostError } from '../action';
import { APP_NAME } from '../vocabulary';
import { script, type Argv } from './shell';
import type { Remote } from './ssh';

/**
 * Prepares a host, once, for an unprivileged deploy user (in the manner of `kamal setup`): run by a
 * user that is root or may use sudo without a password, it makes the state directory the deploy
 * user's, keeps the nginx include directory root's, installs the switch helper (a root-owned
 * program that writes an app's include from a fixed template and reloads nginx) and a sudoers
 * drop-in that allows that helper and nothing else (checked with `visudo -c` first), lets the deploy
 * user read the one access log the canary monitor reads (an ACL on that file, no group), and makes
 * sure nginx knows the agent_loop log format and includes the include directory. Every file is
 * written as a temporary file in a directory that only root may write, then renamed into place.
 * Each step checks before it changes, so a second run changes nothing; each reports `changed`,
 * `ok` or `todo`.
 */

/** The access log format the canary monitor reads (one JSON object per request). */
export const AGENT_LOOP_LOG_FORMAT =
  'log_format agent_loop escape=json \'{"time":$msec,"status":$status,"request_time":$request_time,"upstream":"$proxy_host","upstream_addr":"$upstream_addr","upstream_status":"$upstream_status","upstream_time":"$upstream_response_time","method":"$request_method","uri":"$uri"}\';';

export interface HostSetupPlan {
  /** The router that moves the host's traffic (its registered name): nginx's part of the set-up runs only for nginx. Absent: nginx. */
  router?: string;
  deployUser: string;
  stateDir: string;
  includeDir: string;
  /** Empty: not checked. */
  accessLog: string;
  sudoersFile: string;
  /** Where the switch helper is installed (the deploys' nginx-command is `sudo -n` and this path). */
  switchHelper: string;
  /** The nginx command without sudo, e.g. ['nginx'] or ['/usr/sbin/nginx', '-p', '/opt/nginx/']. */
  nginx: readonly string[];
  /** An app whose split variable is defined before its first deploy; empty for none. */
  app?: string;
  /** That app's placeholder include (traffic's placeholderInclude), written when it has none yet. */
  placeholder?: string;
}

export interface SetupItem {
  outcome: 'changed' | 'ok' | 'todo';
  what: string;
}

export const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/**
 * The sudoers drop-in: the deploy user may run, as root and without a password, the switch helper
 * (absolute path), which checks its own arguments. Nothing else: not nginx itself, whose include
 * directories would then have to be the deploy user's.
 */
export function sudoersRule(deployUser: string, helperPath: string): string {
  if (!USER_NAME.test(deployUser)) throw new ConfigurationError(`'${deployUser}' is not a user name`);
  // Plain path characters only: sudoers reads `, : =`, backslashes and white space as syntax.
  if (!/^\/[A-Za-z0-9._/-]+$/.test(helperPath))
    throw new ConfigurationError(
      `the switch helper must be an absolute path of letters, digits and . _ - /, got '${helperPath}'`,
    );
  return [
    '# Written by agent-loop host-setup: the deploy user may run the switch helper as root, and nothing else.',
    `${deployUser} ALL=(root) NOPASSWD: ${helperPath}`,
    '',
  ].join('\n');
}

/** The nginx-command the deploy user's actions use after set-up: the helper through sudo, without a prompt. */
export function deployNginxCommand(helperPath: string): string {
  return ['sudo', '-n', helperPath].join(' ');
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
user=$1; state_dir=$2; include_dir=$3; access_log=$4; sudoers_file=$5; log_format=$6; rule_text=$7; helper=$8; helper_text=$9
app=\${10}; placeholder_text=\${11}; drive_nginx=\${12}; shift 12
if [ "$(id -u)" = 0 ]; then as_root() { "$@"; }
elif sudo -n true 2>/dev/null; then as_root() { sudo -n "$@"; }
else echo "fatal=$(id -un) is not root and cannot run sudo without a password: run host-setup with a sudo-capable login"; exit 0; fi
id -u "$user" >/dev/null 2>&1 || { echo "fatal=there is no user $user: create it first (sudo useradd --create-home --shell /bin/bash $user) and authorize the deploy key in ~$user/.ssh/authorized_keys"; exit 0; }
group=$(id -gn "$user")
err=$(mktemp); text=$(mktemp); trap 'rm -f "$err" "$text"' EXIT

# A directory, and every one above it, that only root may write (above it, also root's with the
# sticky bit, as /tmp, where nobody else may rename or remove root's entries): a file put there
# cannot be swapped by anyone else between its check and its use.
root_only() {
  d=$1; own=yes
  while :; do
    set -- $(stat -c '%u %a' "$d" 2>/dev/null)
    [ "\${1-}" = 0 ] || return 1
    case \${2-} in *[2367]?|*[2367]) case $own\${2-} in no[1357]???) ;; *) return 1 ;; esac ;; esac
    own=no
    [ "$d" = / ] && return 0
    d=$(dirname "$d")
  done
}
# Installs the text in $text as root's file $1 with mode $2: a temporary file made by mktemp in the
# target's own directory, then a rename (which replaces a link rather than writing through it).
install_root() {
  dir=$(dirname "$1")
  root_only "$dir" || { echo "$dir, or a directory above it, may be written by someone other than root" > "$err"; return 1; }
  tmp=$(as_root mktemp "$dir/.agent-loop.XXXXXXXX") || return 1
  if as_root sh -c 'cat > "$1" && chown root:root "$1" && chmod "$2" "$1"' sh "$tmp" "$2" < "$text" && as_root mv -fT "$tmp" "$1"; then return 0; fi
  as_root rm -f "$tmp"; return 1
}
same_root_file() { # target mode: already root's, with that mode and the text in $text
  [ -f "$1" ] && [ ! -L "$1" ] && [ "$(stat -c '%u %a' "$1")" = "0 $2" ] && as_root cmp -s "$text" "$1"
}

if [ -d "$state_dir" ] && [ "$(stat -c %U "$state_dir")" = "$user" ]; then echo "ok=state directory $state_dir belongs to $user"
elif as_root install -d -o "$user" -g "$group" -m 0750 "$state_dir" 2>"$err"; then echo "changed=state directory $state_dir now belongs to $user"
else echo "todo=state directory $state_dir: $(cat "$err")"; fi

# Another router than nginx: no include, no helper, no sudoers rule (its own part is the router's).
if [ "$drive_nginx" = yes ]; then
# nginx (root) loads every file in the include directory: it stays root's, and the helper writes it.
include_state() { set -- $(stat -c '%u %a' "$include_dir" 2>/dev/null); [ "\${1-}" = 0 ] && case \${2-} in *[2367]?|*[2367]) false ;; esac; }
if [ ! -d "$include_dir" ]; then
  if as_root install -d -o root -g root -m 0755 "$include_dir" 2>"$err"; then echo "changed=nginx include directory $include_dir made, root's"; else echo "todo=nginx include directory $include_dir: $(cat "$err")"; fi
elif include_state; then echo "ok=nginx include directory $include_dir is root's: $user cannot write it"
elif as_root chown root:root "$include_dir" 2>"$err" && as_root chmod go-w "$include_dir" 2>>"$err"; then echo "changed=nginx include directory $include_dir is root's again: $user could write it, and nginx loads it as root"
else echo "todo=nginx include directory $include_dir: $(cat "$err")"; fi
for f in "$include_dir"/* "$include_dir"/.[!.]*; do
  { [ -e "$f" ] || [ -L "$f" ]; } || continue
  owner=$(stat -c %U "$f")
  [ "$owner" = root ] || echo "todo=$f belongs to $owner, and nginx loads it as root: read it, then make it root's (sudo chown root:root $f) or remove it"
done

printf '%s\\n' "$helper_text" > "$text"
if same_root_file "$helper" 755; then echo "ok=switch helper $helper"
elif install_root "$helper" 0755 2>>"$err"; then echo "changed=installed the switch helper $helper: it writes $include_dir/agent-loop-APP.conf from a fixed template and reloads nginx"
else echo "todo=could not install the switch helper $helper: $(cat "$err")"; fi

printf '%s' "$rule_text" > "$text"
if same_root_file "$sudoers_file" 440; then echo "ok=sudoers rule $sudoers_file"
elif ! out=$(as_root visudo -c -f "$text" 2>&1); then echo "todo=visudo -c refused the sudoers rule, nothing was installed: $out"
elif [ ! -f "$helper" ]; then echo "todo=the sudoers rule was not installed: the switch helper it names is missing"
elif install_root "$sudoers_file" 0440 2>>"$err"; then echo "changed=installed $sudoers_file (checked with visudo -c): $user may run $helper as root, nothing else"
else echo "todo=could not install $sudoers_file: $(cat "$err")"; fi
fi

if [ -n "$access_log" ]; then
  if [ -L "$access_log" ]; then echo "todo=the access log $access_log is a symbolic link: name the file itself"
  elif [ -e "$access_log" ] && [ ! -f "$access_log" ]; then echo "todo=the access log $access_log is not a regular file"
  else
    case $access_log in
      *.log)
        if [ ! -e "$access_log" ]; then
          if as_root sh -c 'umask 027; set -C; : > "$1"' sh "$access_log" 2>"$err"; then echo "changed=created the access log $access_log (root's, mode 0640)"; else echo "todo=could not create the access log $access_log: $(cat "$err")"; fi
        fi
        if [ -f "$access_log" ]; then
          log_group=$(stat -c %G "$access_log")
          if [ "$log_group" != "$group" ] && id -nG "$user" | tr ' ' '\\n' | grep -qx "$log_group"; then
            echo "todo=$user is in group $log_group, which reads more than $access_log: sudo gpasswd -d $user $log_group (host-setup grants the one file)"
          fi
          if as_root runuser -u "$user" -- test -r "$access_log"; then echo "ok=$user can read $access_log"
          elif ! command -v setfacl >/dev/null 2>&1; then echo "todo=setfacl is missing: sudo apt-get install -y --no-install-recommends acl, then run host-setup again"
          elif as_root setfacl -m "u:$user:r" "$access_log" 2>"$err"; then echo "changed=$user may read $access_log (an ACL on that file alone; no group)"
          else echo "todo=could not give $user read access to $access_log: $(cat "$err")"; fi
          # Rotation: a rule that re-creates the file with a mode of its own drops the ACL.
          for conf in /etc/logrotate.conf /etc/logrotate.d/*; do
            [ -f "$conf" ] || continue
            covered=no; patterns=$(sed -n 's/^[[:space:]]*\\(\\/[^{]*\\).*/\\1/p' "$conf")
            set -f
            for pattern in $patterns; do case $access_log in $pattern) covered=yes ;; esac; done
            set +f
            [ "$covered" = yes ] || continue
            if grep -Eq '^[[:space:]]*create[[:space:]]+[0-7]' "$conf"; then
              echo "todo=$conf rotates $access_log with 'create MODE OWNER GROUP', which makes the new file without $user's ACL: change that line to a bare 'create' (logrotate then copies the ACL), or log to a file that rule does not rotate"
            else echo "ok=$conf rotates $access_log keeping its ACL"; fi
          done
        fi ;;
      *) echo "todo=the access log $access_log does not end in .log: host-setup gives read access to an nginx access log only" ;;
    esac
  fi
fi

[ "$drive_nginx" = yes ] || exit 0
config=$(as_root "$@" -T 2>/dev/null || true)
case "$config" in *"# configuration file $include_dir/"*|*"include $include_dir/*"*) echo "ok=nginx includes $include_dir" ;;
  *) echo "todo=nginx does not include $include_dir: add 'include $include_dir/*.conf;' inside the http block of the main configuration, then reload" ;; esac
if printf '%s\\n' "$config" | grep -q 'log_format[[:space:]][[:space:]]*agent_loop[[:space:]]'; then echo "ok=nginx knows the agent_loop log format"
else
  file="$include_dir/00-agent-loop-log-format.conf"
  printf '%s\\n' "$log_format" > "$text"
  if install_root "$file" 0644 2>>"$err" && as_root "$@" -t >/dev/null 2>&1 && as_root "$@" -s reload >/dev/null 2>&1; then echo "changed=wrote the agent_loop log format to $file"
  else as_root rm -f "$file"; echo "todo=add at http level of the main configuration: $log_format"; fi
fi

# The app's split variable before its first deploy: a server block may then name it (requests get
# 502 until that deploy's switch replaces this file with the real split).
if [ -n "$app" ]; then
  file="$include_dir/agent-loop-$app.conf"
  if [ -e "$file" ] || [ -L "$file" ]; then echo "ok=$file defines the split variable of $app"
  else
    printf '%s\n' "$placeholder_text" > "$text"
    if install_root "$file" 0644 2>>"$err" && as_root "$@" -t >/dev/null 2>&1 && as_root "$@" -s reload >/dev/null 2>&1; then
      echo "changed=wrote $file: the server block may name the split variable of $app before its first deploy (requests get 502 until then)"
    else as_root rm -f "$file"; echo "todo=could not define the split variable of $app in $file: $(cat "$err")"; fi
  fi
fi`;

/** Whether the plan's router is nginx (the helper, its sudoers rule, the include directory are set up only then). */
const drivesNginx = (plan: HostSetupPlan): boolean => (plan.router ?? 'nginx') === 'nginx';

/**
 * The set-up script for a host whose nginx is at nginxPath (from locateCommand); `helperText` is
 * the switch helper's file for that nginx (traffic's helperFile). For another router than nginx,
 * only the state directory and the access log: nginxPath and helperText are not used.
 */
export function setupCommand(plan: HostSetupPlan, nginxPath: string, helperText: string): Argv {
  if (!USER_NAME.test(plan.deployUser)) throw new ConfigurationError(`'${plan.deployUser}' is not a user name`);
  const nginxArgs = plan.nginx.slice(1);
  const rule = sudoersRule(plan.deployUser, plan.switchHelper);
  // An app's split variable is written only with its placeholder text.
  const placeholder = plan.placeholder ?? '';
  const app = placeholder === '' ? '' : (plan.app ?? '');
  if (app !== '' && !APP_NAME.test(app)) throw new ConfigurationError(`'${app}' is not an app name`);
  return script('al-host-setup', SETUP_SCRIPT, [
    plan.deployUser,
    plan.stateDir,
    plan.includeDir,
    plan.accessLog,
    plan.sudoersFile,
    AGENT_LOOP_LOG_FORMAT,
    rule,
    plan.switchHelper,
    helperText,
    app,
    placeholder,
    drivesNginx(plan) ? 'yes' : 'no',
    ...(drivesNginx(plan) ? [nginxPath, ...nginxArgs] : []),
  ]);
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

/**
 * Runs the set-up on one host (as the admin login) and returns what it changed, found in order, or
 * left to do. `helperFor` gives the switch helper's file for nginx as root runs it there.
 */
export async function setupHost(
  remote: Remote,
  plan: HostSetupPlan,
  helperFor: (nginx: readonly string[]) => string,
): Promise<SetupReport> {
  if (!drivesNginx(plan)) {
    const result = await remote.run(setupCommand(plan, '', ''), { timeoutMs: 120_000 });
    const report = parseSetup(remote.label, result.stdout);
    if (result.code !== 0 && !report.fatal)
      throw new HostError(
        remote.label,
        `host set-up failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(-800)}`,
      );
    return report;
  }
  const name = plan.nginx[0] ?? 'nginx';
  const located = parseSetup(
    remote.label,
    (await remote.run(locateCommand(name), { timeoutMs: 30_000 })).stdout,
  ).nginxPath;
  if (!located)
    return {
      host: remote.label,
      nginxPath: '',
      items: [],
      fatal: `nginx (${name}) is not installed, or not found by root: sudo apt-get install -y --no-install-recommends nginx`,
    };
  const result = await remote.run(setupCommand(plan, located, helperFor([located, ...plan.nginx.slice(1)])), {
    timeoutMs: 120_000,
  });
  const report = parseSetup(remote.label, result.stdout);
  report.nginxPath = located;
  if (result.code !== 0 && !report.fatal)
    throw new HostError(
      remote.label,
      `host set-up failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(-800)}`,
    );
  return report;
}
