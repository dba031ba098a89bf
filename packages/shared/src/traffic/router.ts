import { HostError, UnrecordedSwitchError } from '../action';
import { COLORS, commands, nonce, otherColor, PUT_ALL_SHELL, runChecked, script, WRITE_FILES_SHELL, writeArgs, writeRemoteFile, type Argv, type Color, type HostWrite, type Remote } from '../hosts';

/**
 * Traffic routing through nginx. The action owns one include file per app on each host: the
 * upstreams of both colors, the `split_clients` (or a `map` at 0/100) that picks one per request,
 * and a small status server that reports which weights are live. The user's server block uses
 * `proxy_pass http://$agent_loop_<app>;`.
 */

export interface Weights {
  blue: number;
  green: number;
}

export interface SwitchResult {
  weights: Weights;
  /** From the new file being written until nginx serves it. */
  liveMs: number;
  /** Whether the `after` files were written (in the same command, once the weights were live). */
  recorded: boolean;
}

export interface LiveWeights {
  weights: Weights;
  generation: string;
}

/** The seam between rollout logic and whatever moves traffic. */
export interface TrafficRouter {
  /**
   * Moves traffic. Files in `before` (the write-ahead record) are written in the same command
   * before anything is touched; when one cannot be written, traffic is not touched. Files in
   * `after` (the outcome) are written once the new weights are live, in the same command when they
   * fit in it (`recorded` says so); when they cannot be written, the call fails with the weights live.
   */
  setWeights(weights: Weights, options?: { before?: readonly HostWrite[]; after?: readonly HostWrite[] }): Promise<SwitchResult>;
  /** What is live now, or null when the router has never been set up for this app. */
  getWeights(): Promise<LiveWeights | null>;
  /**
   * What is live and what the configuration on disk says, separately; with `probe`, also the HTTP
   * status each of those URLs (on the host) answers, in the same round trip.
   */
  inspect(probe?: readonly string[]): Promise<RouterView>;
}

export function weightsFor(color: Color, percent: number): Weights {
  const other = 100 - percent;
  return color === 'blue' ? { blue: percent, green: other } : { blue: other, green: percent };
}

export function formatWeights(weights: Weights): string {
  return `blue ${weights.blue}% / green ${weights.green}%`;
}

export interface NginxSite {
  app: string;
  bluePort: number;
  greenPort: number;
  statusPort: number;
  splitKey: string;
}

export const nginxName = (app: string): string => `agent_loop_${app.replaceAll('-', '_')}`;
export const includeFileName = (app: string): string => `agent-loop-${app}.conf`;
export const statusHost = (app: string): string => `agent-loop-${app}`;
export const statusPath = (app: string): string => `/agent-loop/${app}`;

/** The include file for the given weights (pure). */
export function renderInclude(site: NginxSite, weights: Weights, generation: string): string {
  if (weights.blue + weights.green !== 100 || weights.blue < 0 || weights.green < 0) {
    throw new Error(`weights must be two shares that add up to 100, got ${formatWeights(weights)}`);
  }
  const name = nginxName(site.app);
  const status = JSON.stringify({ app: site.app, weights, generation });
  const ports: Record<Color, number> = { blue: site.bluePort, green: site.greenPort };
  // Each color's upstream lists the other color as a backup: a request that an old nginx worker
  // still sends to a color that has just been stopped (connection refused) is retried on the other
  // one instead of failing. Only connection errors fall back; an HTTP error from a color is its own.
  const upstreams = COLORS.map((color) =>
    [`upstream ${name}_${color} {`, `    server 127.0.0.1:${ports[color]} max_fails=0;`, `    server 127.0.0.1:${ports[otherColor(color)]} backup;`, '    keepalive 32;', '}'].join('\n'),
  );
  const only = COLORS.find((color) => weights[color] === 100);
  const chooser = only
    ? [`map $host $${name} {`, `    default ${name}_${only};`, '}']
    : (() => {
        // The smaller share is listed with its percentage, the larger takes the rest.
        const [minor, major] = weights.blue <= weights.green ? (['blue', 'green'] as const) : (['green', 'blue'] as const);
        return [`split_clients "${site.splitKey}" $${name} {`, `    ${weights[minor]}% ${name}_${minor};`, `    * ${name}_${major};`, '}'];
      })();
  return [
    `# Managed by agent-loop-actions for the app "${site.app}": every deploy rewrites this file.`,
    `# agent-loop: ${status}`,
    ...upstreams,
    ...chooser,
    'server {',
    `    listen 127.0.0.1:${site.statusPort};`,
    `    server_name ${statusHost(site.app)};`,
    '    access_log off;',
    `    location = ${statusPath(site.app)} {`,
    '        default_type application/json;',
    `        return 200 '${status}\\n';`,
    '    }',
    '}',
    '',
  ].join('\n');
}

/** Reads the weights recorded in an include file's header (pure). */
export function parseIncludeHeader(content: string): LiveWeights | null {
  const match = /^# agent-loop: (\{.*\})$/m.exec(content);
  if (!match) return null;
  return parseStatus(match[1] as string);
}

function parseStatus(text: string): LiveWeights | null {
  try {
    const value = JSON.parse(text) as { weights?: Weights; generation?: string };
    if (!value.weights || typeof value.weights.blue !== 'number' || typeof value.weights.green !== 'number' || typeof value.generation !== 'string') return null;
    return { weights: { blue: value.weights.blue, green: value.weights.green }, generation: value.generation };
  } catch {
    return null;
  }
}

/**
 * Writes the write-ahead record and the include (contents given as arguments: an SSH command
 * arrives whole or not at all), then reloads nginx (a reload parses the whole configuration and
 * refuses a bad one, so no separate `nginx -t` is spent on the way; it runs only to tell a rejected
 * configuration from a failed reload). Then it polls the status server until the new generation is
 * served, against a real deadline. On every failure (reload, or a reload that exits 0 and never
 * takes effect) the previous file is put back and, after a reload, nginx is reloaded onto it
 * again, so the file on disk is always what nginx serves. When the record cannot be written, nginx
 * is not touched (exit 35). New files get unguessable names, are created with O_EXCL and an
 * explicit umask, and are renamed into place. On the way to the confirmation it starts six
 * processes (two renames, a link, the reload, one curl for every poll, a cleanup): on a host busy
 * with a release, each one costs.
 */
const SWITCH_SCRIPT = `set -u
file=$1; status_url=$2; status_host=$3; generation=$4; confirm_ms=$5; nonce=$6; shift 6
${WRITE_FILES_SHELL}
# Milliseconds from the kernel's uptime (a read, not a process), or from date.
now_ms() {
  if read -r up _ < /proc/uptime 2>/dev/null; then ms=$(( \${up%.*} * 1000 + (1\${up#*.} - 100) * 10 )); else ms=$(( $(date +%s%N) / 1000000 )); fi
}
dir=\${file%/*}
[ -d "$dir" ] || { echo "the nginx include directory $dir does not exist" >&2; exit 30; }
[ ! -L "$file" ] || { echo "$file is a symbolic link: refusing to replace it" >&2; exit 34; }
tmp=; backup=
trap '[ -z "$tmp$backup" ] || rm -f \${tmp:+"$tmp"} \${backup:+"$backup"}' EXIT
${PUT_ALL_SHELL}
[ "$n" -eq 0 ] || { echo "the record of the switch could not be written; nginx was not touched" >&2; exit 35; }
content=$1; shift
# Then the outcome's writes (a count and PATH MODE CONTENT each), then the nginx command.
skip=$(( $1 * 3 + 1 ))
nginx_run() { op=$1; shift; shift "$skip"; case $op in reload) "$@" -s reload ;; *) "$@" -t ;; esac; }
umask 022
tmp="$dir/.agent-loop-new.$nonce"
printf '%s' "$content" > "$tmp" || { echo "the new include could not be written in $dir; nothing was changed" >&2; exit 31; }
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
if ! out=$(nginx_run reload "$@" 2>&1); then
  # Was it the configuration? (checked with the new file in place, then the old one goes back)
  if checked=$(nginx_run test "$@" 2>&1); then restore; printf '%s\\n' "$out" >&2; exit 21; fi
  restore; printf '%s\\n' "$checked" >&2; exit 20
fi
deadline=$(( started + confirm_ms ))
# One curl asks the status server every 20 ms (--rate, a fresh connection each time so that a new
# worker answers as soon as there is one) and the shell reads its answers (once the shell stops
# reading, curl fails its next write and --fail-early ends it): a process per poll would
# cost more than the reload itself on a busy host. A curl without --rate (before 7.84) fails at once,
# and the loop below polls the slow way for the time that is left.
served() { case "$1" in *"\\"generation\\":\\"$generation\\""*) now_ms; echo "live $(( ms - started ))"; return 0 ;; esac; return 1; }
# Served: the outcome is recorded in the same command (exit 36 when it cannot be: the caller puts
# traffic back, since a switch nobody recorded must not stay).
record() {
${PUT_ALL_SHELL}
  [ "$n" -eq 0 ] || { echo "the new weights are live but their record could not be written" >&2; exit 36; }
  exit 0
}
await_served() {
  while IFS= read -r body; do
    served "$body" && return 0
    now_ms; [ "$ms" -lt "$deadline" ] || return 1
  done
  return 1
}
polls=$(( confirm_ms / 20 + 1 ))
if curl -s --fail-early --rate 50/s --max-time 1 -H 'Connection: close' -H "Host: $status_host" "$status_url?[1-$polls]" 2>/dev/null | await_served; then record "$@"; fi
while :; do
  now_ms; [ "$ms" -lt "$deadline" ] || break
  body=$(curl -s --max-time 1 -H "Host: $status_host" "$status_url" 2>/dev/null) || body=
  served "$body" && record "$@"
  sleep 0.02
done
# The reload said yes but nginx never served the new file: put the old one back and reload onto
# it, so a later reload by anyone (a certificate hook) cannot send traffic this run gave up on.
# Only while the file is still the one written here: a newer run may have replaced it meanwhile
# (this script outlives a run that was killed), and its file must stay.
if ! grep -qF "\\"generation\\":\\"$generation\\"" "$file" 2>/dev/null; then
  echo "nginx did not serve the new weights within $confirm_ms ms, and the include has been replaced since; left as it is" >&2
  exit 22
fi
restore
if out=$(nginx_run reload "$@" 2>&1); then again=restored; else again="not reloaded: $out"; fi
echo "nginx reloaded, but its status server did not serve the new weights within $confirm_ms ms; the previous file was put back ($again)" >&2
exit 22`;

/** How long the switch waits for nginx to serve the new weights after a reload. */
export const CONFIRM_MS = 5000;

/**
 * The switch as one command. `before` (the write-ahead record) and `after` (the outcome) go inside
 * it when they are small enough together; otherwise null is returned and the caller writes them
 * on their own.
 */
export function switchCommand(includePath: string, site: NginxSite, generation: string, nginx: readonly string[], content: string, before: readonly HostWrite[] = [], after: readonly HostWrite[] = []): Argv | null {
  if (!writeArgs([...before, ...after])) return null;
  const record = writeArgs(before) as string[];
  const outcome = writeArgs(after) as string[];
  return script('al-switch', SWITCH_SCRIPT, [includePath, statusUrl(site), statusHost(site.app), generation, String(CONFIRM_MS), nonce(), ...record, content, ...outcome, ...nginx]);
}

function statusUrl(site: NginxSite): string {
  return `http://127.0.0.1:${site.statusPort}${statusPath(site.app)}`;
}

/**
 * Prints what nginx serves (the status server's answer, a line starting with `{`), the status each
 * probe URL answers (`health CODE URL`, one curl for all), and what the include on disk says (`file …`).
 */
export function readWeightsCommand(includePath: string, site: NginxSite, probe: readonly string[] = []): Argv {
  return script(
    'al-weights',
    [
      'inc=$1; host=$2; url=$3; shift 3',
      `for u; do set -- "$@" --next -s -o /dev/null --max-time 2 -w 'health %{http_code} %{url_effective}\n' "$u"; shift; done`,
      'curl -s -f --max-time 2 -w "\n" -H "Host: $host" "$url" "$@"',
      // The header is the file's second line: read by the shell itself, no process spent.
      'if [ -f "$inc" ]; then i=0; while [ "$i" -lt 5 ] && IFS= read -r line; do i=$((i + 1)); case $line in "# agent-loop: "*) printf "file %.2000s\\n" "${line#\\# agent-loop: }"; break ;; esac; done < "$inc"; fi; echo end',
    ].join('\n'),
    [includePath, statusHost(site.app), statusUrl(site), ...probe],
  );
}

/** What nginx serves and what its include file on disk says (they differ after a reload that did not take effect). */
export interface RouterView {
  live: LiveWeights | null;
  file: LiveWeights | null;
  /** The HTTP status each probed URL answered (0: no answer). */
  health: Record<string, number>;
}

export function parseRouterView(output: string): RouterView {
  let live: LiveWeights | null = null;
  let file: LiveWeights | null = null;
  const health: Record<string, number> = {};
  for (const line of output.split('\n')) {
    if (line.startsWith('{')) live = parseStatus(line.trim());
    if (line.startsWith('file ')) file = parseStatus(line.slice(5).trim());
    const probed = /^health (\d{3}) (http:\/\/\S+)$/.exec(line.trim());
    if (probed) health[probed[2] as string] = Number(probed[1]);
  }
  return { live, file, health };
}

let generationCounter = 0;
export function newGeneration(now: number): string {
  generationCounter += 1;
  return `${now.toString(36)}-${process.pid.toString(36)}-${generationCounter}`;
}

export class NginxRouter implements TrafficRouter {
  readonly includePath: string;

  constructor(
    private readonly remote: Remote,
    private readonly site: NginxSite,
    confDir: string,
    private readonly nginx: readonly string[],
    private readonly now: () => number = Date.now,
  ) {
    this.includePath = `${confDir.replace(/\/+$/, '')}/${includeFileName(site.app)}`;
  }

  async setWeights(weights: Weights, options: { before?: readonly HostWrite[]; after?: readonly HostWrite[] } = {}): Promise<SwitchResult> {
    const generation = newGeneration(this.now());
    const content = renderInclude(this.site, weights, generation);
    const after = options.after ?? [];
    let recorded = after.length > 0;
    let argv = switchCommand(this.includePath, this.site, generation, this.nginx, content, options.before ?? [], after);
    if (!argv && after.length > 0 && (argv = switchCommand(this.includePath, this.site, generation, this.nginx, content, options.before ?? []))) recorded = false;
    if (!argv) {
      recorded = false;
      // A record too large to go inside the command is written first, on its own.
      for (const write of options.before ?? []) {
        if (write.mode === 'append') await runChecked(this.remote, commands.appendLine(write.path), `writing ${write.path}`, { stdin: write.content });
        else await writeRemoteFile(this.remote, write.path, write.content);
      }
      argv = switchCommand(this.includePath, this.site, generation, this.nginx, content) as Argv;
    }
    const result = await this.remote.run(argv, { timeoutMs: 60_000 });
    if (result.code !== 0) {
      const nginxSays = result.stderr.trim() || result.stdout.trim();
      const what =
        result.code === 20
          ? 'nginx rejected the new configuration (the previous file was kept and nginx was not reloaded)'
          : result.code === 21
            ? 'nginx could not be reloaded (the previous file was put back)'
            : result.code === 22
              ? 'nginx did not serve the new weights'
              : result.code === 35
                ? 'the switch could not be recorded before making it, so traffic was not touched'
                : result.code === 36
                  ? 'the new weights are live, but their outcome could not be recorded'
                  : 'writing the nginx include failed';
      throw new (result.code === 36 ? UnrecordedSwitchError : HostError)(this.remote.label, `${what}: ${nginxSays}`);
    }
    const live = /live (\d+)/.exec(result.stdout);
    return { weights, liveMs: live ? Number(live[1]) : Number.NaN, recorded };
  }

  async getWeights(): Promise<LiveWeights | null> {
    const view = await this.inspect();
    return view.live ?? view.file;
  }

  async inspect(probe: readonly string[] = []): Promise<RouterView> {
    const result = await this.remote.run(readWeightsCommand(this.includePath, this.site, probe));
    return parseRouterView(result.stdout);
  }
}
