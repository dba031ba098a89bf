import { z } from 'zod';
import { ConfigurationError, HostError } from './errors';
import { runChecked, type Remote } from './ssh';
import { script, type Argv } from './shell';

/**
 * What a host remembers about an app: which color serves, what runs in each color, and the
 * history of deploys. Written atomically (temporary file + rename), changed only under the lock,
 * and every step is appended to an audit log.
 */

export const COLORS = ['blue', 'green'] as const;
export type Color = (typeof COLORS)[number];
export const otherColor = (color: Color): Color => (color === 'blue' ? 'green' : 'blue');

const colorSchema = z.enum(COLORS);

const colorState = z.object({
  image: z.string(),
  version: z.string(),
  port: z.number(),
  status: z.enum(['running', 'stopped']),
  since: z.string(),
});
export type ColorState = z.infer<typeof colorState>;

const historyEntry = z.object({
  time: z.string(),
  runId: z.string(),
  actor: z.string(),
  action: z.enum(['deploy', 'promote', 'rollback']),
  color: colorSchema,
  version: z.string(),
  image: z.string(),
  outcome: z.enum(['success', 'failed', 'reverted', 'noop']),
  detail: z.string().optional(),
});
export type HistoryEntry = z.infer<typeof historyEntry>;

export const appStateSchema = z.object({
  schema: z.literal(1),
  app: z.string(),
  active: colorSchema.nullable(),
  colors: z.object({ blue: colorState.optional(), green: colorState.optional() }),
  canary: z
    .object({ color: colorSchema, version: z.string(), image: z.string(), percent: z.number(), since: z.string(), runId: z.string(), logMark: z.object({ path: z.string(), inode: z.string(), offset: z.number() }).optional() })
    .nullable(),
  history: z.array(historyEntry),
  updatedAt: z.string(),
});
export type AppState = z.infer<typeof appStateSchema>;

export const HISTORY_LIMIT = 200;

export function emptyState(app: string, now: string): AppState {
  return { schema: 1, app, active: null, colors: {}, canary: null, history: [], updatedAt: now };
}

export function withHistory(state: AppState, entry: HistoryEntry): AppState {
  return { ...state, history: [...state.history, entry].slice(-HISTORY_LIMIT), updatedAt: entry.time };
}

export interface StatePaths {
  dir: string;
  state: string;
  lock: string;
  audit: string;
}

export function statePaths(stateDir: string, app: string): StatePaths {
  const dir = `${stateDir.replace(/\/+$/, '')}/${app}`;
  return { dir, state: `${dir}/state.json`, lock: `${dir}/lock`, audit: `${dir}/audit.log` };
}

// --- commands (pure) -----------------------------------------------------------------------

export const commands = {
  readFile(path: string): Argv {
    return script('al-read', 'if [ -f "$1" ]; then printf "present\\n"; cat "$1"; else printf "absent\\n"; fi', [path]);
  },
  /** Content comes on stdin; the rename makes the change all-or-nothing. */
  writeFileAtomic(path: string): Argv {
    return script('al-write', 'set -e; mkdir -p "$(dirname "$1")"; tmp="$1.tmp.$$"; cat > "$tmp"; mv -f "$tmp" "$1"', [path]);
  },
  appendLine(path: string): Argv {
    return script('al-append', 'set -e; mkdir -p "$(dirname "$1")"; cat >> "$1"', [path]);
  },
  /** mkdir is atomic: exactly one run creates the lock. On success prints `acquired`; otherwise the owner, the lock's age and exit 1. */
  acquireLock(lockDir: string): Argv {
    return script(
      'al-lock',
      [
        'mkdir -p "$(dirname "$1")" || exit 3',
        'if mkdir "$1" 2>/dev/null; then cat > "$1/owner.json.tmp" && mv -f "$1/owner.json.tmp" "$1/owner.json" && echo acquired && exit 0; rm -rf "$1"; exit 3; fi',
        // A lock whose age cannot be read (it vanished after the mkdir, or no GNU stat) counts as fresh, never as stale.
        'printf "held %s %s\\n" "$(stat -c %Y "$1" 2>/dev/null || date +%s)" "$(date +%s)"',
        'cat "$1/owner.json" 2>/dev/null',
        'exit 1',
      ].join('\n'),
      [lockDir],
    );
  },
  /** Moves a stale lock aside (rename is atomic, so two runs cannot both break it). */
  breakLock(lockDir: string): Argv {
    return script('al-unlock-stale', 'mv "$1" "$1.broken.$(date +%s).$$" && rm -rf "$1".broken.*', [lockDir]);
  },
  /** Releases the lock only if this run still owns it. */
  releaseLock(lockDir: string, token: string): Argv {
    return script('al-unlock', 'if grep -qF "$2" "$1/owner.json" 2>/dev/null; then rm -rf "$1"; fi', [lockDir, token]);
  },
};

// --- running them --------------------------------------------------------------------------

export async function readRemoteFile(remote: Remote, path: string): Promise<string | null> {
  const output = await runChecked(remote, commands.readFile(path), `reading ${path}`);
  const newline = output.indexOf('\n');
  return output.slice(0, newline) === 'present' ? output.slice(newline + 1) : null;
}

export async function writeRemoteFile(remote: Remote, path: string, content: string): Promise<void> {
  await runChecked(remote, commands.writeFileAtomic(path), `writing ${path}`, { stdin: content });
}

export async function readState(remote: Remote, paths: StatePaths, app: string, now: string): Promise<AppState> {
  const text = await readRemoteFile(remote, paths.state);
  if (text === null) return emptyState(app, now);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new HostError(remote.label, `${paths.state} is not valid JSON; fix or remove it (the audit log ${paths.audit} has the history)`);
  }
  const parsed = appStateSchema.safeParse(document);
  if (!parsed.success) throw new HostError(remote.label, `${paths.state} is not an agent-loop state file: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

export async function writeState(remote: Remote, paths: StatePaths, state: AppState): Promise<void> {
  await writeRemoteFile(remote, paths.state, `${JSON.stringify(state, null, 2)}\n`);
}

export interface AuditRecord {
  time: string;
  runId: string;
  actor: string;
  step: string;
  [key: string]: unknown;
}

export async function audit(remote: Remote, paths: StatePaths, record: AuditRecord): Promise<void> {
  await runChecked(remote, commands.appendLine(paths.audit), 'writing the audit log', { stdin: `${JSON.stringify(record)}\n` });
}

export interface LockOwner {
  token: string;
  runId: string;
  actor: string;
  version: string;
  phase: string;
  time: string;
}

export class LockHeld extends ConfigurationError {
  constructor(
    host: string,
    readonly owner: Partial<LockOwner> | null,
    readonly ageSeconds: number,
    readonly stale: boolean,
  ) {
    const who = owner ? `run ${owner.runId ?? '?'} by ${owner.actor ?? '?'} (${owner.phase ?? '?'} of ${owner.version ?? '?'}, since ${owner.time ?? '?'})` : 'an unknown run';
    super(
      stale
        ? `${host}: a stale lock (${ageSeconds} s old) from ${who} is in the way; if that run is gone, re-run with break-stale-lock: true`
        : `${host}: another deploy holds the lock: ${who}, ${ageSeconds} s ago; wait for it, or set lock-wait-seconds`,
    );
  }
}

export interface LockOptions {
  waitSeconds: number;
  staleSeconds: number;
  breakStale: boolean;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  warn: (message: string) => void;
}

/** Takes the app's lock on a host; returns a function that releases it. */
export async function acquireLock(remote: Remote, paths: StatePaths, owner: LockOwner, options: LockOptions): Promise<() => Promise<void>> {
  const deadline = options.now() + options.waitSeconds * 1000;
  for (;;) {
    const result = await remote.run(commands.acquireLock(paths.lock), { stdin: JSON.stringify(owner) });
    if (result.code === 0 && result.stdout.trim() === 'acquired') {
      return async () => {
        await remote.run(commands.releaseLock(paths.lock, owner.token));
      };
    }
    if (result.code !== 1) throw new HostError(remote.label, `could not take the lock in ${paths.lock}: ${result.stderr.trim() || `exit ${result.code}`}`);
    const [header = '', ...rest] = result.stdout.split('\n');
    const [, created = '0', hostNow = '0'] = header.split(' ');
    const ageSeconds = Math.max(0, Number(hostNow) - Number(created));
    let holder: Partial<LockOwner> | null = null;
    try {
      holder = JSON.parse(rest.join('\n')) as Partial<LockOwner>;
    } catch {
      holder = null;
    }
    const stale = ageSeconds > options.staleSeconds;
    if (stale && options.breakStale) {
      options.warn(`${remote.label}: breaking a stale lock (${ageSeconds} s old) held by run ${holder?.runId ?? '?'}`);
      await runChecked(remote, commands.breakLock(paths.lock), 'breaking the stale lock');
      continue;
    }
    if (stale || options.now() >= deadline) throw new LockHeld(remote.label, holder, ageSeconds, stale);
    await options.sleep(Math.min(2000, Math.max(100, deadline - options.now())));
  }
}
