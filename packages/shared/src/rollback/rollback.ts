import { settleLimit } from '../action';
import type { Runtime } from '../runtime';
import {
  closeSessions,
  failedHosts,
  newReport,
  onEveryHost,
  openSessions,
  summarize,
  switchAll,
  type HostSession,
  type PhaseResult,
  type SessionSettings,
} from '../fleet';
import { rollbackCandidates, script, type HostSpec } from '../hosts';
import type { RuntimeRecord } from '../domain';
import type { RollbackTarget } from './plan';
import { planOnHost, type RollbackWork } from './plan-host';
import { prepareRollback, rollbackSwitch, stopFailed } from './restore-host';

/**
 * Rollback on hosts with nginx: traffic back to the last good version (or a named one). A color
 * that still runs it takes the traffic at once; a stopped one is started from its recorded image,
 * checked, then switched to. All or nothing across hosts, like every traffic move. A canary
 * monitor that holds the lock is asked to stop, so a rollback never waits for an analysis.
 */

export interface RollbackSettings extends SessionSettings {
  target: RollbackTarget;
  reason: string;
  /**
   * The runtime the inputs name, used for every color; null when they name none: each color is
   * stopped and started with the runtime recorded with the release it runs (`recordedRuntime`).
   */
  runtime: Runtime | null;
  /** Builds a runtime recorded with a release (settings/: checked with the runtime's own input fields); throws when the record does not pass. */
  recordedRuntime?: (record: RuntimeRecord) => Runtime;
  healthPaths: string[];
  healthTimeoutSeconds: number;
  /** Keep the failed color running for inspection instead of stopping it. */
  keepFailed: boolean;
  commandTimeoutSeconds: number;
}

export interface RollbackResult extends PhaseResult {
  /** Nothing to roll back on any host: already serving the target. */
  noop: boolean;
  /** From `since` (the decision, or the start of the rollback) until every host serves the target. */
  restoredMs: number | null;
  failedVersion: string | null;
  /** Versions one can roll back to by name (image known), newest first, from the first host. */
  candidates: string[];
  /** Set when a monitor that held the lock was asked to stop (ms from the request until the lock was ours). */
  abortedMonitorMs: number | null;
}

/**
 * A rollback that meets a canary monitor holding the lock asks it to stop (an abort request file
 * next to the lock) and waits for it, however lock-wait-seconds is set: an abort must never wait
 * for an analysis window to end.
 */
export const ABORT_WAIT_SECONDS = 30;

export async function rollback(
  hosts: readonly HostSpec[],
  settings: RollbackSettings,
  since?: number,
): Promise<RollbackResult> {
  const started = since ?? settings.clock.now();
  let abortRequestedAt: number | null = null;
  const sessions = await openSessions(
    hosts,
    settings,
    {
      runId: settings.run.runId,
      actor: settings.run.actor,
      version: settings.target.kind === 'version' ? settings.target.version : '(previous)',
      phase: 'rollback',
      time: new Date(started).toISOString(),
    },
    {
      onHeld: async (remote, paths, holder) => {
        if (!holder?.phase?.startsWith('monitor')) return 0;
        abortRequestedAt ??= settings.clock.now();
        settings.log.warn(
          `${remote.label}: canary-monitor run ${holder.runId ?? '?'} holds the lock: asking it to stop so that this rollback goes ahead`,
        );
        const request = JSON.stringify({
          runId: settings.run.runId,
          actor: settings.run.actor,
          reason: settings.reason,
          time: new Date(settings.clock.now()).toISOString(),
        });
        await remote.run(
          script(
            'al-abort',
            'set -e; tmp=$(mktemp "$(dirname "$1")/.abort.XXXXXXXX"); cat > "$tmp"; chmod 644 "$tmp"; mv -f "$tmp" "$1"',
            [paths.abort],
          ),
          { stdin: request },
        );
        return ABORT_WAIT_SECONDS;
      },
    },
  );
  const abortedMonitorMs = abortRequestedAt === null ? null : settings.clock.now() - abortRequestedAt;
  try {
    if (abortRequestedAt !== null) await Promise.all(sessions.map((session) => session.clearAbortRequest()));
    const result = await rollbackSessions(sessions, settings, started);
    return { ...result, abortedMonitorMs };
  } finally {
    await closeSessions(sessions);
  }
}

/** Rolls back on hosts that are already connected and locked (the canary monitor keeps them open, so a rollback is only a switch away). */
export async function rollbackSessions(
  sessions: readonly HostSession[],
  settings: RollbackSettings,
  since: number,
): Promise<RollbackResult> {
  const works: RollbackWork[] = sessions.map((session) => ({
    session,
    report: newReport(session, 'rollback'),
    target: 'blue',
    stable: null,
    before: null,
    moved: false,
    failed: false,
  }));
  const candidates = sessions[0] ? rollbackCandidates(sessions[0].state).map((release) => release.version) : [];

  // 1. Every host: plan, with the runtimes it needs (a host that cannot say how to stop or start a
  // color refuses here, before any host is touched); then start the target color when it is not
  // running. No traffic moves yet.
  const prepared =
    (await onEveryHost(works, settings, (work) => planOnHost(work, settings))) &&
    (await onEveryHost(works, settings, (work) => prepareRollback(work, settings)));
  const planned = works.find((work) => work.plan?.rejected)?.plan;
  const finish = (ok: boolean, error?: string, restoredMs: number | null = null): RollbackResult => ({
    ...summarize('rollback', works, ok, since, settings, ok ? 100 : 0, error),
    noop: works.every((work) => work.plan?.noop),
    restoredMs,
    failedVersion: planned?.rejected?.version ?? null,
    candidates,
    abortedMonitorMs: null,
  });
  if (!prepared) return finish(false, `nothing was rolled back, because:\n${failedHosts(works)}`);

  // 2. All traffic to the target on every host, or back where it was. A rollback is never undone
  // for a cancel: it is the way to safety.
  const pending = works.filter((work) => !work.plan?.noop);
  if (pending.length === 0) {
    settings.log.info(`every host already serves ${works[0]?.plan?.version}: nothing to roll back`);
    return finish(true, undefined, 0);
  }
  const moved = await switchAll(pending, settings, 'switch traffic back', (work) =>
    rollbackSwitch(work as RollbackWork, settings),
  );
  if (!moved)
    return finish(
      false,
      `the rollback could not switch every host; each is back on the weights it had:\n${failedHosts(pending)}`,
    );
  const restoredMs = settings.clock.now() - since;
  settings.log.info(
    `traffic restored to ${works[0]?.plan?.version} on ${pending.length} host(s) ${restoredMs} ms after the decision`,
  );

  // 3. Stop the failed color unless it is kept for inspection.
  await settleLimit(pending, settings.maxParallel, (work) => stopFailed(work, settings));
  for (const work of pending) work.report.outcome = 'success';
  return finish(true, undefined, restoredMs);
}
