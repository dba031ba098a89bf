import { ROOT_ONLY_SHELL } from './root-only';
import { script, type Argv } from './shell';

/**
 * host-setup's shell, run on a host as the admin login (hostsetup.ts builds its arguments): where
 * nginx is as root sees it, then the set-up itself, one step after another, each printing
 * `changed=`, `ok=` or `todo=` (or `fatal=` when it cannot start).
 */

/** Where nginx is, as root sees it: `command -v`, else /usr/sbin (not on a non-root PATH). */
const LOCATE_SCRIPT = `name=$1
if [ "$(id -u)" = 0 ]; then path=$(command -v "$name" 2>/dev/null); else path=$(sudo -n sh -c 'command -v "$1"' sh "$name" 2>/dev/null); fi
[ -z "$path" ] && [ -x "/usr/sbin/$name" ] && path="/usr/sbin/$name"
case "$path" in /*) echo "nginx_path=$path" ;; *) echo "nginx_path=" ;; esac`;

export function locateCommand(name: string): Argv {
  return script('al-locate', LOCATE_SCRIPT, [name]);
}

export const SETUP_SCRIPT = `set -u
user=$1; state_dir=$2; include_dir=$3; access_log=$4; sudoers_file=$5; log_format=$6; rule_text=$7; helper=$8; helper_text=$9
app=\${10}; placeholder_text=\${11}; drive_nginx=\${12}; shift 12
if [ "$(id -u)" = 0 ]; then as_root() { "$@"; }
elif sudo -n true 2>/dev/null; then as_root() { sudo -n "$@"; }
else echo "fatal=$(id -un) is not root and cannot run sudo without a password: run host-setup with a sudo-capable login"; exit 0; fi
id -u "$user" >/dev/null 2>&1 || {
  echo "fatal=there is no user $user: create it first (sudo useradd --create-home --shell /bin/bash $user) and \\
authorize the deploy key in ~$user/.ssh/authorized_keys"
  exit 0
}
group=$(id -gn "$user")
err=$(mktemp); text=$(mktemp); trap 'rm -f "$err" "$text"' EXIT

${ROOT_ONLY_SHELL}
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

# Another router than nginx: no include (its own part is the router's).
if [ "$drive_nginx" = yes ]; then
# nginx (root) loads every file in the include directory: it stays root's, and the helper writes it.
include_state() { set -- $(stat -c '%u %a' "$include_dir" 2>/dev/null); [ "\${1-}" = 0 ] && case \${2-} in *[2367]?|*[2367]) false ;; esac; }
if [ ! -d "$include_dir" ]; then
  if as_root install -d -o root -g root -m 0755 "$include_dir" 2>"$err"; then echo "changed=nginx include directory $include_dir made, root's"
  else echo "todo=nginx include directory $include_dir: $(cat "$err")"; fi
elif include_state; then echo "ok=nginx include directory $include_dir is root's: $user cannot write it"
elif as_root chown root:root "$include_dir" 2>"$err" && as_root chmod go-w "$include_dir" 2>>"$err"; then
  echo "changed=nginx include directory $include_dir is root's again: $user could write it, and nginx loads it as root"
else echo "todo=nginx include directory $include_dir: $(cat "$err")"; fi
for f in "$include_dir"/* "$include_dir"/.[!.]*; do
  { [ -e "$f" ] || [ -L "$f" ]; } || continue
  owner=$(stat -c %U "$f")
  [ "$owner" = root ] || echo "todo=$f belongs to $owner, and nginx loads it as root: read it, then make it root's (sudo chown root:root $f) or remove it"
done
fi

# The helper, root's: with nginx, the switch and the maintenance verbs; without (another router),
# the maintenance verbs alone (the package upgrade and the log rotation, as root).
if [ "$drive_nginx" = yes ]; then helper_does="it writes $include_dir/agent-loop-APP.conf from a fixed template and reloads nginx"
else helper_does="no nginx here: it runs the maintenance's package upgrade and log rotation as root (nginx-command: sudo -n $helper)"; fi
printf '%s\\n' "$helper_text" > "$text"
if same_root_file "$helper" 755; then echo "ok=switch helper $helper"
elif install_root "$helper" 0755 2>>"$err"; then echo "changed=installed the switch helper $helper: $helper_does"
else echo "todo=could not install the switch helper $helper: $(cat "$err")"; fi

printf '%s' "$rule_text" > "$text"
if same_root_file "$sudoers_file" 440; then echo "ok=sudoers rule $sudoers_file"
elif ! out=$(as_root visudo -c -f "$text" 2>&1); then echo "todo=visudo -c refused the sudoers rule, nothing was installed: $out"
elif [ ! -f "$helper" ]; then echo "todo=the sudoers rule was not installed: the switch helper it names is missing"
elif install_root "$sudoers_file" 0440 2>>"$err"; then
  echo "changed=installed $sudoers_file (checked with visudo -c): $user may run $helper as root, nothing else"
else echo "todo=could not install $sudoers_file: $(cat "$err")"; fi

if [ -n "$access_log" ]; then
  if [ -L "$access_log" ]; then echo "todo=the access log $access_log is a symbolic link: name the file itself"
  elif [ -e "$access_log" ] && [ ! -f "$access_log" ]; then echo "todo=the access log $access_log is not a regular file"
  else
    case $access_log in
      *.log)
        if [ ! -e "$access_log" ]; then
          if as_root sh -c 'umask 027; set -C; : > "$1"' sh "$access_log" 2>"$err"; then echo "changed=created the access log $access_log (root's, mode 0640)"
          else echo "todo=could not create the access log $access_log: $(cat "$err")"; fi
        fi
        if [ -f "$access_log" ]; then
          log_group=$(stat -c %G "$access_log")
          if [ "$log_group" != "$group" ] && id -nG "$user" | tr ' ' '\\n' | grep -qx "$log_group"; then
            echo "todo=$user is in group $log_group, which reads more than $access_log: sudo gpasswd -d $user $log_group (host-setup grants the one file)"
          fi
          if as_root runuser -u "$user" -- test -r "$access_log"; then echo "ok=$user can read $access_log"
          elif ! command -v setfacl >/dev/null 2>&1; then
            echo "todo=setfacl is missing: sudo apt-get install -y --no-install-recommends acl, then run host-setup again"
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
              echo "todo=$conf rotates $access_log with 'create MODE OWNER GROUP', which makes the new file without $user's ACL: \\
change that line to a bare 'create' (logrotate then copies the ACL), or log to a file that rule does not rotate"
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
  if install_root "$file" 0644 2>>"$err" && as_root "$@" -t >/dev/null 2>&1 && as_root "$@" -s reload >/dev/null 2>&1; then
    echo "changed=wrote the agent_loop log format to $file"
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
