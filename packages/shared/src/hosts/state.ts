import { z } from 'zod';
import { HostError, printable } from '../action';
import { COLORS, RELEASE_STATUSES, type ReleaseRecord } from '../domain';
import { IMAGE_REF, VERSION } from '../vocabulary';
import { migrateState } from './state-changes';

/**
 * What a host remembers about an app: which color serves, what runs in each color, every release
 * with what became of it, and the traffic change in flight (written before nginx is touched).
 * Written atomically (temporary file + rename, `state-write.ts`), changed only under the lock
 * (`lock.ts`), and every step is appended to an audit log (`audit.ts`). This module is the model:
 * the file's schema, its paths, and how its text is read and checked.
 */

const colorSchema = z.enum(COLORS);
// Everything read back from a host is validated with the inputs' own patterns: a state file is
// data another party may have written, never something to print or run as it is. The lock's owner
// file is read with the same fields (lock-owner.ts).
export const version = z.string().regex(VERSION, 'a version label');
const image = z.string().regex(IMAGE_REF, 'an image reference');
const imageOrEmpty = z.union([z.literal(''), image]);
const plainText = (max: number) =>
  z
    .string()
    .max(max)
    // eslint-disable-next-line no-control-regex
    .regex(/^[^\0-\x08\x0a-\x1f\x7f]*$/, 'one line of text without control characters');
export const runId = z.string().regex(/^[A-Za-z0-9._:-]{1,80}$/, 'a run id');
export const actor = z.string().regex(/^[A-Za-z0-9._@[\]-]{1,100}$/, 'a user name');
export const time = z.string().regex(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/, 'an ISO time');
// A job's id as GitHub gives it (GITHUB_JOB), and the random token its main step made: together
// they tell one job's lock and pending switch from another job's of the same run (a matrix).
export const jobId = z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'a job id');
export const jobToken = z.string().regex(/^[A-Za-z0-9-]{8,100}$/, 'a job token');
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

/** A state file that cannot be read as one: torn, hand-edited, or not ours. */
export class StateUnreadable extends HostError {
  override name = 'StateUnreadable';
  /** What the step summary says to do: a plain re-run would meet the same file. */
  readonly remedy =
    'A plain re-run meets the same file: re-run the step with repair-state: true (agent-loop: --repair-state true), ' +
    'which rebuilds the state from the audit log and the live weights and says what it found.';
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
