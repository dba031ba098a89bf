import { ConfigurationError } from '../action';
import { DEFAULT_ROUTER, formatWeights, type Weights } from '../traffic';
import { commands, parseState, readState, runChecked, updateRelease, withHistory, type AppState } from '../hosts';
import type { HostSession, SessionSettings } from './session';

const sameWeights = (a: Weights | null | undefined, b: Weights | null | undefined): boolean =>
  !!a && !!b && a.blue === b.blue && a.green === b.green;

/** How settle() names what serves the traffic and the router's file, for the router the settings name. */
function trafficWords(router: string | undefined): { server: string; file: string; record: string; why: string } {
  const name = router ?? DEFAULT_ROUTER;
  if (name === 'nginx')
    return {
      server: 'nginx',
      file: 'the nginx include on disk',
      record: 'include',
      why: 'a reload that never took effect',
    };
  if (name === 'haproxy')
    return {
      server: 'HAProxy',
      file: "the HAProxy router's record of its weights",
      record: 'HAProxy weights record',
      why: 'weights set on the admin socket by someone else',
    };
  return {
    server: `router ${name}`,
    file: `router ${name}'s file`,
    record: `router ${name}'s file`,
    why: 'a change that never took effect',
  };
}

/**
 * Settles what a run that died (killed, lost its connection, its disk full) left behind: a traffic
 * change recorded as pending is put on its safe side — back where it was for a deploy, a ramp or a
 * promote; through to the good version for a rollback — and the state then says what the router
 * serves. A router's file that differs from what it serves (nginx: a reload that never took effect;
 * HAProxy: weights someone else set on its socket) is rewritten to what it serves, so the next
 * reload by anyone changes nothing.
 */
export async function settle(session: HostSession, settings: SessionSettings): Promise<void> {
  const { state } = session;
  const view = await session.router.inspect();
  const pending = state.pending;
  if (pending) {
    const target = pending.recover === 'to' || pending.from === null ? pending.to : pending.from;
    if (!sameWeights(view.live?.weights, target)) {
      await session.router.setWeights(target);
    } else if (view.file && !sameWeights(view.file.weights, target)) {
      await session.router.setWeights(target);
    }
    let next: AppState = { ...state, pending: null };
    if (target === pending.to) {
      next = { ...next, active: pending.commit.active, canary: pending.commit.canary };
      for (const change of pending.commit.releases)
        next = updateRelease(next, change.id, {
          status: change.status,
          ...(change.status === 'live'
            ? {
                servedAt:
                  next.releases.find((release) => release.id === change.id)?.servedAt ??
                  new Date(settings.clock.now()).toISOString(),
              }
            : {}),
        });
    } else if (pending.phase === 'deploy' && pending.release) {
      next = updateRelease(next, pending.release, {
        status: 'cancelled',
        endedAt: new Date(settings.clock.now()).toISOString(),
        note: `run ${pending.runId} stopped during its traffic switch`,
      });
      if (next.canary?.release === pending.release) next = { ...next, canary: null };
    }
    const detail =
      `run ${pending.runId}${pending.job ? ` (job ${pending.job})` : ''} left its ${pending.phase} switch ` +
      `(${pending.from ? formatWeights(pending.from) : 'nothing'} → ${formatWeights(pending.to)}) unfinished; ` +
      `${trafficWords(settings.router).server} served ${view.live ? formatWeights(view.live.weights) : 'nothing'}; ` +
      `now ${formatWeights(target)}`;
    next = withHistory(next, {
      time: new Date(settings.clock.now()).toISOString(),
      runId: settings.run.runId,
      actor: settings.run.actor,
      action: 'recover',
      color: pending.to.blue >= pending.to.green ? 'blue' : 'green',
      version: '',
      image: '',
      outcome: 'success',
      detail,
    });
    await session.saveState(next);
    settings.log.warn(`${session.label}: ${detail}`);
    return;
  }
  if (view.live && view.file && !sameWeights(view.live.weights, view.file.weights)) {
    const words = trafficWords(settings.router);
    settings.log.warn(
      `${session.label}: ${words.file} says ${formatWeights(view.file.weights)} ` +
        `but ${words.server} serves ${formatWeights(view.live.weights)} (${words.why}); ` +
        `rewriting it to what ${words.server} serves`,
    );
    await session.router.setWeights(view.live.weights);
    await session.audit(`${words.record} rewritten to what ${words.server} serves`, {
      live: view.live.weights,
      file: view.file.weights,
    });
  }
}

/**
 * Rebuilds a host's state when it is torn or missing: the newest state the audit log recorded,
 * brought in line with what the router serves now. Says what it found.
 */
export async function repairState(session: HostSession, settings: SessionSettings): Promise<AppState> {
  const now = new Date(settings.clock.now()).toISOString();
  const current = await readState(session.remote, session.paths, settings.app, now).then(
    (state) => ({ ok: true as const, state }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (current.ok && current.state.history.length > 0) {
    settings.log.info(`${session.label}: the state file is readable; nothing to repair`);
    return current.state;
  }
  const line = (
    await runChecked(session.remote, commands.lastAuditedState(session.paths.audit), 'reading the audit log')
  ).trim();
  let rebuilt: AppState | null = null;
  if (line) {
    try {
      const record = JSON.parse(line) as { state?: unknown };
      const parsed = parseState(JSON.stringify(record.state), settings.app);
      if (parsed.ok) rebuilt = parsed.state;
    } catch {
      rebuilt = null;
    }
  }
  const view = await session.router.inspect();
  const live = view.live?.weights ?? view.file?.weights ?? null;
  if (!rebuilt) {
    if (!current.ok && !live)
      throw new ConfigurationError(
        `${session.label}: the state file is unreadable and neither the audit log ` +
          `nor ${trafficWords(settings.router).server} says anything about ${settings.app}: ` +
          `remove ${session.paths.state} to start afresh`,
      );
    rebuilt = {
      schema: 2,
      app: settings.app,
      active: null,
      colors: {},
      canary: null,
      releases: [],
      pending: null,
      history: [],
      updatedAt: now,
    };
  }
  let next: AppState = { ...rebuilt, pending: null };
  const found: string[] = [line ? `the audit log's last state (${rebuilt.updatedAt})` : 'no state in the audit log'];
  if (live) {
    const major = live.blue >= live.green ? 'blue' : 'green';
    const minor = major === 'blue' ? 'green' : 'blue';
    found.push(`${trafficWords(settings.router).server} serves ${formatWeights(live)}`);
    if (live[minor] === 0) next = { ...next, active: major, canary: null };
    else if (next.canary?.color === minor)
      next = { ...next, active: major, canary: { ...next.canary, percent: live[minor] } };
    else next = { ...next, active: major, canary: null };
    if (rebuilt.pending && !sameWeights(rebuilt.pending.to, live))
      found.push('a pending switch that never took effect was dropped');
  }
  next = withHistory(next, {
    time: now,
    runId: settings.run.runId,
    actor: settings.run.actor,
    action: 'repair',
    color: next.active ?? 'blue',
    version: '',
    image: '',
    outcome: 'success',
    detail: `rebuilt from ${found.join('; ')}`,
  });
  await session.saveState(next);
  settings.log.warn(
    `${session.label}: state rebuilt from ${found.join('; ')}: active ${next.active ?? 'none'}` +
      `${next.canary ? `, canary ${next.canary.version} at ${next.canary.percent}%` : ''}`,
  );
  return next;
}
