import { HostError } from '../action';
import {
  commands,
  nonce,
  PUT_ALL_SHELL,
  runChecked,
  script,
  WRITE_FILES_SHELL,
  writeArgs,
  writeRemoteFile,
  type Argv,
  type HostWrite,
  type Remote,
} from '../hosts';
import { nginxControl } from './nginx-helper';
import {
  checkWeights,
  newGeneration,
  parseStatus,
  recordFailure,
  type LiveWeights,
  type RouterView,
  type SwitchResult,
  type TrafficRouter,
  type Weights,
} from './router';

/**
 * Traffic routing through nginx. The action owns one include file per app on each host: the
 * upstreams of both colors, the `split_clients` (or a `map` at 0/100) that picks one per request,
 * and a small status server that reports which weights are live. The user's server block uses
 * `proxy_pass http://$agent_loop_<app>;`.
 */

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

/**
 * The switch as the SSH user runs it, in one command (an SSH command arrives whole or not at all):
 * the write-ahead record first (when it cannot be written, nginx is not touched: exit 35), then the
 * helper's `switch` (nginx-helper.ts: it renders the include from data, reloads and confirms, and
 * puts the previous file back on any failure), then the outcome once the weights are live (exit 36
 * when it cannot be written: the caller puts traffic back, since a switch nobody recorded must not
 * stay). The records are written as this user, in its own state directory; the helper runs as the
 * one nginx trusts and is given no path and no content.
 */
const SWITCH_SCRIPT = `set -u
nonce=$1; shift
${WRITE_FILES_SHELL}
${PUT_ALL_SHELL}
[ "$n" -eq 0 ] || { echo "the record of the switch could not be written; nginx was not touched" >&2; exit 35; }
# Then the outcome's writes (a count and PATH MODE CONTENT each), then the helper's argv.
skip=$(( $1 * 3 + 1 ))
apply() { shift "$skip"; "$@"; }
out=$(apply "$@"); code=$?
[ -z "$out" ] || printf '%s\\n' "$out"
[ "$code" -eq 0 ] || exit "$code"
${PUT_ALL_SHELL}
[ "$n" -eq 0 ] || { echo "the new weights are live but their record could not be written" >&2; exit 36; }
exit 0`;

/** How long the switch waits for nginx to serve the new weights after a reload. */
export const CONFIRM_MS = 5000;

/** The helper's arguments for these weights (its `switch` and `render` verbs take the same). */
export function helperArgs(site: NginxSite, weights: Weights, generation: string, nonceText: string): string[] {
  return [
    site.app,
    String(site.bluePort),
    String(site.greenPort),
    String(site.statusPort),
    site.splitKey,
    String(weights.blue),
    String(weights.green),
    generation,
    String(CONFIRM_MS),
    nonceText,
  ];
}

/**
 * The switch as one command. `before` (the write-ahead record) and `after` (the outcome) go inside
 * it when they are small enough together; otherwise null is returned and the caller writes them
 * on their own.
 */
export function switchCommand(
  control: Argv,
  site: NginxSite,
  weights: Weights,
  generation: string,
  before: readonly HostWrite[] = [],
  after: readonly HostWrite[] = [],
): Argv | null {
  if (!writeArgs([...before, ...after])) return null;
  const record = writeArgs(before) as string[];
  const outcome = writeArgs(after) as string[];
  const key = nonce();
  return script('al-switch', SWITCH_SCRIPT, [
    key,
    ...record,
    ...outcome,
    ...control,
    'switch',
    ...helperArgs(site, weights, generation, key),
  ]);
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
      'if [ -f "$inc" ]; then i=0; while [ "$i" -lt 5 ] && IFS= read -r line; do i=$((i + 1))',
      '  case $line in "# agent-loop: "*) printf "file %.2000s\\n" "${line#\\# agent-loop: }"; break ;; esac',
      'done < "$inc"; fi; echo end',
    ].join('\n'),
    [includePath, statusHost(site.app), statusUrl(site), ...probe],
  );
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

export class NginxRouter implements TrafficRouter {
  readonly includePath: string;
  /** The helper's argv prefix (nginx-helper.ts): installed behind sudo, or sent as `sh -c`. */
  readonly control: Argv;

  constructor(
    private readonly remote: Remote,
    private readonly site: NginxSite,
    confDir: string,
    nginx: readonly string[],
    private readonly now: () => number = Date.now,
  ) {
    this.includePath = `${confDir.replace(/\/+$/, '')}/${includeFileName(site.app)}`;
    this.control = nginxControl(nginx, confDir);
  }

  async setWeights(
    weights: Weights,
    options: { before?: readonly HostWrite[]; after?: readonly HostWrite[] } = {},
  ): Promise<SwitchResult> {
    checkWeights(weights);
    const generation = newGeneration(this.now());
    const after = options.after ?? [];
    let recorded = after.length > 0;
    let argv = switchCommand(this.control, this.site, weights, generation, options.before ?? [], after);
    if (
      !argv &&
      after.length > 0 &&
      (argv = switchCommand(this.control, this.site, weights, generation, options.before ?? []))
    )
      recorded = false;
    if (!argv) {
      recorded = false;
      // A record too large to go inside the command is written first, on its own.
      for (const write of options.before ?? []) {
        if (write.mode === 'append')
          await runChecked(this.remote, commands.appendLine(write.path), `writing ${write.path}`, {
            stdin: write.content,
          });
        else await writeRemoteFile(this.remote, write.path, write.content);
      }
      argv = switchCommand(this.control, this.site, weights, generation) as Argv;
    }
    const result = await this.remote.run(argv, { timeoutMs: 60_000 });
    if (result.code !== 0) {
      const nginxSays = result.stderr.trim() || result.stdout.trim();
      const what =
        result.code === 20
          ? 'nginx rejected the new configuration (the previous file was kept and nginx was not reloaded)'
          : result.code === 21
            ? 'nginx could not be reloaded (the previous file was put back)'
            : result.code === 2 || result.code === 37
              ? 'the nginx helper refused the switch'
              : result.code === 22
                ? 'nginx did not serve the new weights on every worker'
                : 'writing the nginx include failed';
      throw (
        recordFailure(this.remote.label, result.code, nginxSays) ??
        new HostError(this.remote.label, `${what}: ${nginxSays}`)
      );
    }
    const live = /live (\d+)(?: all (\d+))?(?: draining (\d+))?/.exec(result.stdout);
    const liveMs = live ? Number(live[1]) : Number.NaN;
    return {
      weights,
      liveMs,
      settledMs: live?.[2] ? Number(live[2]) : liveMs,
      draining: Number(live?.[3] ?? 0),
      recorded,
    };
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

/**
 * The include host-setup writes for an app not yet deployed: its split variable, pointing at the
 * discard port (nothing answers: 502), so that the server block's `proxy_pass http://$agent_loop_<app>;`
 * loads before the first deploy. No status server: a deploy reads "not set up yet" and makes it a
 * first deploy, whose switch replaces this file.
 */
export function placeholderInclude(app: string): string {
  return [
    '# Written by agent-loop host-setup: the split variable before the first deploy of this app,',
    '# whose switch replaces this file. Until then its server block answers 502.',
    `map $host $${nginxName(app)} {`,
    '    default 127.0.0.1:9;',
    '}',
  ].join('\n');
}
