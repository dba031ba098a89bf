import { HostError } from '../../action';
import type { Remote } from '../../hosts';
import type { LogMark } from './log-mark';
import { parseLogRead, readLogCommand, splitLogLines, type LogRead } from './log-read';
import { mergeSamples, type ColorSample, type MetricSource, type Sample, type TimeWindow } from '..';
import type { Color } from '../../domain';

/**
 * Any access log followed on every host: each sample reads only the bytes written since the
 * previous one (log-read.ts), across rotations, and counts them with the parser of the log's
 * format. nginx-log.ts and haproxy-log.ts are the sources built on it, each with its parser.
 */

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

/** How every access log is read (the nginx-log source's options, which the others take too). */
export interface NginxLogOptions {
  /** Count the lines already in the log too; by default only lines written after the first sample count. */
  fromStart?: boolean;
  /** Largest number of bytes read from one file per command; the rest is read by the next sample. */
  maxReadBytes?: number;
  /** Per command. */
  timeoutMs?: number;
}

export const DEFAULT_MAX_READ_BYTES = 16 * 1024 * 1024;
/** A line longer than this is not an access line: it is dropped (and counted as skipped). */
const MAX_PARTIAL_BYTES = 1024 * 1024;

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

  /** `host`: an access log with its parser (nginx's: `nginxLog` in nginx-log.ts). */
  constructor(
    readonly host: AccessLogHost,
    private readonly options: NginxLogOptions = {},
  ) {
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
