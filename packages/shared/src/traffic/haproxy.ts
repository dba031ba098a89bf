import { ConfigurationError, HostError } from '../action';
import { commands, runChecked, statePaths, writeRemoteFile, type Argv, type HostWrite, type Remote } from '../hosts';
import { APP_NAME, HAPROXY_NAME, HOST_PATH } from '../vocabulary';
import { haproxySwitchCommand, haproxyReadCommand } from './haproxy-commands';
import {
  checkWeights,
  newGeneration,
  parseIncludeHeader,
  recordFailure,
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
      `invalid haproxy-socket '${site.socket}': expected the absolute path of HAProxy's admin socket ` +
        `(letters, digits and . _ / + @ -, no .., at most ${SOCKET_PATH_MAX} characters), e.g. /run/haproxy/admin.sock`,
    );
  }
  if (!HAPROXY_NAME.test(site.backend))
    throw new ConfigurationError(
      `invalid haproxy-backend '${site.backend}': expected an HAProxy backend name (letters, digits and _ . : -, at most 64), e.g. shop_api`,
    );
  if (!HOST_PATH.test(stateDir))
    throw new ConfigurationError(`invalid state-dir '${stateDir}': expected a path without ..`);
}

/** The router's record: the same header an nginx include carries, read by parseIncludeHeader. */
export function haproxyRecord(site: HaproxySite, weights: Weights, generation: string): string {
  return (
    `# The weights agent-loop last confirmed on HAProxy (backend ${site.backend}, socket ${site.socket}).\n` +
    `# agent-loop: ${JSON.stringify({ app: site.app, weights, generation })}\n`
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
                : 'the HAProxy switch failed';
      throw (
        recordFailure(this.remote.label, result.code, haproxySays) ??
        new HostError(this.remote.label, `${what}: ${haproxySays}`)
      );
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
