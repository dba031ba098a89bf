import { errorMessage, terminalJson } from '@agent-loop/shared/action';
import { setHold } from '@agent-loop/shared/fleet';
import { lockHolder } from '@agent-loop/shared/hosts';
import { reasonField } from '@agent-loop/shared/inputs';
import { define, hostFields, HOSTS_EXAMPLE, type Context } from './command';
import { ExitCode } from './exit-codes';
import { readFleet, type FleetStatus } from './status';
import { Refusal, terminal } from './terminal';

/**
 * Hold and resume: a file next to the lock on every host asks a ramp to stay at its step, or lets
 * it go on. Neither takes the lock. With --json, stdout holds one object of a fixed shape, every
 * key always present: `app`, `ok`, `refused`, `error` (null or why not ok), `hosts` (the hosts the
 * request was written on or removed from), then hold's `held`, `reason`, `canary` and `ramp`, or
 * resume's `resumed` and `holds` (the holds it found, each with its host, actor, reason and since).
 */

type Hold = NonNullable<FleetStatus[number]['hold']>;

interface HoldJson {
  app: string;
  ok: boolean;
  refused: boolean;
  error: string | null;
  hosts: string[];
  held: boolean;
  reason: string;
  canary: { version: string; percent: number } | null;
  ramp: { runId: string; actor: string } | null;
}

interface ResumeJson {
  app: string;
  ok: boolean;
  refused: false;
  error: string | null;
  hosts: string[];
  resumed: boolean;
  holds: Array<{ host: string } & Hold>;
}

const writeJson = (context: Context, value: HoldJson | ResumeJson): void => {
  if (context.json) process.stdout.write(`${terminalJson(value)}\n`);
};

/** Hosts whose state could not be read: a warning each (stderr, even with --json). */
function unreadable(statuses: FleetStatus): FleetStatus {
  const unread = statuses.filter((one) => one.error);
  for (const one of unread) terminal.warn(`${one.host}: cannot be read: ${one.error}`);
  return unread;
}

export const holdCommand = define({
  name: 'hold',
  summary:
    'keeps a ramp at its current step: the monitor watches the step window after window, still ready to roll back, ' +
    'until agent-loop resume; refuses when no host runs a canary; takes no lock',
  usage: 'hold [--reason TEXT] [--json] [options]',
  example: `agent-loop hold --reason "waiting for the ops review" ${HOSTS_EXAMPLE}`,
  action: 'canary-monitor',
  fields: { ...hostFields, reason: reasonField('held from the command line') },
  descriptions: {
    reason:
      "Why the ramp is held: kept in the hold request on every host, shown by status and in the monitor's held event.",
  },
  run: async (inputs, context) => {
    // Read first (no lock): a hold with no canary would wait, unseen, for a ramp nobody started.
    const { session, statuses } = await readFleet(inputs, context);
    const outcome: HoldJson = {
      app: inputs.app,
      ok: false,
      refused: false,
      error: null,
      hosts: [],
      held: false,
      reason: inputs.reason,
      canary: null,
      ramp: null,
    };
    const unread = unreadable(statuses);
    if (unread.length > 0) {
      terminal.warn('nothing was held');
      writeJson(context, { ...outcome, error: `${unread.map((one) => one.host).join(', ')}: cannot be read` });
      return ExitCode.failed;
    }
    const without = statuses.filter((one) => !one.canary);
    if (without.length > 0) {
      const serving = (one: FleetStatus[number]) =>
        one.active ? `${one.colors[one.active]?.version ?? one.active} serves all traffic` : 'nothing is deployed';
      const refused = new Refusal(
        without.length === statuses.length
          ? `there is no canary or ramp to hold: ${[...new Set(without.map(serving))].join('; ')}`
          : `${without.map((one) => `${one.host}: no canary (${serving(one)})`).join('; ')}; ` +
              'the others run one: deploy again so every host agrees',
      );
      writeJson(context, { ...outcome, refused: true, error: refused.message });
      throw refused;
    }
    const written = await setHold(context.hosts, session, { reason: inputs.reason });
    const canary = statuses[0]!.canary!;
    const lock = statuses[0]!.lock;
    const ramp = lock?.phase === 'monitor ramp' ? { runId: lock.runId, actor: lock.actor } : null;
    writeJson(context, {
      ...outcome,
      ok: true,
      hosts: written,
      held: true,
      canary: { version: canary.version, percent: canary.percent },
      ramp,
    });
    if (context.json) return ExitCode.ok;
    const ramping = ramp
      ? `${lockHolder(lock!.phase)} run ${ramp.runId} keeps it there after its current window`
      : 'no ramp runs on it now: one started later stays at its first step';
    terminal.info(
      `hold requested on ${written.length} host(s): ${canary.version} at ${canary.percent}% stays at its current step, ` +
        `watched, until agent-loop resume; ${ramping}`,
    );
    return ExitCode.ok;
  },
});

/** Each distinct hold once (the same request is written on every host), with how many hosts had it. */
function distinctHolds(holds: ResumeJson['holds']): Array<{ hold: Hold; hosts: number }> {
  const found = new Map<string, { hold: Hold; hosts: number }>();
  for (const { host: _host, ...hold } of holds) {
    const key = JSON.stringify([hold.actor, hold.since, hold.reason]);
    const seen = found.get(key);
    if (seen) seen.hosts += 1;
    else found.set(key, { hold, hosts: 1 });
  }
  return [...found.values()];
}

export const resumeCommand = define({
  name: 'resume',
  summary:
    'lifts a hold: a held ramp goes on after its current window; says whose hold it lifted, or that none was set',
  usage: 'resume [--json] [options]',
  example: `agent-loop resume ${HOSTS_EXAMPLE}`,
  action: 'canary-monitor',
  fields: { ...hostFields },
  run: async (inputs, context) => {
    const { session, statuses } = await readFleet(inputs, context);
    const holds = statuses.flatMap((one) => (one.hold ? [{ host: one.host, ...one.hold }] : []));
    const unread = unreadable(statuses);
    const outcome: ResumeJson = {
      app: inputs.app,
      ok: true,
      refused: false,
      error: null,
      hosts: [],
      resumed: false,
      holds,
    };
    // Every host read and none holds: nothing to lift, nothing written.
    if (unread.length === 0 && holds.length === 0) {
      writeJson(context, outcome);
      if (!context.json)
        terminal.info(`nothing to resume: no hold was set on the ${statuses.length} host(s); nothing was changed`);
      return ExitCode.ok;
    }
    // A host that could not be read may still hold a request: removing it is harmless, so it is tried everywhere.
    let written: string[];
    try {
      written = await setHold(context.hosts, session, null);
    } catch (error) {
      // Said on stderr as any other failure (exit 1); with --json, the object says it too.
      writeJson(context, { ...outcome, ok: false, error: errorMessage(error) });
      throw error;
    }
    writeJson(context, { ...outcome, hosts: written, resumed: holds.length > 0 });
    if (context.json) return ExitCode.ok;
    for (const { hold, hosts } of distinctHolds(holds))
      terminal.info(
        `resumed: the hold set by ${hold.actor} at ${hold.since}${hold.reason ? ` (${hold.reason})` : ''} ` +
          `is lifted on ${hosts} host(s); a held ramp goes on after its current window`,
      );
    if (holds.length === 0)
      terminal.info(
        `nothing to resume on the hosts that could be read: no hold was set there; ` +
          `a hold request, if any, was removed from all ${written.length} host(s)`,
      );
    return ExitCode.ok;
  },
});
