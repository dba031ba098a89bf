import { z } from 'zod';
import { ConfigurationError, show } from '../action';
import { actor, jobId, jobToken, runId, time, version } from './state';

/** Who holds a host's lock: the owner file, read back as data, and the refusal that names it. */

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
      ? `run ${owner.runId ?? '?'} by ${owner.actor ?? '?'} ` +
        `(${owner.phase ?? '?'} of ${owner.version ?? '?'}, since ${owner.time ?? '?'}${owner.job ? `, job ${owner.job}` : ''})`
      : '';
    super(
      !owner
        ? // No owner, no run to wait for or to find dead: an operator's stop sign until someone says otherwise.
          `${host}: the lock is a folder with no owner file (made by hand to stop deploys, or left by an old version); ` +
            'it never goes stale: remove it when deploys may go on, or re-run with take-over-lock: true to take it over'
        : stale
          ? `${host}: a stale lock from ${who} is in the way: no sign of life for ${ageSeconds} s, so that run is gone; ` +
            're-run with break-stale-lock: true to break it'
          : `${host}: ${lockHolder(owner.phase)} holds the lock: ${who}, alive ${ageSeconds} s ago; ` +
            'set lock-wait-seconds (e.g. 600) to wait for it, or cancel that run',
    );
  }
}
