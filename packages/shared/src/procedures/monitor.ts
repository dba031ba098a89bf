import { CanaryAnalysis, runAnalysis, type AnalysisResult } from '../analysis';
import { analysisStart, combineSources, readsFromSwitch } from '../analysis/sources';
import { ConfigurationError } from '../action';
import { closeSessions, firstInLockOrder, openSessions, type HostSession } from '../fleet';
import { otherColor, type Color } from '../domain';
import type { HostSpec } from '../hosts';
import type { RolloutEvent } from './events';
import { advanceRamp } from './monitor-ramp';
import { abortRequester, holdText, watchAbortRequest } from './monitor-requests';
import { accessLogReading, buildSources } from './monitor-sources';
import type { MonitorResult, MonitorSettings, StepOutcome, Watched } from './monitor-types';
import { concludeWatch } from './monitor-verdict';

/**
 * Watches a canary (or a ramp of canary shares, or a freshly promoted color) with the analysis
 * engine, and rolls back on its own when the verdict says so. The hosts stay connected and locked
 * for the whole watch, so a rollback is one traffic switch away from the decision. Beside this
 * module: its settings and result (`monitor-types.ts`), its sources (`monitor-sources.ts`), the
 * abort and hold requests it answers (`monitor-requests.ts`), the ramp's steps (`monitor-ramp.ts`)
 * and how a watch ends (`monitor-verdict.ts`).
 */

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

/** The colors and versions watched, from the first host's state; refused unless every host agrees. */
function watchedColors(sessions: readonly HostSession[], settings: MonitorSettings): Watched {
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
        `${session.label}: its canary color is ${color ?? 'none'}, but ${first.label}'s is ${canaryColor}: ` +
          'deploy again so every host agrees',
      );
  }
  const stableColor = otherColor(canaryColor);
  const canaryVersion =
    settings.mode === 'post-promotion' ? (state.colors[canaryColor]?.version ?? null) : (state.canary?.version ?? null);
  const stableVersion = state.colors[stableColor]?.version ?? null;
  const stableRunning = settings.mode !== 'post-promotion' || state.colors[stableColor]?.status === 'running';
  const versions: Partial<Record<Color, string>> = {};
  if (canaryVersion) versions[canaryColor] = canaryVersion;
  if (stableVersion) versions[stableColor] = stableVersion;
  return {
    canaryColor,
    stableColor,
    canaryVersion,
    stableVersion,
    running: stableRunning ? [stableColor, canaryColor] : [canaryColor],
    versions,
  };
}

export async function monitorSessions(
  sessions: readonly HostSession[],
  settings: MonitorSettings,
): Promise<MonitorResult> {
  const watched = watchedColors(sessions, settings);
  const { canaryColor, stableColor, canaryVersion } = watched;
  const built = buildSources(sessions, settings, watched.running, watched.versions);
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
  const stopped = new Promise<void>((resolve) =>
    stop.signal.addEventListener('abort', () => resolve(), { once: true }),
  );
  settings.signal?.addEventListener('abort', onCancel, { once: true });
  if (settings.signal?.aborted) onCancel();
  const lockFirst = firstInLockOrder(sessions) ?? (sessions[0] as HostSession);
  await lockFirst.clearAbortRequest();
  const abortWatch = watchAbortRequest(lockFirst, settings.clock, (request) => {
    if (stop.signal.aborted) return;
    abortedBy = `aborted by ${abortRequester(request)}`;
    settings.log.warn(`analysis stopped: ${abortedBy}; releasing the lock so that the rollback goes ahead`);
    stop.abort();
  });
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
    const timing = { clock: settings.clock, intervalMs: settings.policy.intervalSeconds * 1000 };
    const running = runAnalysis(source, engine, {
      ...timing,
      onSample: (sample, current) => {
        // A sample that lands after a stop is not said: the watch has ended.
        if (stop.signal.aborted) return;
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
    running.catch(() => undefined);
    // Stopped: the figures so far at once, without waiting for a sample still on its way, so that the
    // lock goes sooner (runAnalysis on a stopped signal samples nothing and says where it stopped).
    const result = await Promise.race([
      running,
      stopped.then(() => runAnalysis(source, engine, { ...timing, signal: stop.signal })),
    ]);
    warned = 0;
    steps.push({ percent, analysis: result });
    return result;
  };
  try {
    for (const [index, percent] of plan.entries()) {
      if (stop.signal.aborted) break;
      if (percent !== null)
        await advanceRamp(sessions, settings, watched, { percent, index, count: plan.length }, emit);
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
    abortWatch.stop();
    settings.signal?.removeEventListener('abort', onCancel);
    await source.close?.();
  }
  return concludeWatch(sessions, settings, {
    ...watched,
    analysis,
    steps,
    plan,
    abortedBy,
    accessLog: accessLogReading(built),
    pending,
    emit,
  });
}
