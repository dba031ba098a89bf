import { ConfigurationError } from '../action';
import type { Weights } from '../traffic';
import { liveRelease, rollbackCandidates, type AppState } from '../hosts';
import { isRejected, otherColor, type Color, type ReleaseRecord } from '../domain';

/**
 * What a rollback does on one host, decided from its state and live weights alone (pure): the
 * release to put back, the color it runs on, whether that color must be started, and the release
 * taken out of service.
 */

/** `canaryOnly`: an abort, which ends a canary or a ramp and refuses to go back from a promoted release. */
export type RollbackTarget = { kind: 'previous'; canaryOnly?: boolean } | { kind: 'version'; version: string };

/** What one host has to do (pure): which color to send traffic to, and whether it must be started. */
export interface RollbackPlan {
  target: Color;
  failed: Color | null;
  version: string;
  image: string;
  start: boolean;
  noop: boolean;
  /** The release put back in service, and the one taken out of it (rejected, or rolled back from). */
  release: ReleaseRecord | null;
  rejected: ReleaseRecord | null;
  /** Said when a version that failed or was rejected is chosen by name. */
  warning?: string;
  /** Why there is nothing to do, when noop. */
  why?: string;
}

const describe = (release: ReleaseRecord): string => `${release.version} (${release.status})`;

export function candidateList(state: AppState): string {
  const list = rollbackCandidates(state).map(describe);
  return list.length > 0 ? list.join(', ') : 'none';
}

/** Where a release can run: the color that already has it, or the idle color (started from its image). */
function placement(
  state: AppState,
  release: { version: string; image: string },
  idle: Color,
): { color: Color; start: boolean } {
  for (const color of [idle, otherColor(idle)]) {
    const held = state.colors[color];
    if (held && held.version === release.version && held.image === release.image)
      return { color, start: held.status !== 'running' };
  }
  return { color: idle, start: true };
}

export function planRollback(
  state: AppState,
  live: Weights | null,
  target: RollbackTarget,
  host: string,
): RollbackPlan {
  const active = state.active;
  if (!active)
    throw new ConfigurationError(
      `${host}: nothing was ever deployed for ${state.app}: there is nothing to roll back to`,
    );
  const serving = (color: Color): boolean => (live ? live[color] === 100 : state.canary === null && active === color);
  const current = liveRelease(state);
  const canaryRelease = state.canary
    ? (state.releases.find((release) => release.id === state.canary?.release) ??
      [...state.releases]
        .reverse()
        .find((release) => release.status === 'canary' && release.version === state.canary?.version) ??
      null)
    : null;

  if (target.kind === 'previous') {
    if (target.canaryOnly && !state.canary) {
      throw new ConfigurationError(
        `${host}: there is no canary or ramp to abort: ` +
          `${current ? `${current.version} serves all traffic` : 'nothing serves'}; ` +
          'to go back from a promoted release, roll back instead',
      );
    }
    if (state.canary) {
      // A canary in progress: the stable color still runs and serves most traffic.
      const stable = otherColor(state.canary.color);
      const release = state.colors[stable];
      if (!release) throw new ConfigurationError(`${host}: the state has no release for ${stable}`);
      return {
        target: stable,
        failed: state.canary.color,
        version: release.version,
        image: release.image,
        start: release.status !== 'running',
        noop: false,
        release: current ?? null,
        rejected: canaryRelease,
      };
    }
    if (current && current.restoredAt !== null && serving(active)) {
      // What serves was itself put back by a rollback: rolling back again would reach further into
      // the past than anyone asked. Older versions are one named rollback away.
      return {
        target: active,
        failed: null,
        version: current.version,
        image: current.image,
        start: false,
        noop: true,
        release: current,
        rejected: null,
        why: `${current.version} was put back by a rollback at ${current.restoredAt}`,
      };
    }
    const currentTime = current?.deployedAt ?? '9999';
    const good = [...state.releases]
      .reverse()
      .find(
        (release) =>
          release.id !== current?.id &&
          release.servedAt !== null &&
          !isRejected(release) &&
          release.deployedAt <= currentTime &&
          release.version !== current?.version,
      );
    if (!good && state.releases.filter((release) => release.servedAt !== null).length <= 1) {
      throw new ConfigurationError(
        `${host}: there is no previous version to roll back to (only ${current?.version ?? 'one version'} was deployed)`,
      );
    }
    if (!good) {
      throw new ConfigurationError(
        `${host}: there is no earlier good release to roll back to ` +
          `(${current ? `${current.version} serves` : 'nothing serves'}); releases known: ${candidateList(state)}. ` +
          'Name one with target-version to roll back to it anyway',
      );
    }
    const where = placement(state, good, otherColor(active));
    const skipped = state.releases
      .filter((release) => release.deployedAt > good.deployedAt && release.id !== current?.id && isRejected(release))
      .map(describe);
    return {
      target: where.color,
      failed: active,
      version: good.version,
      image: good.image,
      start: where.start,
      noop: false,
      release: good,
      rejected: current ?? null,
      ...(skipped.length > 0 ? { why: `skipping ${skipped.join(', ')}, which never served or were rejected` } : {}),
    };
  }

  // A named version: the newest good release of it, else the newest of it at all (with a warning).
  const named = [...state.releases].reverse().filter((release) => release.version === target.version);
  const chosen = named.find((release) => !isRejected(release)) ?? named[0];
  if (!chosen)
    throw new ConfigurationError(
      `${host}: version ${target.version} is not in this host's history (known: ${candidateList(state)})`,
    );
  const warning = isRejected(chosen)
    ? `${host}: ${chosen.version} was ${chosen.status} (${chosen.note || 'no note'}); rolling back to it because it was named`
    : undefined;
  const holder = (['blue', 'green'] as const).find(
    (color) => state.colors[color]?.version === chosen.version && state.colors[color]?.image === chosen.image,
  );
  if (
    holder &&
    holder === active &&
    state.canary === null &&
    serving(holder) &&
    state.colors[holder]?.status === 'running'
  ) {
    return {
      target: holder,
      failed: null,
      version: chosen.version,
      image: chosen.image,
      start: false,
      noop: true,
      release: current ?? chosen,
      rejected: null,
      ...(warning ? { warning } : {}),
    };
  }
  const idle = state.canary ? state.canary.color : otherColor(active);
  const where = holder
    ? { color: holder, start: state.colors[holder]?.status !== 'running' }
    : placement(state, chosen, idle);
  const failed = where.color === active ? (state.canary ? state.canary.color : null) : active;
  return {
    target: where.color,
    failed,
    version: chosen.version,
    image: chosen.image,
    start: where.start,
    noop: false,
    release: chosen,
    rejected: state.canary ? canaryRelease : current && current.id !== chosen.id ? current : null,
    ...(warning ? { warning } : {}),
  };
}
