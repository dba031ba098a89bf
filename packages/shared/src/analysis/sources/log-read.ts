import { script, type Argv } from '../../hosts';

/**
 * Reading a log over SSH from a byte offset (pure): the command, what it prints, and the lines it
 * gives. The bytes travel base64-encoded: the SSH client decodes stdout chunk by chunk as UTF-8,
 * which would corrupt a character split across chunks (or across our own read cap) and make the
 * byte offset drift; base64 keeps the transfer byte-exact. access-log.ts follows a log with it.
 */

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
