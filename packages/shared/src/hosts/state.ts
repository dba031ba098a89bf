import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConfigurationError, errorMessage, HostError, printable, show } from '../action';
import { COLORS, RELEASE_STATUSES, type ReleaseRecord, type ReleaseStatus } from '../domain';
import { IMAGE_REF, VERSION } from '../vocabulary';
import { runChecked, type Remote } from './ssh';
import { script, type Argv } from './shell';

/**
 * What a host remembers about an app: which color serves, what runs in each color, every release
 * with what became of it, and the traffic change in flight (written before nginx is touched).
 * Written atomically (temporary file + rename), changed only under the lock, and every step is
 * appended to an audit log.
 */

const colorSchema = z.enum(COLORS);
// Everything read back from a host is validated with the inputs' own patterns: a state file is
// data another party may have written, never something to print or run as it is.
const version = z.string().regex(VERSION, 'a version label');
const image = z.string().regex(IMAGE_REF, 'an image reference');
const imageOrEmpty = z.union([z.literal(''), image]);
const plainText = (max: number) =>
  z
    .string()
    .max(max)
    // eslint-disable-next-line no-control-regex
    .regex(/^[^\0-\x08\x0a-\x1f\x7f]*$/, 'one line of text without control characters');
const runId = z.string().regex(/^[A-Za-z0-9._:-]{1,80}$/, 'a run id');
const actor = z.string().regex(/^[A-Za-z0-9._@[\]-]{1,100}$/, 'a user name');
const time = z.string().regex(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/, 'an ISO time');
// A job's id as GitHub gives it (GITHUB_JOB), and the random token its main step made: together
// they tell one job's lock and pending switch from another job's of the same run (a matrix).
const jobId = z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'a job id');
const jobToken = z.string().regex(/^[A-Za-z0-9-]{8,100}$/, 'a job token');
const weights = z.object({ blue: z.number().int().min(0).max(100), green: z.number().int().min(0).max(100) });

const colorState = z.object({
  image,
  version,
  port: z.number().int().min(1).max(65535),
  status: z.enum(['running', 'stopped']),
  since: time,
});
export type ColorState = z.infer<typeof colorState>;

const historyEntry = z.object({
  time,
  runId,
  actor,
  action: z.enum(['deploy', 'promote', 'rollback', 'recover', 'repair']),
  color: colorSchema,
  version: z.union([z.literal(''), version]),
  image: imageOrEmpty,
  outcome: z.enum(['success', 'failed', 'reverted', 'noop', 'cancelled']),
  detail: z.string().max(600).optional(),
});
export type HistoryEntry = z.infer<typeof historyEntry>;

/** A release as the state file holds it (domain/releases.ts: ReleaseRecord, what became of it). */
const releaseSchema: z.ZodType<ReleaseRecord, unknown> = z.object({
  id: z.string().regex(/^[a-z0-9-]{1,40}$/),
  version,
  image,
  color: colorSchema,
  runId,
  deployedAt: time,
  status: z.enum(RELEASE_STATUSES),
  /** When it first took all traffic (null: never did). */
  servedAt: time.nullable(),
  /** When a rollback put it back in service (the newest such time). */
  restoredAt: time.nullable().default(null),
  endedAt: time.nullable().default(null),
  note: plainText(300).default(''),
  /**
   * The runtime it was started with. Only its shape is checked here: what its options may be is
   * the runtime's, checked with the runtime inputs' own fields when a rollback builds it.
   */
  runtime: z
    .object({
      name: z.string().max(100),
      options: z
        .record(z.string().max(100), z.union([z.string().max(64 * 1024), z.number()]))
        .refine((options) => Object.keys(options).length <= 20, 'at most 20 options'),
    })
    .optional(),
});

const canarySchema = z.object({
  color: colorSchema,
  version,
  image,
  percent: z.number().int().min(0).max(100),
  since: time,
  runId,
  release: z.string().optional(),
  /** Where each host's access log stood just before the switch: the monitor judges the canary from its first request. */
  logMark: z
    .object({ path: z.string().max(1024), inode: z.string().regex(/^\d{1,20}$/), offset: z.number().int().min(0) })
    .optional(),
});
export type Canary = z.infer<typeof canarySchema>;

/**
 * A traffic change in flight, written before nginx is touched and cleared once the outcome is
 * recorded. A run that finds one left by another run knows what nginx may be serving: it puts
 * traffic on the `recover` side and records `commit` when that side is `to`.
 */
const pendingSchema = z.object({
  runId,
  phase: z.enum(['deploy', 'promote', 'rollback', 'ramp', 'take-out']),
  at: time,
  from: weights.nullable(),
  to: weights,
  recover: z.enum(['from', 'to']),
  /** The release this change is about (cancelled when recovered to `from` during a deploy). */
  release: z.string().optional(),
  /** The job that made the change, and its token: a post step settles only its own job's change. */
  job: jobId.optional(),
  jobToken: jobToken.optional(),
  commit: z.object({
    active: colorSchema.nullable(),
    canary: canarySchema.nullable(),
    releases: z.array(z.object({ id: z.string(), status: z.enum(RELEASE_STATUSES) })),
  }),
});
export type TrafficIntent = z.infer<typeof pendingSchema>;

export const appStateSchema = z.object({
  schema: z.union([z.literal(1), z.literal(2)]),
  app: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/),
  active: colorSchema.nullable(),
  colors: z.object({ blue: colorState.optional(), green: colorState.optional() }),
  canary: canarySchema.nullable(),
  releases: z.array(releaseSchema).default([]),
  pending: pendingSchema.nullable().default(null),
  history: z.array(historyEntry),
  updatedAt: time,
});
export type AppState = z.infer<typeof appStateSchema>;

/** Folds text to one line of printable characters (for a release's note). */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\0-\x1f\x7f]+/g, ' ').trim();
}

export const HISTORY_LIMIT = 200;
export const RELEASE_LIMIT = 50;

export function emptyState(app: string, now: string): AppState {
  return {
    schema: 2,
    app,
    active: null,
    colors: {},
    canary: null,
    releases: [],
    pending: null,
    history: [],
    updatedAt: now,
  };
}

export function withHistory(state: AppState, entry: HistoryEntry): AppState {
  return { ...state, history: [...state.history, entry].slice(-HISTORY_LIMIT), updatedAt: entry.time };
}

export function newReleaseId(): string {
  return `r-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export function addRelease(state: AppState, release: ReleaseRecord): AppState {
  return { ...state, releases: [...state.releases, release].slice(-RELEASE_LIMIT) };
}

export function updateRelease(state: AppState, id: string | undefined, change: Partial<ReleaseRecord>): AppState {
  if (!id) return state;
  return {
    ...state,
    releases: state.releases.map((release) => (release.id === id ? { ...release, ...change } : release)),
  };
}

/** The release serving all (or, during a canary, most) traffic. */
export function liveRelease(state: AppState): ReleaseRecord | undefined {
  return [...state.releases].reverse().find((release) => release.status === 'live');
}

/** Releases one can roll back to by name: image known, newest first, one per version. */
export function rollbackCandidates(state: AppState): ReleaseRecord[] {
  const seen = new Set<string>();
  return [...state.releases].reverse().filter((release) => {
    if (seen.has(release.version)) return false;
    seen.add(release.version);
    return true;
  });
}

/**
 * A state written by an older version (schema 1) has only its history: rebuild the releases
 * from it, so `previous` means the same thing on an upgraded host.
 */
export function migrateState(state: AppState): AppState {
  if (state.schema === 2) return state;
  let next: AppState = { ...state, schema: 2, releases: [], pending: null };
  const find = (version: string) => [...next.releases].reverse().find((release) => release.version === version);
  for (const entry of state.history) {
    if (!VERSION.test(entry.version) || !IMAGE_REF.test(entry.image)) continue;
    if (entry.action === 'deploy') {
      const first = entry.outcome === 'success' && !liveRelease(next);
      const status: ReleaseStatus =
        entry.outcome === 'success'
          ? first
            ? 'live'
            : 'canary'
          : entry.outcome === 'cancelled'
            ? 'cancelled'
            : 'failed';
      next = addRelease(next, {
        id: newReleaseId(),
        version: entry.version,
        image: entry.image,
        color: entry.color,
        runId: entry.runId,
        deployedAt: entry.time,
        status,
        servedAt: first ? entry.time : null,
        restoredAt: null,
        endedAt: null,
        note: 'rebuilt from the history',
      });
    } else if ((entry.action === 'promote' || entry.action === 'rollback') && entry.outcome === 'success') {
      const previous = liveRelease(next);
      const target = find(entry.version);
      if (previous && previous.id !== target?.id)
        next = updateRelease(next, previous.id, {
          status: entry.action === 'promote' ? 'superseded' : 'rolled-back',
          endedAt: entry.time,
        });
      for (const release of next.releases)
        if (release.status === 'canary' && release.id !== target?.id)
          next = updateRelease(next, release.id, { status: entry.action === 'rollback' ? 'rejected' : 'superseded' });
      if (target)
        next = updateRelease(next, target.id, {
          status: 'live',
          servedAt: target.servedAt ?? entry.time,
          ...(entry.action === 'rollback' ? { restoredAt: entry.time } : {}),
        });
    }
  }
  return next;
}

export interface StatePaths {
  dir: string;
  state: string;
  lock: string;
  audit: string;
  /** A request to stop a run that holds the lock (a monitor) so that a rollback can go ahead. */
  abort: string;
  /** A request that a ramp stay at its current step (and keep being watched) until it is removed. */
  hold: string;
}

export function statePaths(stateDir: string, app: string): StatePaths {
  const dir = `${stateDir.replace(/\/+$/, '')}/${app}`;
  return {
    dir,
    state: `${dir}/state.json`,
    lock: `${dir}/lock`,
    audit: `${dir}/audit.log`,
    abort: `${dir}/abort`,
    hold: `${dir}/hold`,
  };
}

// --- commands (pure) -----------------------------------------------------------------------

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

export const commands = {
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
      'set -e; dir=$(dirname "$1"); mkdir -p "$dir"; tmp=$(mktemp "$dir/.agent-loop.XXXXXXXX"); trap \'rm -f "$tmp"\' EXIT; cat > "$tmp"; if [ -n "$3" ] && [ "$(wc -c < "$tmp")" -ne "$3" ]; then echo "the content arrived incomplete ($(wc -c < "$tmp") of $3 bytes); $1 was left as it was" >&2; exit 1; fi; chmod "$2" "$tmp"; mv -f "$tmp" "$1"; trap - EXIT',
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
      `set -u\n${WRITE_FILES_SHELL}\nnonce=$1; shift\n${PUT_ALL_SHELL}\n[ "$wrote" -eq ${writes.length} ] && exit 0\n[ "$wrote" -eq 0 ] && exit 1\necho "wrote $wrote"; exit 5`,
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
  /**
   * Takes the lock in one atomic step: the owner file is written into a fresh folder that is then
   * renamed to the lock's name, so nobody ever sees a lock without its owner. On success prints
   * `acquired`; otherwise the time of the holder's last sign of life, the host's time, the owner
   * (nothing for a lock without an owner file) and exit 1.
   */
  acquireLock(lockDir: string): Argv {
    return script(
      'al-lock',
      [
        'parent=$(dirname "$1")',
        'mkdir -p "$parent" || exit 3',
        // A rename replaces an empty folder: without this check, a lock folder an operator made by
        // hand (mkdir lock) to stop deploys would be taken silently.
        'if [ ! -e "$1" ] && [ ! -L "$1" ]; then',
        '  tmp=$(mktemp -d "$parent/.lock.XXXXXXXX") || exit 3',
        '  if ! cat > "$tmp/owner.json"; then rm -rf "$tmp"; exit 3; fi',
        '  chmod 755 "$tmp"; chmod 644 "$tmp/owner.json"',
        '  if mv -T "$tmp" "$1" 2>/dev/null; then echo acquired; exit 0; fi',
        '  rm -rf "$tmp"',
        'fi',
        // The lock vanished between the rename and here (or while its owner was read): the caller tries again.
        '[ -e "$1" ] || [ -L "$1" ] || exit 4',
        'owner=$(head -c 4096 "$1/owner.json" 2>/dev/null)',
        '[ -n "$owner" ] || [ -e "$1" ] || [ -L "$1" ] || exit 4',
        // A lock whose age cannot be read (no GNU stat) counts as alive, never as stale.
        'printf "held %s %s\\n" "$(stat -c %Y "$1" 2>/dev/null || date +%s)" "$(date +%s)"',
        'printf "%s" "$owner"',
        'exit 1',
      ].join('\n'),
      [lockDir],
    );
  },
  /**
   * Removes a lock that has no owner file (an operator's `mkdir lock`), only while it still has
   * none: exit 5 when an owner file has appeared since it was read.
   */
  takeOverLock(lockDir: string): Argv {
    return script(
      'al-unlock-ownerless',
      [
        'set -u',
        '[ -e "$1" ] || [ -L "$1" ] || exit 0',
        '[ ! -e "$1/owner.json" ] || { echo "the lock has an owner now" >&2; exit 5; }',
        'aside=$(mktemp -d "$(dirname "$1")/.taken.XXXXXXXX") || exit 3',
        'mv -T "$1" "$aside/lock" || { rmdir "$aside"; exit 3; }',
        'rm -rf "$aside"',
      ].join('\n'),
      [lockDir],
    );
  },
  /** Moves a stale lock aside and removes it; only when it has still shown no sign of life for $2 seconds. */
  breakLock(lockDir: string, staleSeconds: number): Argv {
    return script(
      'al-unlock-stale',
      [
        'set -u',
        'seen=$(stat -c %Y "$1" 2>/dev/null) || exit 0',
        '[ $(( $(date +%s) - seen )) -gt "$2" ] || { echo "the lock came back to life" >&2; exit 5; }',
        'aside=$(mktemp -d "$(dirname "$1")/.broken.XXXXXXXX") || exit 3',
        'mv -T "$1" "$aside" 2>/dev/null; rm -rf "$aside"',
      ].join('\n'),
      [lockDir, String(staleSeconds)],
    );
  },
  /**
   * Releases the lock only if this run still owns it. The lock is renamed aside before it is
   * removed, so no one ever sees it as a folder without its owner file.
   */
  releaseLock(lockDir: string, token: string): Argv {
    return script(
      'al-unlock',
      'if grep -qF "$2" "$1/owner.json" 2>/dev/null; then aside=$(mktemp -d "$(dirname "$1")/.released.XXXXXXXX") || exit 3; mv -T "$1" "$aside/lock" 2>/dev/null; rm -rf "$aside"; fi',
      [lockDir, token],
    );
  },
  /**
   * Rewrites the owner file of a lock this run holds (the token is checked), for a run that names
   * its version only once it has read the state under the lock: a monitor, its canary's.
   */
  relabelLock(lockDir: string, token: string): Argv {
    return script(
      'al-relabel',
      'grep -qF "$2" "$1/owner.json" 2>/dev/null || exit 0; tmp=$(mktemp "$1/.owner.XXXXXXXX") || exit 3; cat > "$tmp" && chmod 644 "$tmp" && mv -f "$tmp" "$1/owner.json"',
      [lockDir, token],
    );
  },
  /** Shows that the owner is alive (the lock's time); prints `lost` when the lock is no longer this run's. */
  heartbeat(lockDir: string, token: string): Argv {
    // touch -c: a heartbeat still in flight when the lock is released (or its run killed and the
    // post step run) must not create a file in the lock's place, which would block every next run.
    return script(
      'al-heartbeat',
      'if grep -qF "$2" "$1/owner.json" 2>/dev/null; then touch -c "$1" && echo ok; else echo lost; fi',
      [lockDir, token],
    );
  },
  /** The last state the audit log recorded (repair). */
  lastAuditedState(auditPath: string): Argv {
    return script(
      'al-last-state',
      'if [ -f "$1" ]; then tac "$1" | grep -m1 "\\"step\\":\\"state saved\\"" || true; fi',
      [auditPath],
    );
  },
};

// --- running them --------------------------------------------------------------------------

export async function readRemoteFile(remote: Remote, path: string): Promise<string | null> {
  const output = await runChecked(remote, commands.readFile(path), `reading ${path}`);
  const newline = output.indexOf('\n');
  return output.slice(0, newline) === 'present' ? output.slice(newline + 1) : null;
}

export async function writeRemoteFile(remote: Remote, path: string, content: string): Promise<void> {
  await runChecked(remote, commands.writeFileAtomic(path, '644', Buffer.byteLength(content)), `writing ${path}`, {
    stdin: content,
  });
}

/** A state file that cannot be read as one: torn, hand-edited, or not ours. */
export class StateUnreadable extends HostError {
  override name = 'StateUnreadable';
  /** What the step summary says to do: a plain re-run would meet the same file. */
  readonly remedy =
    'A plain re-run meets the same file: re-run the step with repair-state: true (agent-loop: --repair-state true), which rebuilds the state from the audit log and the live weights and says what it found.';
  constructor(
    host: string,
    readonly path: string,
    readonly problem: string,
  ) {
    super(
      host,
      `${path} ${problem}; re-run with repair-state: true to rebuild it from the audit log and the live nginx weights`,
    );
  }
}

export function parseState(text: string, app: string): { ok: true; state: AppState } | { ok: false; problem: string } {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'is not valid JSON (torn or edited by hand)' };
  }
  const parsed = appStateSchema.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      problem: `is not an agent-loop state file: ${issue ? `${issue.path.join('.') || 'top'}: ${issue.message}` : 'unknown shape'}`,
    };
  }
  if (parsed.data.app !== app)
    return { ok: false, problem: `belongs to the app '${printable(parsed.data.app)}', not '${app}'` };
  return { ok: true, state: migrateState(parsed.data) };
}

export async function readState(remote: Remote, paths: StatePaths, app: string, now: string): Promise<AppState> {
  const text = await readRemoteFile(remote, paths.state);
  if (text === null) return emptyState(app, now);
  const parsed = parseState(text, app);
  if (!parsed.ok) throw new StateUnreadable(remote.label, paths.state, parsed.problem);
  return parsed.state;
}

/**
 * The state file's text, only in a form the next run will read back: a value that does not fit (an
 * actor that is not a user name, say) fails here, and with it the step, instead of every later run.
 */
export function stateText(host: string, state: AppState): string {
  const text = `${JSON.stringify(state, null, 2)}\n`;
  const check = parseState(text, state.app);
  if (!check.ok)
    throw new HostError(host, `refusing to write a state the next run could not read: it ${check.problem}`);
  return text;
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
  const argv = commands.writeFiles(writes);
  if (!argv) {
    // Too large to go inside one command: the state on stdin, then the audit lines.
    await writeRemoteFile(remote, paths.state, text);
    if (!auditLines) return null;
    return runChecked(remote, commands.appendLine(paths.audit), 'writing the audit log', { stdin: auditLines }).then(
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

export interface AuditRecord {
  time: string;
  runId: string;
  actor: string;
  step: string;
  [key: string]: unknown;
}

export async function audit(remote: Remote, paths: StatePaths, record: AuditRecord): Promise<void> {
  await runChecked(remote, commands.appendLine(paths.audit), 'writing the audit log', {
    stdin: `${JSON.stringify(record)}\n`,
  });
}

export interface LockOwner {
  token: string;
  runId: string;
  actor: string;
  version: string;
  /** One of LOCK_PHASES: a lock is read back with that list, so a phase that takes a lock is added there. */
  phase: string;
  time: string;
  runUrl?: string;
  /** The job that holds it (GITHUB_JOB): the same for every leg of a matrix, so shown, never matched. */
  job?: string;
  /**
   * The token the job's main step made and kept in the step's state: its post step releases only
   * locks carrying it. A lock without one (taken by an older version) is never a post step's.
   */
  jobToken?: string;
}

/**
 * The phases that take a lock (the callers of openSessions) and the placeholders a lock shows for
 * a version it does not name yet: a lock's owner is read back with these, like the state.
 */
export const LOCK_PHASES = [
  'deploy',
  'promote',
  'rollback',
  'upgrade',
  'prune',
  'monitor canary',
  'monitor ramp',
  'monitor post-promotion',
] as const;
const lockVersion = z.union([version, z.enum(['(canary)', '(previous)', '(maintenance)'])]);
const lockOwnerFields = {
  token: z.string().max(100),
  runId,
  actor,
  version: lockVersion,
  phase: z.enum(LOCK_PHASES),
  time,
  runUrl: z
    .string()
    .max(300)
    .regex(/^https?:\/\/[A-Za-z0-9.:-]+\/[A-Za-z0-9._~%/-]*$/, 'a run URL')
    .optional(),
  job: jobId.optional(),
  jobToken: jobToken.optional(),
};
const lockOwnerSchema = z.object(lockOwnerFields);
/** What each field an owner shows must be, for the flag that replaces one that is not. */
const LOCK_OWNER_FORMS: Partial<Record<keyof LockOwner, string>> = {
  runId: 'a run id',
  actor: 'a user name',
  version: 'a version label',
  phase: 'a known phase',
  time: 'an ISO time',
  job: 'a job id',
};

/**
 * The owner file of a lock, read as data: each field with its pattern. A field that does not fit
 * is never passed on as it is: one that is shown (run, actor, version, phase, time, job) becomes a
 * flag saying what it should be, with what it holds escaped and cut; the others are left out.
 */
export function parseLockOwner(text: string): Partial<LockOwner> | null {
  try {
    const value = JSON.parse(text) as unknown;
    const parsed = lockOwnerSchema.safeParse(value);
    if (parsed.success) return parsed.data;
    if (!value || typeof value !== 'object') return null;
    const fields: Partial<Record<keyof LockOwner, string>> = {};
    for (const [key, schema] of Object.entries(lockOwnerFields) as Array<[keyof LockOwner, z.ZodType]>) {
      const raw = (value as Record<string, unknown>)[key];
      if (raw === undefined) continue;
      const field = schema.safeParse(raw);
      const form = LOCK_OWNER_FORMS[key];
      if (field.success && typeof field.data === 'string') fields[key] = field.data;
      else if (form) fields[key] = `(not ${form}: ${show(raw, 40)})`;
    }
    return fields;
  } catch {
    return null;
  }
}

/**
 * What holds a lock, in words, from its owner's phase: a refusal names a monitor as a monitor, not
 * as "another deploy".
 */
export function lockHolder(phase: string | undefined): string {
  if (phase === 'deploy') return 'another deploy';
  if (phase === 'promote' || phase === 'rollback') return `a ${phase}`;
  if (phase === 'upgrade' || phase === 'prune') return `maintenance (${phase})`;
  if (phase?.startsWith('monitor ')) return `a canary-monitor (${phase.slice('monitor '.length)})`;
  return 'another run';
}

export class LockHeld extends ConfigurationError {
  constructor(
    host: string,
    readonly owner: Partial<LockOwner> | null,
    readonly ageSeconds: number,
    readonly stale: boolean,
  ) {
    const who = owner
      ? `run ${owner.runId ?? '?'} by ${owner.actor ?? '?'} (${owner.phase ?? '?'} of ${owner.version ?? '?'}, since ${owner.time ?? '?'}${owner.job ? `, job ${owner.job}` : ''})`
      : '';
    super(
      !owner
        ? // No owner, no run to wait for or to find dead: an operator's stop sign until someone says otherwise.
          `${host}: the lock is a folder with no owner file (made by hand to stop deploys, or left by an old version); it never goes stale: remove it when deploys may go on, or re-run with take-over-lock: true to take it over`
        : stale
          ? `${host}: a stale lock from ${who} is in the way: no sign of life for ${ageSeconds} s, so that run is gone; re-run with break-stale-lock: true to break it`
          : `${host}: ${lockHolder(owner.phase)} holds the lock: ${who}, alive ${ageSeconds} s ago; set lock-wait-seconds (e.g. 600) to wait for it, or cancel that run`,
    );
  }
}

export interface LockOptions {
  waitSeconds: number;
  staleSeconds: number;
  breakStale: boolean;
  /** Take over a lock that has no owner file (input take-over-lock); otherwise it is reported. */
  takeOver?: boolean;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  warn: (message: string) => void;
  /** Called while another run holds the lock (e.g. to ask a monitor to stop); returns how long to keep waiting at least, in seconds. */
  onHeld?: (owner: Partial<LockOwner> | null) => Promise<number>;
}

/** Takes the app's lock on a host; returns a function that releases it. */
export async function acquireLock(
  remote: Remote,
  paths: StatePaths,
  owner: LockOwner,
  options: LockOptions,
): Promise<() => Promise<void>> {
  let deadline = options.now() + options.waitSeconds * 1000;
  let asked = false;
  for (;;) {
    const result = await remote.run(commands.acquireLock(paths.lock), { stdin: JSON.stringify(owner) });
    if (result.code === 0 && result.stdout.trim() === 'acquired') {
      return async () => {
        await remote.run(commands.releaseLock(paths.lock, owner.token));
      };
    }
    if (result.code === 4) continue;
    if (result.code !== 1)
      throw new HostError(
        remote.label,
        `could not take the lock in ${paths.lock}: ${printable(result.stderr.trim(), 300) || `exit ${result.code}`}`,
      );
    const [header = '', ...rest] = result.stdout.split('\n');
    const [, seen = '0', hostNow = '0'] = header.split(' ');
    const ageSeconds = Math.max(0, Number(hostNow) - Number(seen));
    const holder = parseLockOwner(rest.join('\n'));
    if (!holder && options.takeOver) {
      options.warn(`${remote.label}: taking over a lock with no owner file (take-over-lock: true)`);
      const taken = await remote.run(commands.takeOverLock(paths.lock));
      // Exit 5: an owner appeared meanwhile; the next attempt sees it.
      if (taken.code !== 0 && taken.code !== 5)
        throw new HostError(
          remote.label,
          `could not take over the lock in ${paths.lock}: ${printable(taken.stderr.trim(), 300) || `exit ${taken.code}`}`,
        );
      continue;
    }
    // A lock without an owner is no dead run's: it never goes stale (see LockHeld).
    const stale = holder !== null && ageSeconds > options.staleSeconds;
    if (stale && options.breakStale) {
      options.warn(
        `${remote.label}: breaking a stale lock (no sign of life for ${ageSeconds} s) held by run ${holder?.runId ?? '?'}`,
      );
      await runChecked(remote, commands.breakLock(paths.lock, options.staleSeconds), 'breaking the stale lock').catch(
        () => undefined,
      );
      continue;
    }
    if (!stale && !asked && options.onHeld) {
      asked = true;
      const atLeast = await options.onHeld(holder);
      deadline = Math.max(deadline, options.now() + atLeast * 1000);
    }
    if (stale || options.now() >= deadline) throw new LockHeld(remote.label, holder, ageSeconds, stale);
    await options.sleep(Math.min(asked ? 250 : 2000, Math.max(100, deadline - options.now())));
  }
}
