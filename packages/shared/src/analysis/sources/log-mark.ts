import { errorMessage, settleLimit } from '../../action';
import { script, type Argv, type Remote } from '../../hosts';

/**
 * Where a host's access log stood just before the canary switch. The deploy records it in the
 * canary's state; the nginx-log source starts reading there, so the canary is judged from its
 * first request, and nothing from before the switch is counted.
 *
 * When the file at the path is no longer the marked one (rotated since the switch), the source
 * reads the rest of the marked file at `<path>.1` when it is still there with the same inode, and
 * then the new file from its start; a rotated file already renamed further or compressed is lost
 * (counted like any lost rotation). A file smaller than the mark (truncated in place) is read
 * from its start.
 */
export interface LogMark {
  path: string;
  /** Decimal inode number, as `stat -c %i` prints it. */
  inode: string;
  /** Bytes in the file at the mark: the first byte to read. */
  offset: number;
}

/** Prints `<inode> <size>` of the file, or `missing`. */
const MARK_SCRIPT = `set -u
[ -e "$1" ] || { echo missing; exit 0; }
stat -L -c '%i %s' -- "$1"`;

/** The command that reads a log's mark (pure). */
export function markCommand(path: string): Argv {
  return script('al-log-mark', MARK_SCRIPT, [path]);
}

/** Parses what `markCommand` printed (pure): null when the log does not exist. */
export function parseMark(path: string, stdout: string): LogMark | null {
  const text = stdout.trim();
  if (text === 'missing') return null;
  const match = /^(\d+) (\d+)$/.exec(text);
  if (!match) throw new Error(`unexpected answer when marking ${path}: ${JSON.stringify(text.slice(0, 200))}`);
  return { path, inode: match[1] as string, offset: Number(match[2]) };
}

/**
 * Marks every log at once (at most `maxParallel` hosts at a time). Never throws: a host whose log
 * cannot be marked gets null and a warning, and its monitor reads from its first sample as before.
 */
export async function readLogMarks(
  targets: ReadonlyArray<{ remote: Remote; path: string }>,
  maxParallel: number,
  warn: (message: string) => void,
): Promise<Array<LogMark | null>> {
  const marks: Array<LogMark | null> = targets.map(() => null);
  await settleLimit(targets, maxParallel, async (target, index) => {
    try {
      const result = await target.remote.run(markCommand(target.path), { timeoutMs: 30_000 });
      if (result.code !== 0)
        throw new Error(`exit ${result.code}: ${(result.stderr || result.stdout).trim().slice(0, 300)}`);
      marks[index] = parseMark(target.path, result.stdout);
    } catch (error) {
      warn(
        `${target.remote.label}: could not mark the access log ${target.path} before the switch ` +
          `(${errorMessage(error)}); the canary monitor will read it from its first sample`,
      );
    }
  });
  return marks;
}

/**
 * When the analysis starts (ms since the epoch): at the switch (`since`, when the canary was
 * recorded) when every host has a mark on the log it reads, so the first sample holds every
 * request since then; otherwise now. A switch in the future (clock skew) or longer ago than one
 * duration is not trusted: now.
 */
export function analysisStart(
  canaries: ReadonlyArray<{ since?: string; logMark?: LogMark; accessLog: string }>,
  now: number,
  durationSeconds: number,
): number {
  if (canaries.length === 0) return now;
  const starts = canaries.map((canary) =>
    canary.logMark && canary.logMark.path === canary.accessLog && canary.since ? Date.parse(canary.since) : Number.NaN,
  );
  if (starts.some((start) => !Number.isFinite(start))) return now;
  const start = Math.min(...starts);
  return start <= now && now - start <= durationSeconds * 1000 ? start : now;
}
