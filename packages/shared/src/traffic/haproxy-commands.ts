import { nonce, PUT_ALL_SHELL, script, WRITE_FILES_SHELL, writeArgs, type Argv, type HostWrite } from '../hosts';
import type { Weights } from './router';
import type { HaproxySite } from './haproxy';

/**
 * The HAProxy router's commands to a host: the switch (set the weights on HAProxy's admin socket
 * and read them back, with the write-ahead record and the outcome in the same command) and the
 * read of what HAProxy serves. `CLI_SHELL` is their shell for the socket, also the doctor's.
 */

/**
 * Shell shared by the switch and the read: `cli LINE` sends one line of commands on the admin
 * socket (one connection; HAProxy runs them in order and ends each answer with an empty line; a
 * `.` follows a call that worked, so that the shell keeps those lines). The line goes in as a here-
 * document and `split_answers` reads the answers with the shell's own `read`: no process on the
 * switch's path but socat.
 */
export const CLI_SHELL = `cli() {
  socat -T 5 - "UNIX-CONNECT:$socket" 2>&1 <<EOF && echo .
$1
EOF
}
first_line() { printf '%s\\n' "$1" | sed -n '/./{p;q;}' | cut -c1-200; }
# Sets a1 … a4 to the first line of each answer ('' for an empty one: a weight accepted).
split_answers() {
  a1=; a2=; a3=; a4=; k=1; text=
  while IFS= read -r line; do
    if [ -n "$line" ]; then [ -n "$text" ] || text=$line; continue; fi
    case $k in 1) a1=$text ;; 2) a2=$text ;; 3) a3=$text ;; 4) a4=$text ;; esac
    k=$(( k + 1 )); text=
  done <<EOF
\${1%.}
EOF
}
# Sets w from one answer of \`get weight\` ("N (initial M)"); else why.
weight_of() {
  case $1 in [0-9]*" (initial "*) w=\${1%% *}; case $w in *[!0-9]*) ;; *) return 0 ;; esac ;; esac
  w=; why="HAProxy answered '$(first_line "$1")'"; return 1
}
# Sets cur_blue and cur_green from two answers of \`get weight\`; else why.
weights_from() {
  cur_blue=; cur_green=
  weight_of "$1" || return 1; cur_blue=$w
  weight_of "$2" || return 1; cur_green=$w
}
read_weights() {
  if ! out=$(cli "get weight $backend/blue; get weight $backend/green"); then
    why="HAProxy's admin socket $socket could not be reached: $(first_line "$out")"; return 1
  fi
  split_answers "$out"; weights_from "$a1" "$a2"
}`;

/**
 * The switch in one command: the write-ahead record (when it cannot be written, HAProxy is not
 * touched: exit 35), the weights read (the previous ones, to put back on failure), set and read
 * back on one connection, then the outcome once they are live (exit 36 when it cannot be written:
 * the caller puts traffic back). The server whose share grows is set first, so that the backend
 * never has both servers at 0 on the way (no server: 503). On a refused command or weights that do
 * not read back, the previous weights are set again, in the same order rule.
 *
 * Exit codes: 2 arguments refused; 23 HAProxy refused a weight command (previous weights put back);
 * 24 the weights read back are not the ones set (previous weights put back); 25 HAProxy could not
 * be reached or did not give the weights, before anything was changed (socat missing, socket
 * refused, no such backend or server); 35, 36 as above. Prints `live MS` (with microseconds): from
 * the set being sent until it was read back.
 */
const SWITCH_SCRIPT = `set -u
nonce=$1; socket=$2; backend=$3; blue=$4; green=$5; shift 5
die() { code=$1; shift; printf '%s\\n' "$*" >&2; exit "$code"; }
case $socket in /*) ;; *) die 2 "refused: the HAProxy socket must be an absolute path" ;; esac
case $socket in *[!A-Za-z0-9._/+@-]*|*/../*|*/..) die 2 "refused: the HAProxy socket must be a path of letters, digits and . _ / + @ -, without .." ;; esac
case $backend in ''|*[!A-Za-z0-9_.:-]*) die 2 "refused: the HAProxy backend must be letters, digits and _ . : -" ;; esac
for weight in "$blue" "$green"; do
  case $weight in ''|*[!0-9]*) die 2 "refused: each weight must be a whole number from 0 to 100" ;; esac
  { [ \${#weight} -le 3 ] && [ "$weight" -le 100 ]; } || die 2 "refused: each weight must be a whole number from 0 to 100"
done
[ $(( blue + green )) -eq 100 ] || die 2 "refused: the weights must be two shares that add up to 100"
${WRITE_FILES_SHELL}
${PUT_ALL_SHELL}
[ "$n" -eq 0 ] || { echo "the record of the switch could not be written; HAProxy was not touched" >&2; exit 35; }
command -v socat >/dev/null 2>&1 ||
  die 25 "socat is not installed on this host (Debian's package socat): HAProxy's runtime API cannot be reached; nothing was changed"
${CLI_SHELL}
now_us() { t=$(date +%s%N); case $t in *[!0-9]*) t=$(( $(date +%s) * 1000000000 )) ;; esac; us=$(( t / 1000 )); }
# Sets blue $1 and green $2, the growing share first, and reads both back; 3: refused, 4: not read back.
set_weights() {
  if [ "$2" -gt "$cur_green" ]; then order="green $2 blue $1"; else order="blue $1 green $2"; fi
  set -- $order "$1" "$2"
  if ! out=$(cli "set server $backend/$1 weight $2; set server $backend/$3 weight $4; get weight $backend/blue; get weight $backend/green"); then
    why="HAProxy's admin socket $socket could not be reached: $(first_line "$out")"; return 3
  fi
  split_answers "$out"
  if [ -n "$a1$a2" ]; then weights_from "$a3" "$a4"; why="HAProxy answered '$(first_line "\${a1:-$a2}")'"; return 3; fi
  weights_from "$a3" "$a4" || return 4
  { [ "$cur_blue" = "$5" ] && [ "$cur_green" = "$6" ]; } || { why="HAProxy reads back blue $cur_blue, green $cur_green"; return 4; }
  return 0
}
read_weights || die 25 "$why; nothing was changed"
prev_blue=$cur_blue; prev_green=$cur_green
now_us; started=$us
set_weights "$blue" "$green"; code=$?
if [ "$code" -ne 0 ]; then
  failure=$why
  # What HAProxy holds now may be neither: put the previous weights back from what was read.
  [ -n "$cur_blue" ] && [ -n "$cur_green" ] || { cur_blue=$blue; cur_green=$green; }
  if [ "$cur_blue" = "$prev_blue" ] && [ "$cur_green" = "$prev_green" ]; then
    back="the previous weights (blue $prev_blue, green $prev_green) are still the ones served"
  elif set_weights "$prev_blue" "$prev_green"; then back="the previous weights (blue $prev_blue, green $prev_green) were put back"
  else back="putting the previous weights (blue $prev_blue, green $prev_green) back failed too: $why"; fi
  die $(( code + 20 )) "$failure; $back"
fi
now_us; live=$(( us - started ))
printf 'live %d.%03d\\n' $(( live / 1000 )) $(( live % 1000 ))
${PUT_ALL_SHELL}
[ "$n" -eq 0 ] || { echo "the new weights are live but their record could not be written" >&2; exit 36; }
exit 0`;

/**
 * The switch as one command. `before` (the write-ahead record) and `after` (the outcome, after the
 * router's own record) go inside it when they are small enough together; otherwise null.
 */
export function haproxySwitchCommand(
  site: HaproxySite,
  weights: Weights,
  before: readonly HostWrite[] = [],
  after: readonly HostWrite[] = [],
): Argv | null {
  if (!writeArgs([...before, ...after])) return null;
  return script('al-haproxy-switch', SWITCH_SCRIPT, [
    nonce(),
    site.socket,
    site.backend,
    String(weights.blue),
    String(weights.green),
    ...(writeArgs(before) as string[]),
    ...(writeArgs(after) as string[]),
  ]);
}

/**
 * Prints the weights HAProxy serves (`weights BLUE GREEN`, or `unread REASON`), the status each
 * probe URL answers (`health CODE URL`, one curl for all), and the router's record (`file …`).
 */
export function haproxyReadCommand(site: HaproxySite, recordPath: string, probe: readonly string[] = []): Argv {
  return script(
    'al-haproxy-weights',
    [
      'socket=$1; backend=$2; record=$3; shift 3',
      'first=1; for u; do [ "$first" = 1 ] || set -- "$@" --next; first=0',
      '  set -- "$@" -s -o /dev/null --max-time 2 -w \'health %{http_code} %{url_effective}\\n\' "$u"; shift; done',
      '[ $# -eq 0 ] || curl "$@"',
      CLI_SHELL,
      'if ! command -v socat >/dev/null 2>&1; then echo "unread socat is not installed"',
      'elif read_weights; then echo "weights $cur_blue $cur_green"; else echo "unread $why"; fi',
      'if [ -f "$record" ]; then while IFS= read -r line; do',
      '  case $line in "# agent-loop: "*) printf "file %.2000s\\n" "${line#\\# agent-loop: }"; break ;; esac',
      'done < "$record"; fi; echo end',
    ].join('\n'),
    [site.socket, site.backend, recordPath, ...probe],
  );
}
