import { CanaryAnalysis, type AnalysisResult } from '../analysis';
import type { HostSession } from '../fleet';
import { rollbackSessions, type RollbackResult } from '../rollback';
import type { RolloutEvent } from './events';
import { logsRead, wrongLogFormat } from './monitor-sources';
import type { AccessLogReading, MonitorResult, MonitorSettings, StepOutcome, Watched } from './monitor-types';

/** How a watch ends: its verdict, the events that say it, and the rollback it makes on its own. */

export interface Watch extends Watched {
  /** The last window's analysis; null when none ran (stopped before the first). */
  analysis: AnalysisResult | null;
  steps: StepOutcome[];
  plan: Array<number | null>;
  /** Why the watch was stopped before a decision (a rollback's abort request, a cancel); null when it was not. */
  abortedBy: string | null;
  accessLog: AccessLogReading | undefined;
  /** Events said while watching, not yet delivered. */
  pending: Array<Promise<void>>;
  emit: (event: RolloutEvent) => Promise<void>;
}

export async function concludeWatch(
  sessions: readonly HostSession[],
  settings: MonitorSettings,
  watch: Watch,
): Promise<MonitorResult> {
  const { canaryColor, stableColor, canaryVersion, stableVersion, steps, plan, abortedBy, accessLog, emit } = watch;
  const final =
    watch.analysis ??
    new CanaryAnalysis(settings.policy, {
      canary: canaryColor,
      stable: stableColor,
      start: settings.clock.now(),
      model: settings.model,
      mode: 'canary',
    }).current(settings.clock.now());
  if (accessLog && accessLog.unformatted > 0)
    settings.log.warn(
      `${logsRead(accessLog.logs)}: ${accessLog.unformatted} line${accessLog.unformatted === 1 ? '' : 's'} ` +
        `skipped as not in the agent_loop log format (${accessLog.skipped} skipped in all)`,
    );
  // The same fields in the same order whatever the verdict (the command line prints them as JSON).
  const result = (
    verdict: MonitorResult['verdict'],
    reason: string,
    rollback: RollbackResult | null,
  ): MonitorResult => ({
    verdict,
    reason,
    analysis: final,
    steps,
    canaryColor,
    stableColor,
    canaryVersion,
    stableVersion,
    rollback,
    rollbackMs: rollback?.ok ? rollback.restoredMs : null,
    ...(accessLog ? { accessLog } : {}),
  });
  if (abortedBy !== null) return result('aborted', abortedBy, null);
  // No canary request, but lines the analysis could not read: the verdict says which log and what to check.
  const reason =
    final.verdict !== 'success' && final.canaryRequests === 0 && accessLog && accessLog.unformatted > 0
      ? `${final.reason}; ${wrongLogFormat(settings.app, accessLog)}`
      : final.reason;
  let rollback: RollbackResult | null = null;
  await Promise.all(watch.pending);
  const what = canaryVersion ?? canaryColor;
  if (final.verdict === 'success' && plan.at(-1) === 100 && steps.at(-1)?.percent === 100)
    await emit({ kind: 'promoted', message: `${what} ramped to all traffic: every step passed its analysis` });
  if (final.verdict !== 'success')
    await emit({ kind: 'halted', message: `${what} halted (${final.verdict}): ${reason}` });
  if (settings.autoRollback && settings.rollbackOn.includes(final.verdict)) {
    // The halted event above gave the reason; the rollback's own outcome follows.
    settings.log.info(`rolling back ${what} (${final.verdict})`);
    rollback = await rollbackSessions(
      sessions,
      { ...settings, ...settings.rollback, target: { kind: 'previous' }, reason: `${final.verdict}: ${final.reason}` },
      Math.min(final.decidedAt, settings.clock.now()),
    );
    const back = ((rollback.restoredMs ?? 0) / 1000).toFixed(1);
    await emit(
      rollback.ok
        ? {
            kind: 'rolled-back',
            message: `rolled back to ${rollback.version ?? stableVersion ?? stableColor}: all traffic back ${back} s after the decision`,
          }
        : {
            kind: 'rollback-failed',
            message: `the automatic rollback of ${what} failed: ${rollback.error ?? 'see the log'}`,
          },
    );
  }
  return result(final.verdict, reason, rollback);
}
