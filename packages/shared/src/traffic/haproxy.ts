import { ConfigurationError, HostError, UnrecordedSwitchError } from '../action';
import {
  nonce,
  PUT_ALL_SHELL,
  quote,
  runChecked,
  commands,
  script,
  statePaths,
  USER_NAME,
  WRITE_FILES_SHELL,
  writeArgs,
  writeRemoteFile,
  type Argv,
  type HostWrite,
  type Remote,
  type SetupItem,
} from '../hosts';
import { APP_NAME, HAPROXY_NAME, HOST_PATH } from '../vocabulary';
import {
  formatWeights,
  newGeneration,
  parseIncludeHeader,
  type LiveWeights,
  type RouterView,
  type SwitchResult,
  type TrafficRouter,
  type Weights,
} from './router';

/**
 * Traffic routing through HAProxy's runtime API. The admin's configuration holds one backend per
 * app with two servers named `blue` and `green` (README: "HAProxy"); a switch sets their weights on
 * HAProxy's admin socket (`set server BACKEND/SERVER weight N`), with no reload and no new process,
 * and reads them back (`get weight`) to confirm. The deploy user never writes HAProxy's
 * configuration: it reaches HAProxy only through that socket.
 *
 * A percentage is the server's weight as it is (HAProxy weights run from 0 to 256): blue 10 / green
 * 90 are weights 10 and 90; a server at 0 gets no new requests, and finishes the ones it has.
 * HAProxy keeps no generation and forgets runtime weights when it restarts, so the router keeps its
 * own record next to the app's state (`haproxy.weights`, written in the same command once the
 * weights are read back): `inspect` reports it as `file`, and what HAProxy serves as `live`.
 */

export interface HaproxySite {
  app: string;
  /** The admin socket's absolute path on the host (`stats socket PATH … level admin`). */
  socket: string;
  /** The backend holding the app's `blue` and `green` servers. */
  backend: string;
}

/** The router's record of the weights it last confirmed, in the app's state folder. */
export const haproxyRecordPath = (stateDir: string, app: string): string =>
  `${statePaths(stateDir, app).dir}/haproxy.weights`;

/** Unix socket paths are limited to 107 bytes (sun_path, with its NUL). */
const SOCKET_PATH_MAX = 107;

/**
 * Checks everything that reaches a host before any command is sent. The backend name goes into a
 * line of HAProxy's runtime API, which reads a space as a separator and a `;` as the next command:
 * the pattern allows neither. The socket path is one socat address (`UNIX-CONNECT:PATH`), where a
 * `:` or `,` would start options: the pattern allows neither.
 */
export function checkHaproxySite(site: HaproxySite, stateDir: string): void {
  if (!APP_NAME.test(site.app))
    throw new ConfigurationError(
      `'${site.app}' is not an app name: lower-case letters, digits and hyphens, starting with a letter (at most 40)`,
    );
  if (!site.socket.startsWith('/') || !HOST_PATH.test(site.socket) || site.socket.length > SOCKET_PATH_MAX) {
    throw new ConfigurationError(
      `invalid haproxy-socket '${site.socket}': expected the absolute path of HAProxy's admin socket (letters, digits and . _ / + @ -, no .., at most ${SOCKET_PATH_MAX} characters), e.g. /run/haproxy/admin.sock`,
    );
  }
  if (!HAPROXY_NAME.test(site.backend))
    throw new ConfigurationError(
      `invalid haproxy-backend '${site.backend}': expected an HAProxy backend name (letters, digits and _ . : -, at most 64), e.g. shop_api`,
    );
  if (!HOST_PATH.test(stateDir))
    throw new ConfigurationError(`invalid state-dir '${stateDir}': expected a path without ..`);
}

export function checkWeights(weights: Weights): void {
  if (
    weights.blue + weights.green !== 100 ||
    weights.blue < 0 ||
    weights.green < 0 ||
    !Number.isInteger(weights.blue) ||
    !Number.isInteger(weights.green)
  ) {
    throw new Error(`weights must be two whole shares that add up to 100, got ${formatWeights(weights)}`);
  }
}

/**
 * Shell shared by the switch and the read: `cli LINE` sends one line of commands on the admin
 * socket (one connection; HAProxy runs them in order and ends each answer with an empty line; a
 * `.` follows a call that worked, so that the shell keeps those lines). The line goes in as a here-
 * document and `split_answers` reads the answers with the shell's own `read`: no process on the
 * switch's path but socat.
 */
const CLI_SHELL = `cli() {
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
  if ! out=$(cli "get weight $backend/blue; get weight $backend/green"); then why="HAProxy's admin socket $socket could not be reached: $(first_line "$out")"; return 1; fi
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
command -v socat >/dev/null 2>&1 || die 25 "socat is not installed on this host (Debian's package socat): HAProxy's runtime API cannot be reached; nothing was changed"
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
  if [ "$cur_blue" = "$prev_blue" ] && [ "$cur_green" = "$prev_green" ]; then back="the previous weights (blue $prev_blue, green $prev_green) are still the ones served"
  elif set_weights "$prev_blue" "$prev_green"; then back="the previous weights (blue $prev_blue, green $prev_green) were put back"
  else back="putting the previous weights (blue $prev_blue, green $prev_green) back failed too: $why"; fi
  die $(( code + 20 )) "$failure; $back"
fi
now_us; live=$(( us - started ))
printf 'live %d.%03d\\n' $(( live / 1000 )) $(( live % 1000 ))
${PUT_ALL_SHELL}
[ "$n" -eq 0 ] || { echo "the new weights are live but their record could not be written" >&2; exit 36; }
exit 0`;

/** The router's record: the same header an nginx include carries, read by parseIncludeHeader. */
export function haproxyRecord(site: HaproxySite, weights: Weights, generation: string): string {
  return `# The weights agent-loop last confirmed on HAProxy (backend ${site.backend}, socket ${site.socket}).\n# agent-loop: ${JSON.stringify({ app: site.app, weights, generation })}\n`;
}

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
      'first=1; for u; do [ "$first" = 1 ] || set -- "$@" --next; first=0; set -- "$@" -s -o /dev/null --max-time 2 -w \'health %{http_code} %{url_effective}\\n\' "$u"; shift; done',
      '[ $# -eq 0 ] || curl "$@"',
      CLI_SHELL,
      'if ! command -v socat >/dev/null 2>&1; then echo "unread socat is not installed"; elif read_weights; then echo "weights $cur_blue $cur_green"; else echo "unread $why"; fi',
      'if [ -f "$record" ]; then while IFS= read -r line; do case $line in "# agent-loop: "*) printf "file %.2000s\\n" "${line#\\# agent-loop: }"; break ;; esac; done < "$record"; fi; echo end',
    ].join('\n'),
    [site.socket, site.backend, recordPath, ...probe],
  );
}

/**
 * What HAProxy serves and what the record says. HAProxy's weights are shares as they are when they
 * add up to 100 (the router's own), and are scaled to 100 otherwise (weights an admin set); both at
 * 0 serve nothing (live is null), as does a socket that cannot be read. The live generation is the
 * record's when the record says the same weights, else one named after the weights.
 */
export function parseHaproxyView(output: string): RouterView & { unread: string | null } {
  let served: Weights | null = null;
  let unread: string | null = null;
  let file: LiveWeights | null = null;
  const health: Record<string, number> = {};
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    const weights = /^weights (\d{1,3}) (\d{1,3})$/.exec(line);
    if (weights) served = shares(Number(weights[1]), Number(weights[2]));
    if (line.startsWith('unread ')) unread = line.slice(7, 300);
    if (line.startsWith('file ')) file = parseIncludeHeader(`# agent-loop: ${line.slice(5)}`);
    const probed = /^health (\d{3}) (http:\/\/\S+)$/.exec(line);
    if (probed) health[probed[2] as string] = Number(probed[1]);
  }
  const same = !!served && !!file && file.weights.blue === served.blue && file.weights.green === served.green;
  const live = served
    ? { weights: served, generation: same && file ? file.generation : `haproxy-${served.blue}-${served.green}` }
    : null;
  return { live, file, health, unread };
}

function shares(blue: number, green: number): Weights | null {
  const total = blue + green;
  if (total === 0 || blue > 256 || green > 256) return null;
  if (total === 100) return { blue, green };
  const scaled = Math.round((blue * 100) / total);
  return { blue: scaled, green: 100 - scaled };
}

export class HaproxyRouter implements TrafficRouter {
  readonly recordPath: string;

  constructor(
    private readonly remote: Remote,
    private readonly site: HaproxySite,
    stateDir: string,
    private readonly now: () => number = Date.now,
  ) {
    checkHaproxySite(site, stateDir);
    this.recordPath = haproxyRecordPath(stateDir, site.app);
  }

  async setWeights(
    weights: Weights,
    options: { before?: readonly HostWrite[]; after?: readonly HostWrite[] } = {},
  ): Promise<SwitchResult> {
    checkWeights(weights);
    const record: HostWrite = {
      path: this.recordPath,
      content: haproxyRecord(this.site, weights, newGeneration(this.now())),
      mode: '644',
    };
    const before = options.before ?? [];
    const after = options.after ?? [];
    let recorded = after.length > 0;
    // The router's record goes first: when it cannot be written, neither is the caller's outcome (exit 36).
    let argv = haproxySwitchCommand(this.site, weights, before, [record, ...after]);
    if (!argv && after.length > 0 && (argv = haproxySwitchCommand(this.site, weights, before, [record])))
      recorded = false;
    if (!argv) {
      recorded = false;
      // A record too large to go inside the command is written first, on its own.
      for (const write of before) {
        if (write.mode === 'append')
          await runChecked(this.remote, commands.appendLine(write.path), `writing ${write.path}`, {
            stdin: write.content,
          });
        else await writeRemoteFile(this.remote, write.path, write.content);
      }
      argv = haproxySwitchCommand(this.site, weights, [], [record]) as Argv;
    }
    const result = await this.remote.run(argv, { timeoutMs: 60_000 });
    if (result.code !== 0) {
      const haproxySays = result.stderr.trim() || result.stdout.trim();
      const what =
        result.code === 23
          ? 'HAProxy refused the weight command'
          : result.code === 24
            ? 'HAProxy did not serve the new weights'
            : result.code === 25
              ? 'HAProxy could not be asked for its weights, so traffic was not touched'
              : result.code === 2
                ? 'the HAProxy switch refused its arguments'
                : result.code === 35
                  ? 'the switch could not be recorded before making it, so traffic was not touched'
                  : result.code === 36
                    ? 'the new weights are live, but their outcome could not be recorded'
                    : 'the HAProxy switch failed';
      throw new (result.code === 36 ? UnrecordedSwitchError : HostError)(this.remote.label, `${what}: ${haproxySays}`);
    }
    const live = /^live (\d+(?:\.\d+)?)$/m.exec(result.stdout);
    const liveMs = live ? Number(live[1]) : Number.NaN;
    // No old process keeps the previous weights: once read back, every connection uses them.
    return { weights, liveMs, settledMs: liveMs, recorded };
  }

  async getWeights(): Promise<LiveWeights | null> {
    const view = await this.inspect();
    return view.live ?? view.file;
  }

  async inspect(probe: readonly string[] = []): Promise<RouterView> {
    const result = await this.remote.run(haproxyReadCommand(this.site, this.recordPath, probe));
    const { live, file, health } = parseHaproxyView(result.stdout);
    return { live, file, health };
  }
}

// ------------------------------------------------------------------------------ what a host needs

/**
 * A thing a host lacks, with the command that fixes it: the doctor's list (runtime/preflight.ts
 * prints it), as a router's own check gives it. 'configuration': HAProxy's or nginx's own
 * configuration, which host-setup does not write.
 */
export interface Prerequisite {
  problem: string;
  fix: string;
  kind?: 'configuration';
}

/**
 * What the deploy user finds of HAProxy on a host, as that user: socat, the socket (and whether it
 * may connect to it: a Unix socket needs write permission), its group and mode, then on one
 * connection the socket's level and the weights of the app's two servers (`No such backend.`, `No
 * such server.` otherwise).
 */
const DOCTOR_SCRIPT = `socket=$1; backend=$2
echo "user=$(id -un)"
if command -v socat >/dev/null 2>&1; then echo socat=yes; else echo socat=no; fi
if [ ! -e "$socket" ]; then echo socket=missing
elif [ ! -S "$socket" ]; then echo socket=other
elif [ -w "$socket" ]; then echo socket=usable
else echo socket=denied; fi
printf 'group=%s\\n' "$(stat -c %G "$socket" 2>/dev/null)"
printf 'mode=%s\\n' "$(stat -c %a "$socket" 2>/dev/null)"
${CLI_SHELL}
if command -v socat >/dev/null 2>&1 && [ -S "$socket" ] && [ -w "$socket" ]; then
  if out=$(cli "show cli level; get weight $backend/blue; get weight $backend/green"); then
    split_answers "$out"
    printf 'level=%s\\nblue=%s\\ngreen=%s\\n' "$(first_line "$a1")" "$(first_line "$a2")" "$(first_line "$a3")"
  else printf 'unreachable=%s\\n' "$(first_line "$out")"; fi
fi`;

export function haproxyDoctorCommand(site: HaproxySite): Argv {
  return script('al-haproxy-doctor', DOCTOR_SCRIPT, [site.socket, site.backend]);
}

export interface HaproxyFacts {
  user: string;
  socat: boolean;
  socket: 'usable' | 'denied' | 'missing' | 'other';
  /** The socket's group and mode (octal), when it exists. */
  group: string;
  mode: string;
  /** The socket's CLI level (`admin`, `operator`, `user`), when it answered. */
  level: string;
  /** HAProxy's answer to `get weight BACKEND/blue` and `…/green`, first line. */
  blue: string;
  green: string;
  /** Why HAProxy did not answer on a socket the user may use (a socket file left by a stopped HAProxy: connection refused). */
  unreachable: string;
}

export function parseHaproxyFacts(output: string): HaproxyFacts {
  const values = new Map<string, string>();
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && !values.has(line.slice(0, eq))) values.set(line.slice(0, eq), line.slice(eq + 1).slice(0, 300));
  }
  const get = (key: string) => values.get(key) ?? '';
  const socket = get('socket');
  return {
    user: get('user'),
    socat: get('socat') === 'yes',
    socket: socket === 'usable' || socket === 'missing' || socket === 'other' ? socket : 'denied',
    group: get('group'),
    mode: get('mode'),
    level: get('level'),
    blue: get('blue'),
    green: get('green'),
    unreachable: get('unreachable'),
  };
}

/** The stats socket line of the README's configuration, for this socket. */
export const statsSocketLine = (socket: string, group = 'agent-loop'): string =>
  `stats socket ${socket} mode 660 group ${group} level admin`;

/** Whether the socket's mode lets its group connect (group write), e.g. 660. */
const groupMayWrite = (mode: string): boolean => /^[0-7]*[2367][0-7]$/.test(mode);

/**
 * How the deploy user gets the socket: through its group. A group of its own that only the deploy
 * user is in (README: "What the socket lets its holder do"): the socket's group when it has one
 * that is not root's and lets its members write, else `agent-loop` once the configuration gives it.
 */
export function socketAccessFix(
  socket: string,
  user: string,
  group: string,
  mode: string,
): { fix: string; kind?: 'configuration' } {
  const who = USER_NAME.test(user) ? user : 'DEPLOY_USER';
  if (group && group !== 'root' && groupMayWrite(mode))
    return { fix: `sudo usermod -aG ${quote(group)} ${who} (the next SSH login of ${who} has it)` };
  return {
    fix: `in the global section of HAProxy's configuration write '${statsSocketLine(socket)}', then: sudo groupadd -f agent-loop && sudo usermod -aG agent-loop ${who} && sudo systemctl reload haproxy`,
    kind: 'configuration',
  };
}

/**
 * What the deploy user lacks for the HAProxy router on a host, each with its fix: socat, the
 * socket (there, answering, its own through its group), level admin, and the app's backend with
 * the servers blue and green. `ports`: the colors' ports, for the lines a missing server needs.
 */
export function judgeHaproxy(
  facts: HaproxyFacts,
  site: HaproxySite,
  ports: { blue: number; green: number },
): Prerequisite[] {
  const user = USER_NAME.test(facts.user) ? facts.user : 'DEPLOY_USER';
  const found: Prerequisite[] = [];
  const reload = 'then reload HAProxy (sudo systemctl reload haproxy)';
  if (!facts.socat)
    found.push({
      problem: "socat is not installed (the HAProxy router sends HAProxy's runtime API commands through it)",
      fix: 'sudo apt-get install -y --no-install-recommends socat',
    });
  if (facts.socket === 'missing') {
    found.push({
      problem: `HAProxy's admin socket ${site.socket} does not exist (haproxy-socket): HAProxy is not running, or no stats socket of its configuration has that path`,
      fix: `in the global section of HAProxy's configuration write '${statsSocketLine(site.socket)}', ${reload}; or correct haproxy-socket`,
      kind: 'configuration',
    });
    return found;
  }
  if (facts.socket === 'other') {
    found.push({
      problem: `${site.socket} is not a socket (haproxy-socket): name the path of HAProxy's stats socket`,
      fix: `correct haproxy-socket (the path in the stats socket line of HAProxy's configuration)`,
      kind: 'configuration',
    });
    return found;
  }
  if (facts.socket === 'denied') {
    found.push({
      problem: `${user} may not use HAProxy's admin socket ${site.socket} (group ${facts.group || '?'}, mode ${facts.mode || '?'})`,
      ...socketAccessFix(site.socket, user, facts.group, facts.mode),
    });
    return found;
  }
  if (!facts.socat) return found;
  if (facts.unreachable) {
    found.push({
      problem: `HAProxy does not answer on its admin socket ${site.socket}: ${facts.unreachable}`,
      fix: 'start HAProxy (sudo systemctl start haproxy), or correct haproxy-socket',
      kind: 'configuration',
    });
    return found;
  }
  if (facts.level !== 'admin') {
    found.push({
      problem: `HAProxy's admin socket ${site.socket} is at level ${facts.level || '(no answer)'}: setting a server's weight needs level admin`,
      fix: `write 'level admin' on that stats socket line ('${statsSocketLine(site.socket, facts.group && facts.group !== 'root' ? facts.group : 'agent-loop')}'), ${reload}`,
      kind: 'configuration',
    });
  }
  if (/no such backend/i.test(facts.blue)) {
    found.push({
      problem: `HAProxy has no backend ${site.backend} (haproxy-backend)`,
      fix: `add 'backend ${site.backend}' with 'balance roundrobin', 'server blue 127.0.0.1:${ports.blue} weight 0' and 'server green 127.0.0.1:${ports.green} weight 0' to HAProxy's configuration, ${reload}; or correct haproxy-backend`,
      kind: 'configuration',
    });
    return found;
  }
  for (const color of ['blue', 'green'] as const) {
    const answer = facts[color];
    if (/^\d+ \(initial \d+\)$/.test(answer)) continue;
    found.push(
      /no such server/i.test(answer)
        ? {
            problem: `backend ${site.backend} of HAProxy has no server named ${color}`,
            fix: `add 'server ${color} 127.0.0.1:${color === 'blue' ? ports.blue : ports.green} weight 0' to backend ${site.backend}, ${reload}`,
            kind: 'configuration',
          }
        : {
            problem: `HAProxy did not give the weight of ${site.backend}/${color}: '${answer || '(no answer)'}'`,
            fix: `check backend ${site.backend} in HAProxy's configuration`,
            kind: 'configuration',
          },
    );
  }
  return found;
}

/** The HAProxy router's prerequisites on one host, checked as the deploy user (the doctor, a deploy's preflight, the maintenance's check after an upgrade). */
export async function haproxyPrerequisites(
  remote: Remote,
  site: HaproxySite,
  ports: { blue: number; green: number },
): Promise<Prerequisite[]> {
  const result = await remote.run(haproxyDoctorCommand(site), { timeoutMs: 30_000 });
  if (!/^user=/m.test(result.stdout))
    throw new HostError(
      remote.label,
      `the HAProxy check did not run: ${(result.stderr || result.stdout).trim().slice(0, 300)}`,
    );
  return judgeHaproxy(parseHaproxyFacts(result.stdout), site, ports);
}

/**
 * host-setup's part for HAProxy, run as the admin login (root, or sudo without a password): the
 * deploy user reaches HAProxy only through its admin socket, so nothing is installed and no file of
 * HAProxy is written; what the deploy user lacks (socat, the socket, its group) is left to do, with
 * the exact command. Prints `ok=` and `todo=` lines, as the rest of the set-up.
 */
const SETUP_SCRIPT = `user=$1; socket=$2; socket_line=$3
if [ "$(id -u)" = 0 ]; then as_root() { "$@"; }
elif sudo -n true 2>/dev/null; then as_root() { sudo -n "$@"; }
else exit 0; fi
if command -v socat >/dev/null 2>&1; then echo "ok=socat is installed (HAProxy's runtime API is reached through it)"
else echo "todo=socat is not installed, and the HAProxy router sends its commands through it: sudo apt-get install -y --no-install-recommends socat"; fi
if [ ! -e "$socket" ]; then echo "todo=HAProxy's admin socket $socket does not exist (haproxy-socket): in the global section of HAProxy's configuration write '$socket_line', then reload HAProxy and run host-setup again"
elif [ ! -S "$socket" ]; then echo "todo=$socket is not a socket: give haproxy-socket the path of HAProxy's stats socket"
elif as_root runuser -u "$user" -- test -w "$socket" 2>/dev/null; then echo "ok=$user may use HAProxy's admin socket $socket (through its group)"
else
  group=$(stat -c %G "$socket"); mode=$(stat -c %a "$socket")
  # Through the socket's group when it has one of its own that may write; else a group to give it.
  case $mode in *[2367][0-7]) group_writes=yes ;; *) group_writes=no ;; esac
  if [ "$group" != root ] && [ "$group_writes" = yes ]; then echo "todo=$user may not use HAProxy's admin socket $socket (group $group, mode $mode): sudo usermod -aG $group $user (the next SSH login of $user has it)"
  else echo "todo=$user may not use HAProxy's admin socket $socket (group $group, mode $mode): in the global section of HAProxy's configuration write '$socket_line', then: sudo groupadd -f agent-loop && sudo usermod -aG agent-loop $user && sudo systemctl reload haproxy"; fi
fi`;

export function haproxySetupCommand(site: HaproxySite, deployUser: string): Argv {
  if (!USER_NAME.test(deployUser)) throw new ConfigurationError(`'${deployUser}' is not a user name`);
  return script('al-haproxy-setup', SETUP_SCRIPT, [deployUser, site.socket, statsSocketLine(site.socket)]);
}

/** host-setup's items for HAProxy on one host: what is fine, and what is left to do with its command. */
export async function haproxySetup(remote: Remote, site: HaproxySite, deployUser: string): Promise<SetupItem[]> {
  const result = await remote.run(haproxySetupCommand(site, deployUser), { timeoutMs: 30_000 });
  return result.stdout.split('\n').flatMap((line): SetupItem[] => {
    const match = /^(ok|todo)=(.+)$/.exec(line);
    return match ? [{ outcome: match[1] as 'ok' | 'todo', what: match[2] as string }] : [];
  });
}
