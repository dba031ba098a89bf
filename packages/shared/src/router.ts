import { HostError } from './errors';
import type { Remote } from './ssh';
import { script, type Argv } from './shell';
import { COLORS, otherColor, type Color } from './state';

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
}

export interface LiveWeights {
  weights: Weights;
  generation: string;
}

/** The seam between rollout logic and whatever moves traffic. */
export interface TrafficRouter {
  setWeights(weights: Weights): Promise<SwitchResult>;
  /** What is live now, or null when the router has never been set up for this app. */
  getWeights(): Promise<LiveWeights | null>;
  /** What is live and what the configuration on disk says, separately. */
  inspect(): Promise<RouterView>;
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
 * Writes the include (new content on stdin), checks the whole nginx configuration, and reloads.
 * Then it polls the status server until the new generation is served, against a real deadline.
 * On every failure (check, reload, or a reload that exits 0 and never takes effect) the previous
 * file is put back and, after a reload, nginx is reloaded onto it again, so the file on disk is
 * always what nginx serves. Temporary files are made by mktemp next to the include (never a
 * guessable name that a planted symlink could redirect) with an explicit mode.
 */
const SWITCH_SCRIPT = `set -u
file=$1; status_url=$2; status_host=$3; generation=$4; confirm_ms=$5; bytes=$6; shift 6
dir=$(dirname "$file")
[ -d "$dir" ] || { echo "the nginx include directory $dir does not exist" >&2; exit 30; }
[ ! -L "$file" ] || { echo "$file is a symbolic link: refusing to replace it" >&2; exit 34; }
tmp=$(mktemp "$dir/.agent-loop-new.XXXXXXXX") || exit 31
backup=
trap 'rm -f "$tmp" \${backup:+"$backup"}' EXIT
cat > "$tmp" || exit 31
# A run killed while sending the file closes this input early: a short file never replaces the include.
[ "$(wc -c < "$tmp")" -eq "$bytes" ] || { echo "the new include arrived incomplete ($(wc -c < "$tmp") of $bytes bytes); nothing was changed" >&2; exit 31; }
chmod 644 "$tmp"
started=$(date +%s%N)
had_previous=0
if [ -f "$file" ]; then backup=$(mktemp "$dir/.agent-loop-prev.XXXXXXXX") || exit 32; cat "$file" > "$backup" || exit 32; chmod 644 "$backup"; had_previous=1; fi
mv -f "$tmp" "$file" || exit 33
restore() { if [ "$had_previous" = 1 ]; then mv -f "$backup" "$file"; else rm -f "$file"; fi; }
if ! out=$("$@" -t 2>&1); then restore; printf '%s\\n' "$out" >&2; exit 20; fi
if ! out=$("$@" -s reload 2>&1); then restore; printf '%s\\n' "$out" >&2; exit 21; fi
deadline=$(( started + confirm_ms * 1000000 ))
while :; do
  body=$(curl -s --max-time 1 -H "Host: $status_host" "$status_url" 2>/dev/null) || body=
  case "$body" in *"\\"generation\\":\\"$generation\\""*) echo "live $(( ($(date +%s%N) - started) / 1000000 ))"; exit 0 ;; esac
  [ "$(date +%s%N)" -lt "$deadline" ] || break
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
if out=$("$@" -s reload 2>&1); then again=restored; else again="not reloaded: $out"; fi
echo "nginx reloaded, but its status server did not serve the new weights within $confirm_ms ms; the previous file was put back ($again)" >&2
exit 22`;

/** How long the switch waits for nginx to serve the new weights after a reload. */
export const CONFIRM_MS = 5000;

export function switchCommand(includePath: string, site: NginxSite, generation: string, nginx: readonly string[], bytes: number): Argv {
  return script('al-switch', SWITCH_SCRIPT, [includePath, statusUrl(site), statusHost(site.app), generation, String(CONFIRM_MS), String(bytes), ...nginx]);
}

function statusUrl(site: NginxSite): string {
  return `http://127.0.0.1:${site.statusPort}${statusPath(site.app)}`;
}

/** Prints what nginx serves (`live …`, from the status server) and what the include on disk says (`file …`). */
export function readWeightsCommand(includePath: string, site: NginxSite): Argv {
  return script(
    'al-weights',
    'if body=$(curl -s -f --max-time 2 -H "Host: $2" "$3"); then printf "live %s\\n" "$body"; fi; if [ -f "$1" ]; then printf "file "; grep -m1 "^# agent-loop: " "$1" | cut -c15- | head -c 2000; echo; fi; echo end',
    [includePath, statusHost(site.app), statusUrl(site)],
  );
}

/** What nginx serves and what its include file on disk says (they differ after a reload that did not take effect). */
export interface RouterView {
  live: LiveWeights | null;
  file: LiveWeights | null;
}

export function parseRouterView(output: string): RouterView {
  let live: LiveWeights | null = null;
  let file: LiveWeights | null = null;
  for (const line of output.split('\n')) {
    if (line.startsWith('live ')) live = parseStatus(line.slice(5).trim());
    if (line.startsWith('file ')) file = parseStatus(line.slice(5).trim());
  }
  return { live, file };
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

  async setWeights(weights: Weights): Promise<SwitchResult> {
    const generation = newGeneration(this.now());
    const content = renderInclude(this.site, weights, generation);
    const result = await this.remote.run(switchCommand(this.includePath, this.site, generation, this.nginx, Buffer.byteLength(content)), { stdin: content, timeoutMs: 60_000 });
    if (result.code !== 0) {
      const nginxSays = result.stderr.trim() || result.stdout.trim();
      const what =
        result.code === 20
          ? 'nginx rejected the new configuration (the previous file was kept and nginx was not reloaded)'
          : result.code === 21
            ? 'nginx could not be reloaded (the previous file was put back)'
            : result.code === 22
              ? 'nginx did not serve the new weights'
              : 'writing the nginx include failed';
      throw new HostError(this.remote.label, `${what}: ${nginxSays}`);
    }
    const live = /live (\d+)/.exec(result.stdout);
    return { weights, liveMs: live ? Number(live[1]) : Number.NaN };
  }

  async getWeights(): Promise<LiveWeights | null> {
    const view = await this.inspect();
    return view.live ?? view.file;
  }

  async inspect(): Promise<RouterView> {
    const result = await this.remote.run(readWeightsCommand(this.includePath, this.site));
    return parseRouterView(result.stdout);
  }
}
