import { hostsOutcome } from '../rollback';
import type { MonitorResult } from '../procedures';
import { notifySlack } from './notify';
import { announceRollback, type AnnounceOptions } from './incident';
import { rollbackStory, type RollbackContext } from './rollback-report';

/**
 * What a canary monitor's verdict is owed once it is reached: the deployment metrics follow what
 * it did to traffic, a rollback it made is announced as any rollback is (deployment records, the
 * incident, Slack), and a verdict that is not success without one goes to Slack.
 */
export async function concludeMonitor(
  result: MonitorResult,
  options: {
    app: string;
    environment: string;
    mode: string;
    severity: RollbackContext['severity'];
    runUrl: string;
    recordMetrics: (failed: boolean, version: string) => Promise<void>;
    announce: AnnounceOptions;
  },
): Promise<{ incidentUrl: string | null }> {
  // As the rollback action and blue-green write them: a rollback that put a version back is 0 for
  // that version, one that failed is 1; a ramp it promoted is 0; a failed canary left in place is 1.
  if (result.rollback)
    await options.recordMetrics(
      !result.rollback.ok,
      (result.rollback.ok ? result.rollback.version : result.canaryVersion) ?? '',
    );
  else if (options.mode === 'ramp' && result.verdict === 'success')
    await options.recordMetrics(false, result.canaryVersion ?? '');
  else if (result.verdict === 'failure' || result.verdict === 'error')
    await options.recordMetrics(true, result.canaryVersion ?? '');

  if (result.rollback?.ok) {
    // From the decision: the canary version taken out, traffic restored rollbackMs after the verdict.
    const outcome = {
      ...hostsOutcome(result.rollback, result.rollback.durationMs),
      failedVersion: result.canaryVersion,
      restoredMs: result.rollbackMs,
    };
    const announcement = await announceRollback(
      rollbackStory(outcome, {
        app: options.app,
        environment: options.environment,
        trigger: `canary-monitor (${options.mode}): ${result.verdict}`,
        reason: result.reason,
        severity: options.severity,
        figures: result.analysis.rules,
        runUrl: options.runUrl,
        decidedAt: result.analysis.decidedAt,
      }),
      options.announce,
    );
    return { incidentUrl: announcement.incidentUrl };
  }
  if (result.verdict !== 'success') {
    await notifySlack(
      options.announce.slackWebhookUrl,
      {
        event: 'failed',
        title: `${options.app} canary ${result.canaryVersion ?? ''}: ${result.verdict}`,
        fields: { reason: result.reason, environment: options.environment },
        runUrl: options.runUrl,
      },
      options.announce.log.warn,
    );
  }
  return { incidentUrl: null };
}
