import type { ReleaseRecord, ReleaseStatus } from '../domain';
import { IMAGE_REF, VERSION } from '../vocabulary';
import type { AppState, HistoryEntry } from './state';

/**
 * Changes to a host's state, pure: its history and releases, bounded in length, and the rebuilding
 * of the releases of a state an older version wrote.
 */

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
