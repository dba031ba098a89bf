import { type Clock, errorMessage, hostCell, type Logger, printable, settleLimit, table } from '../action';
import { planRollback } from '../rollback';
import { buildRouter, DEFAULT_ROUTER, formatWeights, type LiveWeights, type Weights } from '../traffic';
import {
  connect,
  parseLockOwner,
  readState,
  rollbackCandidates,
  script,
  statePaths,
  type AppState,
  type ConnectOptions,
  type HostSpec,
  type LockOwner,
} from '../hosts';
import type { ReleaseStatus } from '../domain';

/**
 * What every host is doing, read and never changed: no lock is taken, nothing is written. Each
 * host is read on its own; one that cannot be reached is reported with why, next to the others.
 */
export interface HostStatus {
  host: string;
  /** Why this host could not be read (the other fields are then empty). */
  error: string | null;
  /** What the router serves (nginx: its status server; HAProxy: its admin socket) and what its file says (nginx's include, the HAProxy router's record). */
  served: LiveWeights['weights'] | null;
  file: LiveWeights['weights'] | null;
  active: 'blue' | 'green' | null;
  canary: { color: string; version: string; percent: number; since: string } | null;
  colors: Record<'blue' | 'green', { version: string; image: string; status: string; port: number } | null>;
  /** A traffic change some run started and did not record the end of (the next run settles it). */
  pending: { runId: string; phase: string; at: string } | null;
  /** Newest first. */
  releases: Array<{ version: string; status: ReleaseStatus; color: string; deployedAt: string; note: string }>;
  /** What a rollback with `target: previous` would do now, in words (or why it cannot). */
  rollbackPrevious: string;
  /** The versions a rollback can go to by name (target-version), newest first. */
  rollbackTo: string[];
  lock: { runId: string; actor: string; phase: string; version: string; since: string; aliveSecondsAgo: number } | null;
  /** A hold request (agent-loop hold): a ramp stays at its current step until it is lifted. */
  hold?: { actor: string; reason: string; since: string } | null;
}

export interface StatusSettings {
  app: string;
  /** The router each host's traffic goes through, by its registered name (traffic/registry.ts); nginx when not given. */
  router?: string;
  splitKey: string;
  connect: ConnectOptions;
  maxParallel: number;
  clock: Clock;
  /** Where a host key accepted only because insecure-skip-host-key-check is true is warned about, as every phase does. */
  log: Logger;
}

const LOCK_READ = `if [ -d "$1" ]; then
  printf 'held %s %s\\n' "$(stat -c %Y "$1" 2>/dev/null || echo 0)" "$(date +%s)"; head -c 4000 "$1/owner.json" 2>/dev/null
else echo free; fi`;

export async function fleetStatus(specs: readonly HostSpec[], settings: StatusSettings): Promise<HostStatus[]> {
  const statuses: HostStatus[] = specs.map((spec) => emptyStatus(spec.target.label));
  await settleLimit(
    specs.map((spec, index) => ({ spec, index })),
    settings.maxParallel,
    async ({ spec, index }) => {
      try {
        statuses[index] = await hostStatus(spec, settings);
      } catch (error) {
        statuses[index] = { ...emptyStatus(spec.target.label), error: errorMessage(error) };
      }
    },
  );
  return statuses;
}

function emptyStatus(host: string): HostStatus {
  return {
    host,
    error: null,
    served: null,
    file: null,
    active: null,
    canary: null,
    colors: { blue: null, green: null },
    pending: null,
    releases: [],
    rollbackPrevious: '',
    rollbackTo: [],
    lock: null,
    hold: null,
  };
}

async function hostStatus(spec: HostSpec, settings: StatusSettings): Promise<HostStatus> {
  const remote = await connect(spec.target, { ...settings.connect, warn: settings.log.warn });
  try {
    const paths = statePaths(spec.stateDir, settings.app);
    const router = buildRouter(settings.router ?? DEFAULT_ROUTER, {
      remote,
      host: spec,
      app: settings.app,
      splitKey: settings.splitKey,
      now: settings.clock.now,
    });
    const [view, state, lock, hold] = await Promise.all([
      router.inspect(),
      readState(remote, paths, settings.app, new Date(settings.clock.now()).toISOString()),
      remote.run(script('al-lock-read', LOCK_READ, [paths.lock])),
      remote.run(script('al-hold-read', 'if [ -f "$1" ]; then printf "hold "; head -c 600 "$1"; fi', [paths.hold])),
    ]);
    const served = view.live?.weights ?? null;
    return {
      ...describeState(spec.target.label, state, served),
      served,
      file: view.file?.weights ?? null,
      lock: parseLockRead(lock.stdout),
      hold: parseHold(hold.stdout),
    };
  } finally {
    remote.close();
  }
}

/** The plan the rollback itself would make, said in words: the same function decides both. */
function previousPlan(host: string, state: AppState, served: Weights | null): string {
  try {
    const plan = planRollback(state, served, { kind: 'previous' }, host);
    if (plan.noop) return `nothing to do: ${plan.version} already serves${plan.why ? ` (${plan.why})` : ''}`;
    return (
      `${plan.version} on ${plan.target}${plan.start ? ' (started again first)' : ' (running)'}` +
      `${plan.rejected ? `, taking ${plan.rejected.version} out` : ''}`
    );
  } catch (error) {
    return `not possible: ${errorMessage(error).replace(`${host}: `, '')}`;
  }
}

function describeState(host: string, state: AppState, served: Weights | null): HostStatus {
  const color = (name: 'blue' | 'green') => {
    const recorded = state.colors[name];
    return recorded
      ? { version: recorded.version, image: recorded.image, status: recorded.status, port: recorded.port }
      : null;
  };
  return {
    ...emptyStatus(host),
    active: state.active,
    canary: state.canary
      ? {
          color: state.canary.color,
          version: state.canary.version,
          percent: state.canary.percent,
          since: state.canary.since,
        }
      : null,
    colors: { blue: color('blue'), green: color('green') },
    pending: state.pending ? { runId: state.pending.runId, phase: state.pending.phase, at: state.pending.at } : null,
    releases: [...state.releases]
      .reverse()
      .slice(0, 10)
      .map((release) => ({
        version: release.version,
        status: release.status,
        color: release.color,
        deployedAt: release.deployedAt,
        note: release.note,
      })),
    rollbackPrevious: previousPlan(host, state, served),
    rollbackTo: rollbackCandidates(state).map((release) => release.version),
  };
}

function parseLockRead(output: string): HostStatus['lock'] {
  const [header = '', ...rest] = output.split('\n');
  if (!header.startsWith('held ')) return null;
  const [, seen = '0', now = '0'] = header.split(' ');
  const owner: Partial<LockOwner> = parseLockOwner(rest.join('\n')) ?? {};
  return {
    runId: owner.runId ?? '?',
    actor: owner.actor ?? '?',
    phase: owner.phase ?? '?',
    version: owner.version ?? '?',
    since: owner.time ?? '?',
    aliveSecondsAgo: Math.max(0, Number(now) - Number(seen)),
  };
}

/** The hold request file (host text: each field shown through printable, an unreadable one said to be). */
function parseHold(output: string): HostStatus['hold'] {
  if (!output.startsWith('hold ')) return null;
  try {
    const parsed = JSON.parse(output.slice(5)) as { actor?: unknown; reason?: unknown; time?: unknown };
    return {
      actor: printable(String(parsed.actor ?? '?'), 100),
      reason: printable(String(parsed.reason ?? ''), 200),
      since: printable(String(parsed.time ?? '?'), 40),
    };
  } catch {
    return { actor: '?', reason: 'an unreadable hold request', since: '?' };
  }
}

const holdText = (hold: NonNullable<HostStatus['hold']>): string =>
  `held by ${hold.actor} since ${hold.since}${hold.reason ? ` (${hold.reason})` : ''}`;

/** One line per host, for a terminal or a log: what it serves, its colors, its lock, a hold. */
export function statusLines(app: string, statuses: readonly HostStatus[]): string[] {
  const lines = [`${app} on ${statuses.length} host(s)`];
  for (const status of statuses) {
    if (status.error) {
      lines.push(`${status.host}: cannot be read: ${printable(status.error, 300)}`);
      continue;
    }
    const serves = status.served
      ? formatWeights(status.served)
      : "nothing (the router gives no weights: nginx's status server or HAProxy's admin socket does not answer, or nothing is deployed)";
    const drift =
      status.served && status.file && formatWeights(status.served) !== formatWeights(status.file)
        ? ` (the router's file says ${formatWeights(status.file)})`
        : '';
    const colors = (['blue', 'green'] as const).map((name) => {
      const color = status.colors[name];
      return `${name} ${color ? `${color.version} ${color.status}` : '—'}`;
    });
    lines.push(
      `${status.host}: serves ${serves}${drift}; ${colors.join(', ')}` +
        `${status.canary ? `; canary ${status.canary.version} at ${status.canary.percent}% since ${status.canary.since}` : ''}`,
    );
    lines.push(
      '  lock: ' +
        (status.lock
          ? `held by run ${status.lock.runId} (${status.lock.actor}, ${status.lock.phase} of ${status.lock.version}), ` +
            `alive ${status.lock.aliveSecondsAgo} s ago`
          : 'free') +
        (status.pending
          ? `; unfinished ${status.pending.phase} switch of run ${status.pending.runId} since ${status.pending.at} ` +
            '(the next run settles it)'
          : ''),
    );
    if (status.hold)
      lines.push(`  hold: ${holdText(status.hold)}: a ramp stays at its current step until agent-loop resume`);
    lines.push(
      `  rollback (target previous): ${status.rollbackPrevious}; by name: ${status.rollbackTo.length > 0 ? status.rollbackTo.join(', ') : 'nothing yet'}`,
    );
    if (status.releases.length > 0)
      lines.push(
        `  releases: ${status.releases
          .slice(0, 5)
          .map((release) => `${release.version} ${release.status}`)
          .join(', ')}`,
      );
  }
  return lines;
}

/** The step summary of a status: one row a host, what it serves first. */
export function statusSummary(app: string, statuses: readonly HostStatus[]): string {
  const failed = statuses.filter((status) => status.error);
  const title =
    `### ${failed.length > 0 ? '⚠️' : 'ℹ️'} ${app}: status of ${statuses.length} host(s)` +
    `${failed.length > 0 ? `, ${failed.length} could not be read` : ''}`;
  const color = (status: HostStatus, name: 'blue' | 'green'): string => {
    const recorded = status.colors[name];
    return recorded ? `${recorded.version} (${recorded.status})` : '—';
  };
  const rows = statuses.map((status) =>
    status.error
      ? [hostCell(status.host), `cannot be read: ${printable(status.error, 200)}`, '', '', '', '', '']
      : [
          hostCell(status.host),
          (status.served ? formatWeights(status.served) : 'nothing') +
            (status.served && status.file && formatWeights(status.served) !== formatWeights(status.file)
              ? ` (file: ${formatWeights(status.file)})`
              : ''),
          color(status, 'blue'),
          color(status, 'green'),
          status.canary ? `${status.canary.version} at ${status.canary.percent}%` : '—',
          (status.lock
            ? `held by run ${status.lock.runId} (${status.lock.actor}, ${status.lock.phase}), ` +
              `alive ${status.lock.aliveSecondsAgo} s ago`
            : 'free') +
            (status.pending ? `; unfinished ${status.pending.phase} switch of run ${status.pending.runId}` : '') +
            (status.hold ? `; ramp ${holdText(status.hold)}` : ''),
          `${status.rollbackPrevious}; by name: ${status.rollbackTo.join(', ') || '—'}`,
        ],
  );
  return [
    title,
    '',
    table(['host', 'serves', 'blue', 'green', 'canary', 'lock', 'rollback (previous)'], rows),
    '',
    'Read without taking the lock; nothing was changed.',
    '',
  ].join('\n');
}
