import { quote, script, type Argv } from '../hosts';
import { UPKEEP_SCRIPT } from './upkeep';

/**
 * The privileged half of the nginx router: the one program that writes an app's traffic include
 * and reloads nginx. nginx's master runs as root and loads every file in its include directories,
 * so whoever writes a directive there is root (an `access_log` path and a log format of its
 * choosing write any file). The deploy user therefore writes no directive: it passes data (an app
 * name, three ports, a split key, two weights, a generation), each checked here, and this program
 * renders the include from its one template.
 *
 * Two ways to run it, one text:
 * - installed by host-setup as a root-owned file (`/usr/local/sbin/agent-loop-nginx`), the only
 *   command the deploy user's sudoers rule allows, with the include directory and the nginx
 *   command line fixed in it by root (the caller cannot name another file or another nginx);
 * - where the SSH user already is the one nginx trusts (root, or a user running its own nginx),
 *   the same text is sent as `sh -c`, with that user's include directory and nginx command.
 *
 * Verbs: `check` (`nginx -t`, told as `valid include=DIR` or `invalid at FILE:LINE`: never the
 * text of a file, which the caller may not be allowed to read), `inspect APP LOG` (from `nginx -T`:
 * `proxy=yes|no log=yes|no|unchecked`, whether a server block proxies to the app's split variable
 * and writes LOG in the agent_loop format; facts, never a line), `render` (prints the include for
 * the arguments of `switch`), `switch` (writes, reloads, confirms; exit codes below), and the
 * maintenance verbs `upgrade` and `rotate-logs [CONFIG]` (upkeep.ts).
 */

/** Where host-setup installs the helper unless told otherwise. */
export const SWITCH_HELPER_PATH = '/usr/local/sbin/agent-loop-nginx';

/** The helper's file name: `agent-loop-nginx`, or with a suffix (one per nginx on a shared machine). */
const HELPER_NAME = /^agent-loop-nginx(?:[-.][A-Za-z0-9_.-]+)?$/;

/** What the helper is fixed to: the include directory it writes and the nginx it runs. */
export interface HelperTarget {
  includeDir: string;
  /** The nginx command line (absolute program when installed), e.g. ['/usr/sbin/nginx', '-p', '/opt/nginx/']. */
  nginx: readonly string[];
}

/**
 * The helper's path when an nginx-command names it (`sudo -n /usr/local/sbin/agent-loop-nginx`),
 * else null: the command is nginx itself, run by a user nginx already trusts.
 */
export function switchHelperPath(nginxCommand: readonly string[]): string | null {
  let words = [...nginxCommand];
  if (words[0] === 'sudo') {
    words = words.slice(1);
    while (words[0]?.startsWith('-')) words = words.slice(1);
  }
  const [program, ...rest] = words;
  if (!program || rest.length > 0 || !program.startsWith('/')) return null;
  return HELPER_NAME.test(program.slice(program.lastIndexOf('/') + 1)) ? program : null;
}

/**
 * The argv prefix that runs the helper's verbs for this host: the installed helper through sudo,
 * or its text as `sh -c` with the host's include directory and nginx command.
 */
export function nginxControl(nginxCommand: readonly string[], includeDir: string): Argv {
  return switchHelperPath(nginxCommand)
    ? [...nginxCommand]
    : script('agent-loop-nginx', helperBody({ includeDir, nginx: nginxCommand }), []);
}

/** The file host-setup installs: root's PATH, then the same text `nginxControl` sends. */
export function helperFile(target: HelperTarget): string {
  if (!target.nginx[0]?.startsWith('/'))
    throw new Error(`the installed helper needs nginx by its absolute path, got '${target.nginx[0] ?? ''}'`);
  return [
    '#!/bin/sh',
    '# Installed by agent-loop host-setup. The deploy user may run this as root (and nothing else):',
    '# it writes the traffic include of one app from a fixed template and reloads nginx, and for the',
    '# weekly maintenance upgrades packages and rotates logs (nothing the caller passes is run).',
    '# Every argument is checked; the include directory and nginx are fixed below.',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH',
    helperBody(target),
  ].join('\n');
}

function helperBody(target: HelperTarget): string {
  if (target.nginx.length === 0) throw new Error('empty nginx command');
  return [
    `include_dir=${quote(target.includeDir.replace(/\/+$/, '') || '/')}`,
    `run_nginx() { ${target.nginx.map(quote).join(' ')} "$@"; }`,
    HELPER_SCRIPT.replace('# UPKEEP', () => UPKEEP_SCRIPT),
  ].join('\n');
}

/**
 * Exit codes of `switch`: 2 arguments refused; 20 nginx refused the new include (the previous one
 * is back, nginx not reloaded); 21 the reload failed for another reason (previous file back); 22 the
 * reload exited 0 but the new weights could not be confirmed: never served, a worker of the previous
 * configuration still took new connections, or nginx's workers cannot be seen in /proc here (previous
 * file back and reloaded); 30 no include directory; 31–33 the file could not be written or swapped;
 * 34 the include is a link; 37 the include directory is writable by someone else than the user this
 * runs as.
 */
const HELPER_SCRIPT = `set -u
umask 022
die() { code=$1; shift; printf '%s\\n' "$*" >&2; exit "$code"; }
verb=\${1-}; [ $# -eq 0 ] || shift
# UPKEEP
# nginx -t, told as valid or as where it is not: its messages quote the files it read, and the
# caller may not be allowed to read them.
config_check() {
  if out=$(run_nginx -t 2>&1 </dev/null); then checked="valid include=$include_dir"; return 0; else code=$?; fi
  case $code in 126|127) checked="invalid: nginx could not be run (exit $code: not found or not executable)"; return 1 ;; esac
  case $out in *"Permission denied"*) checked="invalid: nginx -t was refused a file it needs (permission denied): run it as root, or through the switch helper"; return 1 ;; esac
  where=$(printf '%s\\n' "$out" | sed -n 's/^.*\\[[a-z]*\\] .* in \\(\\/[^ ]*:[0-9][0-9]*\\)$/\\1/p' | head -n 1)
  if [ -n "$where" ]; then checked="invalid at $where"; else checked="invalid (nginx -t named no file: see nginx's error log on the host)"; fi
  return 1
}
# What nginx's own view of its configuration (nginx -T, every file it loads, root-only ones too)
# says about the app's server block, told as two facts and never as a line of a file: whether a
# proxy_pass sends requests to the app's split variable, and whether an access_log writes the given
# file in the agent_loop format. Comments are dropped and statements split at ';'.
server_facts() {
  var=agent_loop_; rest=$1
  while [ -n "$rest" ]; do c=\${rest%"\${rest#?}"}; rest=\${rest#?}; [ "$c" = - ] && c=_; var=$var$c; done
  if ! dump=$(run_nginx -T 2>/dev/null </dev/null); then config_check; echo "$checked" >&2; return 20; fi
  printf '%s\\n' "$dump" | sed 's/#.*//' | awk -v RS=';' -v var="$var" -v file="$2" '
    BEGIN { proxy = "no"; logged = (file == "-") ? "unchecked" : "no"; target = "http://$" var }
    {
      s = $0; gsub(/[ \\t\\r\\n]+/, " ", s); sub(/^.*[{}]/, "", s); gsub(/["\\047]/, "", s); sub(/^ +/, "", s)
      split(s, w, " ")
      if (w[1] == "proxy_pass" && index(w[2], target) == 1 && substr(w[2], length(target) + 1, 1) !~ /[A-Za-z0-9_]/) proxy = "yes"
      if (w[1] == "access_log" && w[2] == file && w[3] == "agent_loop") logged = "yes"
    }
    END { print "proxy=" proxy " log=" logged }'
}
case $verb in
  check) if config_check; then echo "$checked"; exit 0; fi; echo "$checked" >&2; exit 20 ;;
  inspect)
    [ $# -eq 2 ] || die 2 "inspect takes 2 arguments (APP ACCESS-LOG, or - for no log), got $#"
    case $1 in [a-z]*) ;; *) die 2 "refused: app must be lower-case letters, digits and hyphens, starting with a letter" ;; esac
    case $1 in *[!a-z0-9-]*) die 2 "refused: app must be lower-case letters, digits and hyphens, starting with a letter" ;; esac
    [ \${#1} -le 40 ] || die 2 "refused: app must be at most 40 characters"
    case $2 in -) ;; /*) ;; *) die 2 "refused: the access log must be an absolute path, or -" ;; esac
    case $2 in *[!A-Za-z0-9._/+@-]*|*/../*|*/..) die 2 "refused: the access log must be a path of letters, digits and . _ / + @ -, without .." ;; esac
    [ \${#2} -le 512 ] || die 2 "refused: the access log must be at most 512 characters"
    server_facts "$1" "$2"; exit $? ;;
  upgrade|rotate-logs) upkeep "$verb" "$@"; exit 0 ;;
  render|switch) ;;
  *) die 2 "usage: agent-loop-nginx check | inspect APP ACCESS-LOG | upgrade | rotate-logs [CONFIG] | render|switch APP BLUE-PORT GREEN-PORT STATUS-PORT SPLIT-KEY BLUE-WEIGHT GREEN-WEIGHT GENERATION CONFIRM-MS NONCE" ;;
esac
[ $# -eq 10 ] || die 2 "$verb takes 10 arguments, got $#"
app=$1; blue_port=$2; green_port=$3; status_port=$4; split_key=$5; blue=$6; green=$7; generation=$8; confirm_ms=$9; nonce=\${10}
bad() { die 2 "refused: $1 must be $2"; }
case $app in [a-z]*) ;; *) bad app "lower-case letters, digits and hyphens, starting with a letter" ;; esac
case $app in *[!a-z0-9-]*) bad app "lower-case letters, digits and hyphens, starting with a letter" ;; esac
[ \${#app} -le 40 ] || bad app "at most 40 characters"
for port in "$blue_port" "$green_port" "$status_port"; do
  case $port in ''|0*|*[!0-9]*) bad "each port" "a number from 1024 to 65535" ;; esac
  { [ \${#port} -le 5 ] && [ "$port" -ge 1024 ] && [ "$port" -le 65535 ]; } || bad "each port" "a number from 1024 to 65535"
done
{ [ "$blue_port" != "$green_port" ] && [ "$blue_port" != "$status_port" ] && [ "$green_port" != "$status_port" ]; } || bad "the ports" "three different ports"
case $split_key in ''|*[!A-Za-z0-9_.:\\$-]*) bad "the split key" "nginx variables and letters, digits, _ . : - (e.g. \\$request_id)" ;; esac
[ \${#split_key} -le 100 ] || bad "the split key" "at most 100 characters"
for weight in "$blue" "$green"; do
  case $weight in ''|*[!0-9]*) bad "each weight" "a whole number from 0 to 100" ;; esac
  { [ \${#weight} -le 3 ] && [ "$weight" -le 100 ]; } || bad "each weight" "a whole number from 0 to 100"
done
[ $(( blue + green )) -eq 100 ] || bad "the weights" "two shares that add up to 100"
case $generation in ''|*[!a-z0-9-]*) bad "the generation" "lower-case letters, digits and hyphens" ;; esac
[ \${#generation} -le 64 ] || bad "the generation" "at most 64 characters"
case $confirm_ms in ''|*[!0-9]*) bad "the confirmation time" "milliseconds from 1 to 60000" ;; esac
{ [ \${#confirm_ms} -le 5 ] && [ "$confirm_ms" -ge 1 ] && [ "$confirm_ms" -le 60000 ]; } || bad "the confirmation time" "milliseconds from 1 to 60000"
case $nonce in ''|*[!0-9a-f]*) bad "the nonce" "hexadecimal" ;; esac
[ \${#nonce} -le 64 ] || bad "the nonce" "at most 64 characters"

# nginx names: agent_loop_<app with hyphens as underscores>
name=agent_loop_; rest=$app
while [ -n "$rest" ]; do c=\${rest%"\${rest#?}"}; rest=\${rest#?}; [ "$c" = - ] && c=_; name=$name$c; done
status="{\\"app\\":\\"$app\\",\\"weights\\":{\\"blue\\":$blue,\\"green\\":$green},\\"generation\\":\\"$generation\\"}"
render() {
  printf '# Managed by agent-loop-actions for the app "%s": every deploy rewrites this file.\\n' "$app"
  printf '# agent-loop: %s\\n' "$status"
  # Each color's upstream lists the other color as a backup: a request that an old worker still
  # sends to a color just stopped (connection refused) is retried on the other one. Only
  # connection errors fall back; an HTTP error from a color is its own.
  printf 'upstream %s_blue {\\n    server 127.0.0.1:%s max_fails=0;\\n    server 127.0.0.1:%s backup;\\n    keepalive 32;\\n}\\n' "$name" "$blue_port" "$green_port"
  printf 'upstream %s_green {\\n    server 127.0.0.1:%s max_fails=0;\\n    server 127.0.0.1:%s backup;\\n    keepalive 32;\\n}\\n' "$name" "$green_port" "$blue_port"
  if [ "$blue" -eq 100 ] || [ "$green" -eq 100 ]; then
    if [ "$blue" -eq 100 ]; then only=blue; else only=green; fi
    printf 'map $host $%s {\\n    default %s_%s;\\n}\\n' "$name" "$name" "$only"
  else
    # The smaller share is listed with its percentage, the larger takes the rest.
    if [ "$blue" -le "$green" ]; then minor=blue; share=$blue; major=green; else minor=green; share=$green; major=blue; fi
    printf 'split_clients "%s" $%s {\\n    %s%% %s_%s;\\n    * %s_%s;\\n}\\n' "$split_key" "$name" "$share" "$name" "$minor" "$name" "$major"
  fi
  printf 'server {\\n    listen 127.0.0.1:%s;\\n    server_name agent-loop-%s;\\n    access_log off;\\n' "$status_port" "$app"
  # The answer also names the worker that gave it ($pid), for the confirmation below.
  printf "    location = /agent-loop/%s {\\n        default_type application/json;\\n        return 200 '%s,\\"worker\\":\\$pid}\\\\\\\\n';\\n    }\\n}\\n" "$app" "\${status%?}"
}
[ "$verb" = render ] && { render; exit 0; }

# Milliseconds from the kernel's uptime (a read, not a process), or from date: for durations only.
now_ms() {
  if read -r up _ < /proc/uptime 2>/dev/null; then ms=$(( \${up%.*} * 1000 + (1\${up#*.} - 100) * 10 )); else ms=$(( $(date +%s%N) / 1000000 )); fi
}
# A process's state, parent and start time (clock ticks since boot, /proc/PID/stat's 22nd field), read
# by the shell itself. Start times are compared with each other only, never with /proc/uptime: a
# container may be given another uptime (LXCFS gives one its own), and every worker would look new.
proc_stat() {
  line=; read -r line < "/proc/$1/stat" 2>/dev/null || [ -n "$line" ] || return 1
  set -- \${line##*) }
  [ $# -ge 20 ] || return 1
  state=$1; ppid=$2; shift 19; start=$1
}
dir=$include_dir
file="$dir/agent-loop-$app.conf"
[ -d "$dir" ] || die 30 "the nginx include directory $dir does not exist"
# nginx loads every file here: a directory someone else may write is a way to become the user nginx trusts.
set -- $(stat -c '%u %a' "$dir")
[ "\${1-}" = "$(id -u)" ] || die 37 "the nginx include directory $dir does not belong to $(id -un): whoever owns it can make nginx run their configuration; run host-setup (it makes the directory root's)"
case \${2-} in *[2367]?|*[2367]) die 37 "the nginx include directory $dir may be written by its group or by anyone (mode \${2-}): run host-setup, or chmod go-w $dir" ;; esac
[ ! -L "$file" ] || die 34 "$file is a symbolic link: refusing to replace it"
tmp=; backup=
trap '[ -z "$tmp$backup" ] || rm -f \${tmp:+"$tmp"} \${backup:+"$backup"}' EXIT
tmp="$dir/.agent-loop-new.$nonce"
( set -C; render > "$tmp" ) || { tmp=; die 31 "the new include could not be written in $dir; nothing was changed"; }
now_ms; started=$ms
had_previous=0
if [ -f "$file" ]; then
  backup="$dir/.agent-loop-prev.$nonce"
  # A hard link keeps the previous file at no cost; where links are refused, a copy.
  ln "$file" "$backup" 2>/dev/null || cat "$file" > "$backup" || exit 32
  had_previous=1
fi
mv -f "$tmp" "$file" || exit 33
tmp=
restore() { if [ "$had_previous" = 1 ]; then mv -f "$backup" "$file"; backup=; else rm -f "$file"; fi; }
# Every process nginx starts from here on runs the new file: born is the start time of one started
# now (this subshell), on their clock.
born=$(proc_stat self && echo "$start") || born=
# A reload parses the whole configuration and refuses a bad one, so no nginx -t is spent on the way;
# it runs only to tell a rejected configuration from a failed reload.
# With a valid configuration, what the reload says is about the signal or the pid file, not a file's text.
if ! reloaded=$(run_nginx -s reload 2>&1 </dev/null); then
  if config_check; then restore; die 21 "nginx -s reload failed, though the configuration is valid: $(printf '%s\\n' "$reloaded" | tail -n 3)"; fi
  restore; die 20 "$checked"
fi
deadline=$(( started + confirm_ms ))
# Workers of the previous configuration that only finish connections they had before the reload are
# awaited for a fifth of that (a second at most), then reported as draining.
drain=$(( confirm_ms / 5 )); [ "$drain" -le 1000 ] || drain=1000
drain_until=$(( started + drain ))
status_url="http://127.0.0.1:$status_port/agent-loop/$app"
# One curl asks the status server every 20 ms (--rate, a fresh connection each time so that a new
# worker answers as soon as there is one) and the shell reads its answers (once the shell stops
# reading, curl fails its next write and --fail-early ends it): a process per poll would cost more
# than the reload itself on a busy host. A curl without --rate (before 7.84) fails at once, and the
# loop below polls the slow way for the time that is left.
# Confirmed means that no process of the previous configuration takes a request any more. nginx's
# master forks the new workers, sleeps 100 ms, and only then tells the old ones to stop; each closes
# its listening sockets, finishes the connections it has (a request on one of them still gets the old
# weights, however late it comes) and exits. So the worker that answered must be one this reload
# started, as /proc here shows it (a pid from another PID namespace names another process here), and
# every other child of its master started before the reload must have exited or, once the drain time
# is over, hold no listening socket. What cannot be seen is never taken as done.
kids_of() {
  kids=
  if [ -r "/proc/$1/task/$1/children" ]; then read -r kids < "/proc/$1/task/$1/children"; return 0; fi
  # A kernel without CONFIG_PROC_CHILDREN: every process's parent.
  for stat in /proc/[0-9]*/stat; do
    kid=\${stat#/proc/}; kid=\${kid%/stat}
    proc_stat "$kid" && [ "$ppid" = "$1" ] && kids="$kids $kid"
  done
}
# Whether process $1 holds a listening TCP or unix socket of master $2's network namespace; a table
# that cannot be read counts as one.
listens() {
  fds=$(ls -l "/proc/$1/fd" 2>/dev/null) || return 0
  printf '%s\\n' "$fds" | awk -v net="/proc/$2/net" '
    $NF ~ /^socket:\\[[0-9]+\\]$/ { held[substr($NF, 9, length($NF) - 9)] = 1 }
    END {
      split("tcp tcp6", kinds, " ")
      for (k = 1; k <= 2; k++) { file = net "/" kinds[k]; while ((getline line < file) > 0) { split(line, w, " "); if (w[4] == "0A" && (w[10] in held)) exit 0 } }
      file = net "/unix"; while ((getline line < file) > 0) { split(line, w, " "); if (w[4] == "00010000" && (w[7] in held)) exit 0 }
      exit 1
    }'
}
# True once no process of the previous configuration under master $1 can take a request: all have
# exited, or the drain time is over and none listens ($left of them still draining). Else $holder may.
old_settled() {
  now_ms; left=0; holder=
  kids_of "$1"
  for kid in $kids; do
    proc_stat "$kid" && [ "$ppid" = "$1" ] && [ "$state" != Z ] && [ "$start" -lt "$born" ] || continue
    left=$(( left + 1 )); holder=$kid
    [ "$ms" -ge "$drain_until" ] || continue
    title=; read -r title < "/proc/$kid/cmdline" 2>/dev/null
    case $title in *"shutting down"*) ;; *"worker process"*) return 1 ;; esac
    if listens "$kid" "$1"; then return 1; fi
  done
  [ "$left" -eq 0 ] || [ "$ms" -ge "$drain_until" ]
}
# "live N all M [draining K]": N ms until a new worker served the new weights, M until no process of
# the previous configuration could take a request, K of them still finishing connections they had.
# Returns 1 to go on polling, 3 when confirming is impossible, 4 at the deadline; $why says why.
first=; why=
served() {
  case "$1" in *"\\"generation\\":\\"$generation\\""*) ;; *) return 1 ;; esac
  [ -n "$first" ] || { now_ms; first=$(( ms - started )); }
  worker=\${1##*\\"worker\\":}; worker=\${worker%%[!0-9]*}
  unseen="so whether a worker of the previous configuration still takes connections cannot be told"
  [ -n "$born" ] || { why="/proc/self/stat cannot be read here, $unseen"; return 3; }
  proc_stat "$worker" || { why="the worker that served the new weights (pid $worker) is not in /proc here (does nginx run in another PID namespace?), $unseen"; return 1; }
  title=; read -r title < "/proc/$worker/cmdline" 2>/dev/null
  case $title in *"worker process"*) [ "$start" -ge "$born" ] ;; *) false ;; esac || {
    why="the worker that served the new weights (pid $worker) is not, in /proc here, an nginx worker this reload started (does nginx run in another PID namespace?), $unseen"; return 3; }
  master=$ppid
  until old_settled "$master"; do
    [ "$ms" -lt "$deadline" ] || { why="a worker of the previous configuration (pid $holder) still took new connections $confirm_ms ms after the reload"; return 4; }
    sleep 0.01
  done
  now_ms; printf 'live %s all %s' "$first" "$(( ms - started ))"; [ "$left" -eq 0 ] || printf ' draining %s' "$left"; echo; exit 0
}
await_served() {
  code=1
  while IFS= read -r body; do
    served "$body"; code=$?
    [ "$code" -lt 3 ] || break
    now_ms; [ "$ms" -lt "$deadline" ] || break
  done
  printf '%s' "$why"; return "$code"
}
polls=$(( confirm_ms / 20 + 1 ))
why=$(curl -s --fail-early --rate 50/s --max-time 1 -H 'Connection: close' -H "Host: agent-loop-$app" "$status_url?[1-$polls]" 2>/dev/null | await_served); code=$?
case $why in "live "*) echo "$why"; exit 0 ;; esac
while [ "$code" -lt 3 ]; do
  now_ms; [ "$ms" -lt "$deadline" ] || break
  body=$(curl -s --max-time 1 -H "Host: agent-loop-$app" "$status_url" 2>/dev/null) || body=
  served "$body"; code=$?
  [ "$code" -ge 3 ] || sleep 0.02
done
[ -n "$why" ] || why="its status server did not serve the new weights within $confirm_ms ms"
# The reload said yes but the new weights were not confirmed: put the old file back and reload onto
# it, so a later reload by anyone (a certificate hook) cannot send traffic this run gave up on.
# Only while the file is still the one written here: a newer run may have replaced it meanwhile
# (this program outlives a run that was killed), and its file must stay.
if ! grep -qF "\\"generation\\":\\"$generation\\"" "$file" 2>/dev/null; then
  die 22 "nginx reloaded, but $why; the include has been replaced since, and is left as it is"
fi
restore
if run_nginx -s reload >/dev/null 2>&1 </dev/null; then again=restored; else again="not reloaded"; fi
die 22 "nginx reloaded, but $why; the previous file was put back ($again)"`;
