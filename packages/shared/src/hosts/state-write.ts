import { randomBytes } from 'node:crypto';
import { errorMessage, HostError } from '../action';
import { runChecked, type Remote } from './ssh';
import { script, type Argv } from './shell';
import { parseState, StateUnreadable, stateText, type AppState, type StatePaths } from './state';
import { emptyState } from './state-changes';

/**
 * The write protocol: how files are written on a host so that a reader never sees half of one. A
 * file is replaced in one step (a new file, then a rename), several small files go in one command
 * (one SSH round trip, which arrives whole or not at all), and the state goes with its audit lines.
 * The routers write their write-ahead record (the state with its pending switch) with the same shell.
 */

/** A file written on a host: replaced in one step (with a mode) or appended to. */
export interface HostWrite {
  path: string;
  content: string;
  /** `append` adds to the end; otherwise the file is replaced atomically with this mode. */
  mode: '644' | '600' | 'append';
}

/**
 * Shell that writes files whose contents come as arguments, in one command (one SSH round trip).
 * An SSH command arrives whole or not at all, so a run killed while sending it changes nothing,
 * and no content has to be cut out of an input. `put PATH MODE CONTENT` replaces a file in one
 * step (a new file under a name no one can guess, made by this shell with O_EXCL (noclobber, `set -C`)
 * and the mode's umask, then renamed over the target; a planted link is never followed) or
 * appends to it (MODE `append`, refusing a symbolic link). It spawns one process per replaced
 * file (`mv`) and none per append: on a busy host every process counts.
 */
export const WRITE_FILES_SHELL = `set -C
put() {
  d=\${1%/*}; [ -n "$d" ] || d=/
  [ -d "$d" ] || mkdir -p "$d" || return 1
  if [ "$2" = append ]; then
    [ ! -L "$1" ] || { echo "$1 is a symbolic link: refusing to write through it" >&2; return 1; }
    printf '%s' "$3" >> "$1"
    return
  fi
  t="$d/.agent-loop.$nonce.$wrote"
  case $2 in 600) umask 077 ;; *) umask 022 ;; esac
  if printf '%s' "$3" > "$t" && mv -f "$t" "$1"; then return 0; fi
  rm -f "$t"
  return 1
}`;

/**
 * Shell that runs the `put`s given as arguments (a count, then PATH MODE CONTENT each). Sets
 * `wrote` to how many succeeded; the first failure stops the rest; the arguments after the writes
 * are left in "$@".
 */
export const PUT_ALL_SHELL = `wrote=0; n=$1; shift
while [ "$n" -gt 0 ]; do
  put "$1" "$2" "$3" || break
  wrote=$(( wrote + 1 )); n=$(( n - 1 )); shift 3
done
[ "$n" -eq 0 ] || shift $(( n * 3 ))`;

/** Contents up to this size go inside the command itself (a command is limited to 128 KiB on Linux). */
export const INLINE_WRITE_BYTES = 64 * 1024;

/** The arguments for PUT_ALL_SHELL, or null when the contents are too large to go inside a command. */
export function writeArgs(writes: readonly HostWrite[]): string[] | null {
  const total = writes.reduce((sum, write) => sum + Buffer.byteLength(write.content), 0);
  if (total > INLINE_WRITE_BYTES) return null;
  return [String(writes.length), ...writes.flatMap((write) => [write.path, write.mode, write.content])];
}

/** An unguessable part for temporary names. */
export const nonce = (): string => randomBytes(12).toString('hex');

export const fileCommands = {
  readFile(path: string): Argv {
    return script('al-read', 'if [ -f "$1" ]; then printf "present\\n"; cat "$1"; else printf "absent\\n"; fi', [path]);
  },
  /**
   * Replaces a file in one step, content on stdin (for contents too large to go inside a command).
   * The temporary file is made by mktemp (an unguessable name, created new, so a planted symlink is
   * never followed) with an explicit mode, and the rename replaces a link at the target rather than
   * writing through it. With `bytes`, the new content must have arrived whole before it replaces the
   * old: a run killed while sending it closes the command's input early, and `cat` ends without an
   * error on a short input.
   */
  writeFileAtomic(path: string, mode = '644', bytes?: number): Argv {
    return script(
      'al-write',
      'set -e; dir=$(dirname "$1"); mkdir -p "$dir"; tmp=$(mktemp "$dir/.agent-loop.XXXXXXXX"); ' +
        'trap \'rm -f "$tmp"\' EXIT; cat > "$tmp"; ' +
        'if [ -n "$3" ] && [ "$(wc -c < "$tmp")" -ne "$3" ]; then ' +
        'echo "the content arrived incomplete ($(wc -c < "$tmp") of $3 bytes); $1 was left as it was" >&2; exit 1; fi; ' +
        'chmod "$2" "$tmp"; mv -f "$tmp" "$1"; trap - EXIT',
      [path, mode, bytes === undefined ? '' : String(bytes)],
    );
  },
  /**
   * Writes small files in one command (see WRITE_FILES_SHELL); null when they are too large for
   * one. Exit 0: all written; exit 1: none; exit 5 with `wrote N` on stdout: the first N were
   * written, then one failed.
   */
  writeFiles(writes: readonly HostWrite[]): Argv | null {
    const args = writeArgs(writes);
    if (!args) return null;
    return script(
      'al-files',
      `set -u\n${WRITE_FILES_SHELL}\nnonce=$1; shift\n${PUT_ALL_SHELL}\n` +
        `[ "$wrote" -eq ${writes.length} ] && exit 0\n[ "$wrote" -eq 0 ] && exit 1\necho "wrote $wrote"; exit 5`,
      [nonce(), ...args],
    );
  },
  appendLine(path: string): Argv {
    return script(
      'al-append',
      'set -e; mkdir -p "$(dirname "$1")"; [ ! -L "$1" ] || { echo "$1 is a symbolic link: refusing to write through it" >&2; exit 1; }; cat >> "$1"',
      [path],
    );
  },
};

export async function readRemoteFile(remote: Remote, path: string): Promise<string | null> {
  const output = await runChecked(remote, fileCommands.readFile(path), `reading ${path}`);
  const newline = output.indexOf('\n');
  return output.slice(0, newline) === 'present' ? output.slice(newline + 1) : null;
}

export async function writeRemoteFile(remote: Remote, path: string, content: string): Promise<void> {
  await runChecked(remote, fileCommands.writeFileAtomic(path, '644', Buffer.byteLength(content)), `writing ${path}`, {
    stdin: content,
  });
}

export async function readState(remote: Remote, paths: StatePaths, app: string, now: string): Promise<AppState> {
  const text = await readRemoteFile(remote, paths.state);
  if (text === null) return emptyState(app, now);
  const parsed = parseState(text, app);
  if (!parsed.ok) throw new StateUnreadable(remote.label, paths.state, parsed.problem);
  return parsed.state;
}

export async function writeState(remote: Remote, paths: StatePaths, state: AppState): Promise<void> {
  await writeRemoteFile(remote, paths.state, stateText(remote.label, state));
}

/**
 * Writes the state and appends audit lines in the same command (one round trip). The state comes
 * first; when only the audit append fails, the state is written and the problem is returned as a
 * warning (an audit failure never stops a phase).
 */
export async function writeStateAndAudit(
  remote: Remote,
  paths: StatePaths,
  state: AppState,
  auditLines: string,
): Promise<string | null> {
  const text = stateText(remote.label, state);
  const writes: HostWrite[] = [{ path: paths.state, content: text, mode: '644' }];
  if (auditLines) writes.push({ path: paths.audit, content: auditLines, mode: 'append' });
  const argv = fileCommands.writeFiles(writes);
  if (!argv) {
    // Too large to go inside one command: the state on stdin, then the audit lines.
    await writeRemoteFile(remote, paths.state, text);
    if (!auditLines) return null;
    return runChecked(remote, fileCommands.appendLine(paths.audit), 'writing the audit log', {
      stdin: auditLines,
    }).then(
      () => null,
      (error: unknown) => `could not append to the audit log: ${errorMessage(error)}`,
    );
  }
  const result = await remote.run(argv);
  if (result.code === 0) return null;
  const detail = (result.stderr || result.stdout).trim().split('\n').slice(-8).join('\n');
  if (result.code === 5 && result.stdout.trim() === 'wrote 1')
    return `could not append to the audit log${detail ? `: ${detail}` : ''}`;
  throw new HostError(
    remote.label,
    `writing ${paths.state} failed (exit ${result.code})${detail ? `: ${detail}` : ''}`,
  );
}
