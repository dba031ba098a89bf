import {
  CanaryAnalysis,
  runAnalysis,
  type AnalysisResult,
  type MetricSource,
  type Policy,
  type Sample,
  type Verdict,
} from '../analysis';
import type { RolloutEvent } from './events';
import {
  analysisStart,
  batchRemotes,
  buildMetricSources,
  combineSources,
  NginxLogSource,
  readsFromSwitch,
  type SourceOptions,
} from '../analysis/sources';
import { ConfigurationError, printable, settleLimit } from '../action';
import {
  closeSessions,
  firstInLockOrder,
  newReport,
  openSessions,
  switchAll,
  type HostSession,
  type SessionSettings,
  type Work,
} from '../fleet';
import { formatWeights, nginxName, weightsFor } from '../traffic';
import { rollbackSessions, type RollbackResult, type RollbackSettings } from '../rollback';
import { otherColor, type Color } from '../domain';
import type { HostSpec } from '../hosts';

/**
 * Watches a canary (or a ramp of canary shares, or a freshly promoted color) with the analysis
 * engine, and rolls back on its own when the verdict says so. The hosts stay connected and locked
 * for the whole watch, so a rollback is one traffic switch away from the decision.
 */

export interface MonitorSettings extends SessionSettings {
  policy: Policy;
  mode: 'canary' | 'ramp' | 'post-promotion';
  /** Ramp: the canary's share at each step, e.g. [10, 25, 50, 100]; each step is watched for the policy's duration. */
  steps: number[];
  model: boolean;
  /** The metric sources, by their registered names (analysis/sources/registry.ts). */
  sources: string[];
  prometheus: SourceOptions['prometheus'];
  healthPath: string;
  probePath: string;
  probeRequests: number;
  memory: SourceOptions['memory'];
  autoRollback: boolean;
  rollbackOn: Verdict[];
  rollback: Omit<RollbackSettings, keyof SessionSettings | 'target'>;
  onSample?: (sample: Sample, result: AnalysisResult, step: number) => void;
  /** An event at each step (weight advanced, analysis extended, halted, rolled back); awaited. */
  onEvent?: (event: RolloutEvent) => Promise<void> | void;
}

export interface StepOutcome {
  percent: number | null;
  analysis: AnalysisResult;
}

/** `aborted`: stopped before a decision, because a rollback asked for the lock or the run was cancelled. */
export type MonitorVerdict = Verdict | 'aborted';

/** Who asked for a hold and why, from the request file (text from the host: shown through printable). */
function holdText(request: string): string {
  try {
    const parsed = JSON.parse(request) as { actor?: unknown; reason?: unknown };
    return `asked by ${printable(String(parsed.actor ?? '?'))}: ${printable(String(parsed.reason ?? ''), 200)}`;
  } catch {
    return 'an unreadable hold request';
  }
}

/** How often a monitor looks for an abort request from a rollback. */
export const ABORT_POLL_MS = 1000;

export interface MonitorResult {
  verdict: MonitorVerdict;
  reason: string;
  analysis: AnalysisResult;
  steps: StepOutcome[];
  canaryColor: Color;
  stableColor: Color;
  canaryVersion: string | null;
  stableVersion: string | null;
  rollback: RollbackResult | null;
  /** From the decision to traffic restored, when rolled back. */
  rollbackMs: number | null;
  /** With the nginx-log source: the logs read, and how many of their lines were not counted. */
  accessLog?: AccessLogReading;
}

/** What the nginx-log source read: the logs, the lines skipped, and of those the lines not in the agent_loop format. */
export interface AccessLogReading {
  logs: Array<{ host: string; path: string }>;
  skipped: number;
  unformatted: number;
}

/** The logs read, said once when every host has the same path. */
function logsRead(logs: AccessLogReading['logs']): string {
  const paths = [...new Set(logs.map((log) => log.path))];
  return paths.length === 1
    ? `the access log ${paths[0]} (on ${logs.length} host${logs.length === 1 ? '' : 's'})`
    : `the access logs ${logs.map((log) => `${log.path} on ${log.host}`).join(', ')}`;
}

/**
 * Why a canary saw no request although the log grew: its lines are in another format (nginx's
 * combined, from an access_log line without the format name, or another app's log). Said with the
 * log, the count and what to check.
 */
export function wrongLogFormat(app: string, reading: AccessLogReading): string {
  const paths = [...new Set(reading.logs.map((log) => log.path))];
  const path = paths.length === 1 ? paths[0] : '<access-log>';
  return `${logsRead(reading.logs)} had ${reading.unformatted} line${reading.unformatted === 1 ? '' : 's'} not in the agent_loop log format (skipped) and no request of ${app}'s canary: check that the server block that proxies to $${nginxName(app)} writes this file with 'access_log ${path} agent_loop;' (without the format name nginx writes its combined format), and that access-log names that file; host-setup with phase: doctor and app checks both`;
}

/** The sources the settings list, as the source registry builds them (analysis/sources/registry.ts), over one batched remote per host. */
export function buildSources(
  sessions: readonly HostSession[],
  settings: MonitorSettings,
  running: readonly Color[],
  versions: Partial<Record<Color, string>>,
): MetricSource[] {
  // One SSH command per host per interval for every host-side figure, max-parallel hosts at once.
  const batched = batchRemotes(
    sessions.map((session) => session.remote),
    settings.maxParallel,
  );
  return buildMetricSources(settings.sources, {
    app: settings.app,
    hosts: sessions.map((session) => ({
      remote: batched.get(session.remote) ?? session.remote,
      host: session.spec,
      ...(settings.mode === 'canary' && session.state.canary?.logMark ? { logMark: session.state.canary.logMark } : {}),
    })),
    colors: running,
    versions,
    options: {
      healthPath: settings.healthPath,
      probePath: settings.probePath,
      probeRequests: settings.probeRequests,
      memory: settings.memory,
      prometheus: settings.prometheus,
      ...(settings.router ? { router: settings.router } : {}),
    },
  });
}

export async function monitor(hosts: readonly HostSpec[], settings: MonitorSettings): Promise<MonitorResult> {
  const started = settings.clock.now();
  const sessions = await openSessions(
    hosts,
    settings,
    {
      runId: settings.run.runId,
      actor: settings.run.actor,
      version: '(canary)',
      phase: `monitor ${settings.mode}`,
      time: new Date(started).toISOString(),
    },
    {
      // The lock names what is watched once the state says it: the canary's version, or the promoted one's.
      versionFromState: (state) =>
        settings.mode === 'post-promotion'
          ? state.active
            ? state.colors[state.active]?.version
            : null
          : state.canary?.version,
    },
  );
  try {
    return await monitorSessions(sessions, settings);
  } finally {
    await closeSessions(sessions);
  }
}

export async function monitorSessions(
  sessions: readonly HostSession[],
  settings: MonitorSettings,
): Promise<MonitorResult> {
  const first = sessions[0];
  if (!first) throw new ConfigurationError('no hosts to monitor');
  const { state } = first;
  let canaryColor: Color;
  if (settings.mode === 'post-promotion') {
    if (!state.active)
      throw new ConfigurationError(
        `${first.label}: nothing is deployed for ${settings.app}: there is nothing to watch`,
      );
    canaryColor = state.active;
  } else {
    if (!state.canary)
      throw new ConfigurationError(
        `${first.label}: there is no canary of ${settings.app} to watch (run blue-green with phase: deploy first)`,
      );
    canaryColor = state.canary.color;
  }
  for (const session of sessions) {
    const color = settings.mode === 'post-promotion' ? session.state.active : session.state.canary?.color;
    if (color !== canaryColor)
      throw new ConfigurationError(
        `${session.label}: its canary color is ${color ?? 'none'}, but ${first.label}'s is ${canaryColor}: deploy again so every host agrees`,
      );
  }
  const stableColor = otherColor(canaryColor);
  const canaryVersion =
    settings.mode === 'post-promotion' ? (state.colors[canaryColor]?.version ?? null) : (state.canary?.version ?? null);
  const stableVersion = state.colors[stableColor]?.version ?? null;
  const stableRunning = settings.mode !== 'post-promotion' || state.colors[stableColor]?.status === 'running';
  const running: Color[] = stableRunning ? [stableColor, canaryColor] : [canaryColor];
  const versions: Partial<Record<Color, string>> = {};
  if (canaryVersion) versions[canaryColor] = canaryVersion;
  if (stableVersion) versions[stableColor] = stableVersion;

  const built = buildSources(sessions, settings, running, versions);
  const accessLogSource = built.find((item): item is NginxLogSource => item instanceof NginxLogSource);
  const source = combineSources(built);
  const steps: StepOutcome[] = [];
  const plan: Array<number | null> = settings.mode === 'ramp' ? settings.steps : [null];
  let analysis: AnalysisResult | null = null;
  // Stops the analysis at once when a rollback asks for the lock (an abort request on the first
  // host in lock order, which is the one a rollback waits on) or when this run is cancelled.
  const stop = new AbortController();
  let abortedBy: string | null = null;
  const onCancel = () => {
    abortedBy ??= 'the run was cancelled';
    stop.abort();
  };
  settings.signal?.addEventListener('abort', onCancel, { once: true });
  if (settings.signal?.aborted) onCancel();
  const lockFirst = firstInLockOrder(sessions) ?? first;
  await lockFirst.clearAbortRequest();
  const poller = setInterval(() => {
    lockFirst
      .abortRequest()
      .then((request) => {
        if (request === null || stop.signal.aborted) return;
        let who = 'a rollback';
        try {
          const parsed = JSON.parse(request) as { runId?: unknown; actor?: unknown; reason?: unknown };
          who = `rollback run ${printable(String(parsed.runId ?? '?'))} by ${printable(String(parsed.actor ?? '?'))} (${printable(String(parsed.reason ?? ''), 200)})`;
        } catch {
          who = 'a rollback (unreadable request)';
        }
        abortedBy = `aborted by ${who}`;
        settings.log.warn(`analysis stopped: ${abortedBy}; releasing the lock so that the rollback goes ahead`);
        stop.abort();
      })
      .catch(() => undefined);
  }, ABORT_POLL_MS);
  const pending: Array<Promise<void>> = [];
  const emit = async (event: RolloutEvent): Promise<void> => {
    try {
      await settings.onEvent?.(event);
    } catch {
      // An event is for people; it never changes what the monitor does.
    }
  };
  let warned = 0;
  /** One analysis window at the current share. */
  const watch = async (index: number, percent: number | null): Promise<AnalysisResult> => {
    const start =
      settings.mode === 'canary' && readsFromSwitch(settings.sources)
        ? analysisStart(
            sessions.map((session) => ({ ...session.state.canary, accessLog: session.spec.accessLog })),
            settings.clock.now(),
            settings.policy.durationSeconds,
          )
        : settings.clock.now();
    const engine = new CanaryAnalysis(settings.policy, {
      canary: canaryColor,
      stable: stableColor,
      start,
      model: settings.model,
      mode: settings.mode === 'post-promotion' ? 'post-promotion' : 'canary',
    });
    const result = await runAnalysis(source, engine, {
      clock: settings.clock,
      intervalMs: settings.policy.intervalSeconds * 1000,
      onSample: (sample, current) => {
        settings.onSample?.(sample, current, index);
        // An extension shows as a new warning of the engine's: said as an event when it happens.
        for (const warning of current.warnings.slice(warned))
          if (warning.startsWith('extended by'))
            pending.push(
              emit({ kind: 'analysis-extended', message: `analysis of ${canaryVersion ?? canaryColor} ${warning}` }),
            );
        warned = current.warnings.length;
      },
      signal: stop.signal,
    });
    warned = 0;
    steps.push({ percent, analysis: result });
    return result;
  };
  try {
    for (const [index, percent] of plan.entries()) {
      if (stop.signal.aborted) break;
      if (percent !== null) {
        const works: Work[] = sessions.map((session) => ({
          session,
          report: newReport(session, 'ramp'),
          target: canaryColor,
          stable: stableColor,
          before: null,
          moved: false,
          failed: false,
        }));
        const read = await settleLimit(works, settings.maxParallel, async (work) => {
          work.before = (await work.session.router.getWeights())?.weights ?? null;
        });
        const unread = read.find((result) => !result.ok);
        if (unread && !unread.ok) throw unread.error;
        const target = weightsFor(canaryColor, percent);
        // A step at the share every host already serves (the first step, at the deploy's
        // canary-percent) is watched as it is: not switched again, nor announced as an advance.
        const already = works.every(
          (work) =>
            work.before?.blue === target.blue &&
            work.before.green === target.green &&
            work.session.state.canary?.percent === percent,
        );
        if (already) {
          settings.log.info(
            `ramp step ${index + 1}/${plan.length}: ${formatWeights(target)} on ${works.length} host(s), live already`,
          );
        } else {
          const moved = await switchAll(works, settings, `ramp to ${percent}%`, (work) => ({
            weights: target,
            phase: 'ramp',
            recover: 'from',
            ...(work.session.state.canary?.release ? { release: work.session.state.canary.release } : {}),
            commit: (state) => (state.canary ? { ...state, canary: { ...state.canary, percent } } : state),
          }));
          if (!moved)
            throw new Error(
              `the ramp to ${percent}% failed on some host; every host is back on its previous weights: ${works
                .map((work) => work.report.error)
                .filter(Boolean)
                .join('; ')}`,
            );
          settings.log.info(
            `ramp step ${index + 1}/${plan.length}: ${formatWeights(target)} on ${works.length} host(s)`,
          );
          await emit({
            kind: 'weight-advanced',
            message: `${canaryVersion ?? canaryColor} weight advanced to ${percent}% (step ${index + 1} of ${plan.length}) on ${works.length} host${works.length === 1 ? '' : 's'}`,
          });
        }
      }
      analysis = await watch(index, percent);
      if (stop.signal.aborted) break;
      settings.log.info(
        `${percent === null ? 'analysis' : `step ${percent}%`}: ${analysis.verdict}: ${analysis.reason}`,
      );
      if (analysis.verdict !== 'success') break;
      // A hold keeps the ramp at this step, watched window after window, until it is lifted.
      if (percent !== null && index < plan.length - 1) {
        let held = await lockFirst.holdRequest().catch(() => null);
        if (held !== null)
          await emit({
            kind: 'held',
            message: `${canaryVersion ?? canaryColor} held at ${percent}% (${holdText(held)}): watched again before ${plan[index + 1]}%`,
          });
        while (held !== null && !stop.signal.aborted && analysis.verdict === 'success') {
          settings.log.info(
            `ramp held at ${percent}% (${holdText(held)}): watching it for another ${settings.policy.durationSeconds} s`,
          );
          analysis = await watch(index, percent);
          held = await lockFirst.holdRequest().catch(() => null);
        }
        if (stop.signal.aborted || analysis.verdict !== 'success') break;
      }
    }
  } finally {
    clearInterval(poller);
    settings.signal?.removeEventListener('abort', onCancel);
    await source.close?.();
  }
  const final =
    analysis ??
    new CanaryAnalysis(settings.policy, {
      canary: canaryColor,
      stable: stableColor,
      start: settings.clock.now(),
      model: settings.model,
      mode: 'canary',
    }).current(settings.clock.now());
  const accessLog: AccessLogReading | undefined = accessLogSource
    ? { logs: accessLogSource.logs, skipped: accessLogSource.skipped, unformatted: accessLogSource.unformatted }
    : undefined;
  if (accessLog && accessLog.unformatted > 0)
    settings.log.warn(
      `${logsRead(accessLog.logs)}: ${accessLog.unformatted} line${accessLog.unformatted === 1 ? '' : 's'} skipped as not in the agent_loop log format (${accessLog.skipped} skipped in all)`,
    );
  if (abortedBy !== null) {
    return {
      verdict: 'aborted',
      reason: abortedBy,
      analysis: final,
      steps,
      canaryColor,
      stableColor,
      canaryVersion,
      stableVersion,
      rollback: null,
      rollbackMs: null,
      ...(accessLog ? { accessLog } : {}),
    };
  }
  // No canary request, but lines the analysis could not read: the verdict says which log and what to check.
  const reason =
    final.verdict !== 'success' && final.canaryRequests === 0 && accessLog && accessLog.unformatted > 0
      ? `${final.reason}; ${wrongLogFormat(settings.app, accessLog)}`
      : final.reason;
  let rollback: RollbackResult | null = null;
  await Promise.all(pending);
  if (final.verdict === 'success' && plan.at(-1) === 100 && steps.at(-1)?.percent === 100 && abortedBy === null)
    await emit({
      kind: 'promoted',
      message: `${canaryVersion ?? canaryColor} ramped to all traffic: every step passed its analysis`,
    });
  if (final.verdict !== 'success')
    await emit({ kind: 'halted', message: `${canaryVersion ?? canaryColor} halted (${final.verdict}): ${reason}` });
  if (settings.autoRollback && settings.rollbackOn.includes(final.verdict)) {
    // The halted event above gave the reason; the rollback's own outcome follows.
    settings.log.info(`rolling back ${canaryVersion ?? canaryColor} (${final.verdict})`);
    rollback = await rollbackSessions(
      sessions,
      { ...settings, ...settings.rollback, target: { kind: 'previous' }, reason: `${final.verdict}: ${final.reason}` },
      Math.min(final.decidedAt, settings.clock.now()),
    );
    await emit(
      rollback.ok
        ? {
            kind: 'rolled-back',
            message: `rolled back to ${rollback.version ?? stableVersion ?? stableColor}: all traffic back ${((rollback.restoredMs ?? 0) / 1000).toFixed(1)} s after the decision`,
          }
        : {
            kind: 'rollback-failed',
            message: `the automatic rollback of ${canaryVersion ?? canaryColor} failed: ${rollback.error ?? 'see the log'}`,
          },
    );
  }
  return {
    verdict: final.verdict,
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
  };
}
