import { HostError } from '../action';
import { quote, script, USER_NAME, type Argv, type Remote } from '../hosts';
import { CLI_SHELL } from './haproxy-commands';
import type { HaproxySite } from './haproxy';
import type { Prerequisite } from './router';

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
    fix:
      `in the global section of HAProxy's configuration write '${statsSocketLine(socket)}', then: ` +
      `sudo groupadd -f agent-loop && sudo usermod -aG agent-loop ${who} && sudo systemctl reload haproxy`,
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
      problem:
        `HAProxy's admin socket ${site.socket} does not exist (haproxy-socket): ` +
        'HAProxy is not running, or no stats socket of its configuration has that path',
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
    const socketGroup = facts.group && facts.group !== 'root' ? facts.group : 'agent-loop';
    found.push({
      problem: `HAProxy's admin socket ${site.socket} is at level ${facts.level || '(no answer)'}: setting a server's weight needs level admin`,
      fix: `write 'level admin' on that stats socket line ('${statsSocketLine(site.socket, socketGroup)}'), ${reload}`,
      kind: 'configuration',
    });
  }
  if (/no such backend/i.test(facts.blue)) {
    found.push({
      problem: `HAProxy has no backend ${site.backend} (haproxy-backend)`,
      fix:
        `add 'backend ${site.backend}' with 'balance roundrobin', 'server blue 127.0.0.1:${ports.blue} weight 0' ` +
        `and 'server green 127.0.0.1:${ports.green} weight 0' to HAProxy's configuration, ${reload}; or correct haproxy-backend`,
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
