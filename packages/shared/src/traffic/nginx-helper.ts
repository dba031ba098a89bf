import { quote, script, type Argv } from '../hosts';
import { CLOCK_SHELL, CONFIRM_SHELL } from './nginx-confirm';
import { RENDER_SHELL } from './nginx-render';
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
  if (nginxCommand.length === 0) throw new Error('empty nginx command');
  return switchHelperPath(nginxCommand)
    ? [...nginxCommand]
    : script('agent-loop-nginx', helperBody({ includeDir, nginx: nginxCommand }), []);
}

/**
 * The file host-setup installs: root's PATH, then the same text `nginxControl` sends. With no nginx
 * (`nginx: []`, a host whose traffic goes through another router, e.g. HAProxy), the same program,
 * installed for its maintenance verbs: its nginx verbs find no nginx to run (exit 127).
 */
export function helperFile(target: HelperTarget): string {
  if (target.nginx.length > 0 && !target.nginx[0]?.startsWith('/'))
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
  return [
    `include_dir=${quote(target.includeDir.replace(/\/+$/, '') || '/')}`,
    target.nginx.length > 0
      ? `run_nginx() { ${target.nginx.map(quote).join(' ')} "$@"; }`
      : '# No nginx on this host: the maintenance verbs alone are used.\nrun_nginx() { return 127; }',
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
  case $out in *"Permission denied"*)
    checked="invalid: nginx -t was refused a file it needs (permission denied): run it as root, or through the switch helper"; return 1 ;; esac
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
  *) die 2 "usage: agent-loop-nginx check | inspect APP ACCESS-LOG | upgrade | rotate-logs [CONFIG] | \\
render|switch APP BLUE-PORT GREEN-PORT STATUS-PORT SPLIT-KEY BLUE-WEIGHT GREEN-WEIGHT GENERATION CONFIRM-MS NONCE" ;;
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
${RENDER_SHELL}
[ "$verb" = render ] && { render; exit 0; }

${CLOCK_SHELL}
dir=$include_dir
file="$dir/agent-loop-$app.conf"
[ -d "$dir" ] || die 30 "the nginx include directory $dir does not exist"
# nginx loads every file here: a directory someone else may write is a way to become the user nginx trusts.
set -- $(stat -c '%u %a' "$dir")
[ "\${1-}" = "$(id -u)" ] || die 37 "the nginx include directory $dir does not belong to $(id -un): \\
whoever owns it can make nginx run their configuration; run host-setup (it makes the directory root's)"
case \${2-} in *[2367]?|*[2367])
  die 37 "the nginx include directory $dir may be written by its group or by anyone (mode \${2-}): run host-setup, or chmod go-w $dir" ;; esac
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
${CONFIRM_SHELL}`;
