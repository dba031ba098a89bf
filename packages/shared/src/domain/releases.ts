import type { Color } from './colors';

/**
 * A release is a version of an app on a host. Two views of it: `Release`, what a color runs now
 * (the values a runtime's commands use), and `ReleaseRecord`, what the host's state remembers of
 * every release and what became of it.
 */

/** What a color runs: the values a runtime command may use. */
export interface Release {
  app: string;
  color: Color;
  port: number;
  image: string;
  version: string;
}

/**
 * What became of a release. `previous` (for a rollback) is the newest release that served all
 * traffic and was never rejected; a release that failed, was rejected or cancelled is only ever
 * chosen by name.
 */
export const RELEASE_STATUSES = [
  'deploying',
  'canary',
  'live',
  'superseded',
  'failed',
  'rejected',
  'rolled-back',
  'cancelled',
] as const;
export type ReleaseStatus = (typeof RELEASE_STATUSES)[number];

/**
 * How a release was started: the runtime's registered name and the options it was built from (the
 * runtime inputs of the deploy). A rollback stops and starts a color with it when its inputs name
 * no runtime. Read back from a host as data: its options are checked with the runtime's own input
 * fields, and its name against the registry, before anything is built from it.
 */
export interface RuntimeRecord {
  name: string;
  options: Record<string, string | number>;
}

/** A release in a host's state (checked when read back by the state file's schema, `hosts/state.ts`). */
export interface ReleaseRecord {
  id: string;
  version: string;
  image: string;
  color: Color;
  runId: string;
  /** ISO times. */
  deployedAt: string;
  status: ReleaseStatus;
  /** When it first took all traffic (null: never did). */
  servedAt: string | null;
  /** When a rollback put it back in service (the newest such time). */
  restoredAt: string | null;
  endedAt: string | null;
  note: string;
  /** The runtime it was started with (absent in a state written before it was recorded). */
  runtime?: RuntimeRecord;
}

const BAD: readonly ReleaseStatus[] = ['failed', 'rejected', 'rolled-back', 'cancelled'];
export const isRejected = (release: ReleaseRecord): boolean => BAD.includes(release.status);
