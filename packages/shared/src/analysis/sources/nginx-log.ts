import { HostError } from '../../action';
import { nginxName } from '../../traffic';
import { script, type Argv, type Remote } from '../../hosts';
import type { LogMark } from './log-mark';
import {
  emptyColorSample,
  latencyBucket,
  mergeSamples,
  type ColorSample,
  type MetricSource,
  type Sample,
  type TimeWindow,
} from '..';
import type { Color } from '../../domain';

/**
 * What users really got, from each host's nginx access log (the JSON `agent_loop` format): every
 * proxied request names its upstream (`agent_loop_<app>_<color>`), status and the upstream's answer time.
 *
 * Each sample reads only the bytes written since the previous one, over SSH, from a byte offset.
 * The bytes travel base64-encoded: the SSH client decodes stdout chunk by chunk as UTF-8, which
 * would corrupt a character split across chunks (or across our own read cap) and make the byte
 * offset drift; base64 keeps the transfer byte-exact.
 */

export interface NginxLogHost {
  remote: Remote;
  /** Path of the access log on the host, written in the `agent_loop` JSON format. */
  accessLog: string;
  app: string;
  /** Where the log stood at the canary switch (log-mark.ts): the first read starts there. */
  mark?: LogMark | undefined;
}

/** Counts a source's lines into a tally: the one parser of one log format (nginx's agent_loop JSON, HAProxy's HTTP log). */
export type AccessLineParser = (lines: Iterable<string>, into: AccessTally) => AccessTally;

/** One access log followed on one host, with the parser of its format and what it is called in a message (`the nginx access log`). */
export interface AccessLogHost {
  remote: Remote;
  accessLog: string;
  mark?: LogMark | undefined;
  parse: AccessLineParser;
  what: string;
}

/** nginx's access log on one host, as the follower reads it: the agent_loop parser for the app. */
export const nginxLog = (host: NginxLogHost): AccessLogHost => ({
  ...host,
  parse: (lines, into) => parseAccessLines(lines, host.app, into),
  what: 'the nginx access log',
});

export interface NginxLogOptions {
  /** Count the lines already in the log too; by default only lines written after the first sample count. */
  fromStart?: boolean;
  /** Largest number of bytes read from one file per command; the rest is read by the next sample. */
  maxReadBytes?: number;
  /** Per command. */
  timeoutMs?: number;
}

export const DEFAULT_MAX_READ_BYTES = 16 * 1024 * 1024;
/** A line longer than this is not an nginx access line: it is dropped (and counted as skipped). */
const MAX_PARTIAL_BYTES = 1024 * 1024;

// ------------------------------------------------------------------------------------ pure parts

/**
 * Prints `<inode> <size>` (or `missing`), then — only when the file is still the one with inode
 * `$2` (any file when `$2` is empty) and has bytes past the offset — up to `$4` bytes from byte
 * offset `$3`, base64-encoded.
 */
const READ_SCRIPT = `set -u
file=$1; want=$2; offset=$3; cap=$4
[ -e "$file" ] || { echo missing; exit 0; }
info=$(stat -L -c '%i %s' -- "$file") || exit 3
[ -r "$file" ] || { echo "cannot read $file" >&2; exit 4; }
echo "$info"
inode=\${info%% *}; size=\${info#* }
[ -z "$want" ] || [ "$inode" = "$want" ] || exit 0
[ "$size" -gt "$offset" ] && [ "$cap" -gt 0 ] || exit 0
tail -c +$((offset + 1)) -- "$file" | head -c "$cap" | base64`;

/** The command that reads a log from a byte offset (pure). `inode` empty = whatever file is there. */
export function readLogCommand(path: string, inode: string, offset: number, maxBytes: number): Argv {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new Error(`invalid log offset ${offset}`);
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new Error(`invalid read size ${maxBytes}`);
  if (!/^\d*$/.test(inode)) throw new Error(`invalid inode ${inode}`);
  return script('al-log-read', READ_SCRIPT, [path, inode, String(offset), String(maxBytes)]);
}

export type LogRead = { missing: true } | { missing: false; inode: string; size: number; bytes: Buffer };

/** Parses what `readLogCommand` printed (pure). */
export function parseLogRead(stdout: string): LogRead {
  const newline = stdout.indexOf('\n');
  const head = (newline === -1 ? stdout : stdout.slice(0, newline)).trim();
  if (head === 'missing') return { missing: true };
  const match = /^(\d+) (\d+)$/.exec(head);
  if (!match) throw new Error(`unexpected answer from the log reader: ${JSON.stringify(head.slice(0, 200))}`);
  const bytes = newline === -1 ? Buffer.alloc(0) : Buffer.from(stdout.slice(newline + 1), 'base64');
  return { missing: false, inode: match[1] as string, size: Number(match[2]), bytes };
}

/** Joins a kept partial line with new bytes; returns the complete lines and the new partial tail (pure). */
export function splitLogLines(partial: Buffer, chunk: Buffer): { lines: string[]; rest: Buffer } {
  const data = partial.length === 0 ? chunk : Buffer.concat([partial, chunk]);
  const end = data.lastIndexOf(0x0a);
  if (end === -1) return { lines: [], rest: data };
  const lines = data.subarray(0, end).toString('utf8').split('\n');
  return { lines, rest: Buffer.from(data.subarray(end + 1)) };
}

export interface AccessTally {
  colors: Partial<Record<Color, ColorSample>>;
  /** Lines of other apps (or not proxied) and lines that are not access lines of our format. */
  skipped: number;
  /**
   * Of the skipped lines, those not in the `agent_loop` format at all (not a JSON object with an
   * `upstream` and a numeric `status`): nginx's `combined` format, written by an `access_log` line
   * that names no format, is the usual one. Many of them and no request of the app means the
   * server block writes this log in another format.
   */
  unformatted: number;
}

export function emptyAccessTally(): AccessTally {
  return { colors: {}, skipped: 0, unformatted: 0 };
}

/**
 * The color's own answer time in ms from `upstream_time` (`$upstream_response_time`): the first
 * value, which is the attempt of the color the line names, even when nginx went on to the other
 * color as a backup ("0.012, 0.003", or "0.012 : 0.003" after an internal redirect). null when
 * the color never answered ("-") or the field is missing.
 *
 * Why not `request_time`: it starts at the first byte nginx reads from the client, so a client
 * that trickles its headers or body makes it as long as it likes; nginx reads the whole request
 * before it opens the upstream, so the upstream time is the app's alone.
 */
export function upstreamMs(upstreamTime: unknown): number | null {
  if (typeof upstreamTime === 'number')
    return Number.isFinite(upstreamTime) && upstreamTime >= 0 ? upstreamTime * 1000 : null;
  if (typeof upstreamTime !== 'string') return null;
  const first = (upstreamTime.split(/[,:]/)[0] ?? '').trim();
  return /^\d+(\.\d+)?$/.test(first) ? Number(first) * 1000 : null;
}

/**
 * Counts access lines per color (pure). A line is ours when its `upstream` is `agent_loop_<app>_<color>`;
 * an error is a status ≥ 500 (502/504 from nginx itself included, e.g. when a color is down);
 * latency is the color's upstream time (`upstream_time`, see upstreamMs), not the client-driven
 * `request_time`; a request the color never answered counts as a request (and an error) without a
 * latency. Blank lines are ignored; everything else that does not fit counts as skipped.
 */
export function parseAccessLines(
  lines: Iterable<string>,
  app: string,
  into: AccessTally = emptyAccessTally(),
): AccessTally {
  const prefix = `${nginxName(app)}_`;
  for (const line of lines) {
    if (line.trim() === '') continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      into.skipped += 1;
      into.unformatted += 1;
      continue;
    }
    const {
      upstream,
      status,
      upstream_time: upstreamTime,
    } = (entry ?? {}) as { upstream?: unknown; status?: unknown; upstream_time?: unknown };
    if (typeof upstream !== 'string' || typeof status !== 'number') into.unformatted += 1;
    const color =
      typeof upstream === 'string' && upstream.startsWith(prefix) ? upstream.slice(prefix.length) : undefined;
    if ((color !== 'blue' && color !== 'green') || typeof status !== 'number') {
      into.skipped += 1;
      continue;
    }
    const sample = (into.colors[color] ??= emptyColorSample());
    sample.requests += 1;
    // The chosen color failed when its own attempt (the first upstream status) is a 5xx or no
    // answer, even if nginx then got a good answer from the other color, its backup.
    const upstreamStatus = (entry as { upstream_status?: unknown }).upstream_status;
    const firstAttempt = typeof upstreamStatus === 'string' ? (upstreamStatus.split(/[,:]/)[0] ?? '').trim() : '';
    const colorFailed =
      firstAttempt !== '' && firstAttempt !== '-' && (!/^\d+$/.test(firstAttempt) || Number(firstAttempt) >= 500);
    if (status >= 500 || colorFailed) sample.errors += 1;
    const latencyMs = upstreamMs(upstreamTime);
    if (latencyMs !== null) {
      const bucket = latencyBucket(latencyMs);
      sample.latency[bucket] = (sample.latency[bucket] ?? 0) + 1;
    }
  }
  return into;
}

// ------------------------------------------------------------------------------------- one host

/**
 * Follows one access log across samples: the inode and byte offset of the file being read, and
 * a partial last line waiting for its newline.
 *
 * Rotation (`mv log log.1` then `nginx -s reopen`, or logrotate without copytruncate): when the
 * path holds another file (or none yet), the rest of the old file is read from `<path>.1` if it is
 * still there with the same inode, and then the new file from 0. While the path is missing (moved,
 * not yet reopened) the old file is followed at `<path>.1`. Limits: lines nginx writes to the old
 * file after we switched (a new file created before nginx reopened) are not read; a rotated file
 * already renamed further or compressed is lost (counted in `lostRotations`); with copytruncate,
 * lines written between the last read and the truncation are lost.
 */
export class AccessLogFollower {
  private inode: string | undefined;
  private offset = 0;
  private partial: Buffer = Buffer.alloc(0);
  rotations = 0;
  lostRotations = 0;
  truncations = 0;
  private readonly maxReadBytes: number;
  private readonly timeoutMs: number;

  readonly host: AccessLogHost;

  /** `host`: an access log with its parser, or nginx's (the agent_loop parser for its app). */
  constructor(
    host: AccessLogHost | NginxLogHost,
    private readonly options: NginxLogOptions = {},
  ) {
    this.host = 'parse' in host ? host : nginxLog(host);
    this.maxReadBytes = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    if (!Number.isSafeInteger(this.maxReadBytes) || this.maxReadBytes < 1)
      throw new Error(`maxReadBytes must be a positive integer, got ${this.maxReadBytes}`);
  }

  /** Reads what was written since the last call and counts it. */
  async read(): Promise<AccessTally> {
    const tally = emptyAccessTally();
    const path = this.host.accessLog;
    const { mark } = this.host;
    if (this.inode === undefined && mark && mark.path === path && !this.options.fromStart) {
      // Start at the switch: the normal follow below reads from the mark, and finds a rotation or
      // a truncation since then as it would between two samples.
      this.inode = mark.inode;
      this.offset = mark.offset;
    }
    if (this.inode === undefined) {
      const first = await this.readFile(path, '', 0, this.options.fromStart ? this.maxReadBytes : 0);
      if (first.missing) throw new HostError(this.host.remote.label, `${this.host.what} ${path} does not exist`);
      this.inode = first.inode;
      if (this.options.fromStart) this.consume(first.bytes, tally);
      else this.offset = first.size;
      return tally;
    }

    const current = await this.readFile(path, this.inode, this.offset, this.maxReadBytes);
    if (!current.missing && current.inode === this.inode) {
      if (current.size >= this.offset) {
        this.consume(current.bytes, tally);
        return tally;
      }
      // Same file, smaller than what was read: truncated in place (copytruncate). Start over.
      this.truncations += 1;
      this.restartAt(current.inode, tally);
      this.consume((await this.readSame(path, this.maxReadBytes)).bytes, tally);
      return tally;
    }

    // Rotated: first the rest of the old file, if it is still at <path>.1.
    const finished = await this.finishRotated(`${path}.1`, tally);
    if (current.missing) {
      // Moved but not reopened yet: nginx still writes to the old file; keep following it there.
      if (!finished)
        throw new HostError(
          this.host.remote.label,
          `${this.host.what} ${path} is missing and ${path}.1 is not the file that was being read`,
        );
      return tally;
    }
    if (finished) this.rotations += 1;
    else this.lostRotations += 1;
    this.restartAt(current.inode, tally);
    this.consume((await this.readSame(path, this.maxReadBytes)).bytes, tally);
    return tally;
  }

  /** Reads the remaining bytes of the followed file at `rotatedPath`; false when it is not there. */
  private async finishRotated(rotatedPath: string, tally: AccessTally): Promise<boolean> {
    for (;;) {
      const old = await this.readFile(rotatedPath, this.inode ?? '', this.offset, this.maxReadBytes);
      if (old.missing || old.inode !== this.inode) return false;
      this.consume(old.bytes, tally);
      if (old.bytes.length < this.maxReadBytes || this.offset >= old.size) return true;
    }
  }

  private async readSame(path: string, maxBytes: number): Promise<{ bytes: Buffer }> {
    const read = await this.readFile(path, this.inode ?? '', this.offset, maxBytes);
    // Replaced again in between: nothing now, the next sample sees the new file.
    return read.missing || read.inode !== this.inode ? { bytes: Buffer.alloc(0) } : read;
  }

  private restartAt(inode: string, tally: AccessTally): void {
    // A partial line at the end of a finished file never gets its newline.
    if (this.partial.length > 0) tally.skipped += 1;
    this.inode = inode;
    this.offset = 0;
    this.partial = Buffer.alloc(0);
  }

  private consume(bytes: Buffer, tally: AccessTally): void {
    this.offset += bytes.length;
    const { lines, rest } = splitLogLines(this.partial, bytes);
    this.host.parse(lines, tally);
    if (rest.length > MAX_PARTIAL_BYTES) {
      tally.skipped += 1;
      this.partial = Buffer.alloc(0);
    } else {
      this.partial = rest;
    }
  }

  private async readFile(path: string, inode: string, offset: number, maxBytes: number): Promise<LogRead> {
    const { remote } = this.host;
    const result = await remote.run(readLogCommand(path, inode, offset, maxBytes), { timeoutMs: this.timeoutMs });
    if (result.code !== 0) {
      throw new HostError(
        remote.label,
        `reading ${this.host.what} ${path} failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(0, 500)}`,
      );
    }
    try {
      return parseLogRead(result.stdout);
    } catch (error) {
      throw new HostError(remote.label, `reading ${this.host.what} ${path}: ${(error as Error).message}`);
    }
  }
}

// ---------------------------------------------------------------------------------------- source

/**
 * Requests, errors and latencies per color from the access logs of every host, each read with
 * its format's parser. A sample counts the lines written between the previous read and this one
 * (the window only labels it; lines are not filtered by their time). A color without a line is
 * absent from the sample. A host that cannot be read makes the sample throw; what the other hosts
 * read meanwhile is not lost but counted in the next sample that succeeds.
 */
export class AccessLogSource implements MetricSource {
  private readonly followers: AccessLogFollower[];
  private carried: Array<Sample['colors']> = [];
  private skippedLines = 0;
  private unformattedLines = 0;

  /** `name`: the source's registered name; `what`: its logs in a message (`nginx access log`). */
  constructor(
    readonly name: string,
    private readonly what: string,
    hosts: readonly AccessLogHost[],
    options: NginxLogOptions = {},
  ) {
    this.followers = hosts.map((host) => new AccessLogFollower(host, options));
  }

  /** Lines that were not counted: other apps, requests nginx did not proxy, unparseable lines. */
  get skipped(): number {
    return this.skippedLines;
  }

  /** Of those, the lines not in the `agent_loop` log format at all (see AccessTally). */
  get unformatted(): number {
    return this.unformattedLines;
  }

  /** The access logs read, each with the host it is on. */
  get logs(): Array<{ host: string; path: string }> {
    return this.followers.map((follower) => ({ host: follower.host.remote.label, path: follower.host.accessLog }));
  }

  /** Rotations handled, and rotated files that were gone before their rest could be read. */
  get rotations(): { followed: number; lost: number; truncated: number } {
    const sum = (pick: (follower: AccessLogFollower) => number) =>
      this.followers.reduce((total, follower) => total + pick(follower), 0);
    return {
      followed: sum((f) => f.rotations),
      lost: sum((f) => f.lostRotations),
      truncated: sum((f) => f.truncations),
    };
  }

  async sample(window: TimeWindow): Promise<Sample> {
    const results = await Promise.allSettled(this.followers.map((follower) => follower.read()));
    const read: Array<Sample['colors']> = [];
    const failures: string[] = [];
    for (const result of results) {
      if (result.status === 'fulfilled') {
        this.skippedLines += result.value.skipped;
        this.unformattedLines += result.value.unformatted;
        read.push(result.value.colors);
      } else {
        failures.push((result.reason as Error).message ?? String(result.reason));
      }
    }
    const parts = [...this.carried, ...read].map((colors) => ({ start: window.start, end: window.end, colors }));
    if (failures.length > 0) {
      this.carried = parts.map((part) => part.colors);
      throw new Error(`${this.what} could not be read: ${failures.join('; ')}`);
    }
    this.carried = [];
    return { start: window.start, end: window.end, colors: parts.length > 0 ? mergeSamples(parts).colors : {} };
  }
}

/** What users got, from each host's nginx access log in the agent_loop format. */
export class NginxLogSource extends AccessLogSource {
  constructor(hosts: readonly NginxLogHost[], options: NginxLogOptions = {}) {
    if (hosts.length === 0) throw new Error('NginxLogSource needs at least one host');
    super('nginx-log', 'nginx access log', hosts.map(nginxLog), options);
  }
}
