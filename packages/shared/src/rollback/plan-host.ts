import { ConfigurationError, errorMessage } from '../action';
import type { Runtime } from '../runtime';
import { readLive, type Work } from '../fleet';
import type { AppState } from '../hosts';
import { COLORS, type Color, type ReleaseRecord } from '../domain';
import { planRollback, type RollbackPlan } from './plan';
import type { RollbackSettings } from './rollback';

/**
 * Each host's rollback, before anything is touched: both colors' health read with the live
 * weights, the plan, and the runtimes it needs to stop and start colors (refused here when a host
 * cannot say which).
 */

export interface RollbackWork extends Work {
  plan?: RollbackPlan;
  /** Both colors' health answers, read with the live weights. */
  health?: Record<string, number>;
  /** The runtimes this host's rollback uses, resolved before anything is touched. */
  runtimes?: { stopTarget?: Runtime; start?: Runtime; stopFailed?: Runtime };
}

/** The release a color runs as the state has it: the newest of its version and image (deployed to that color first). */
function releaseOf(state: AppState, color: Color): ReleaseRecord | undefined {
  const held = state.colors[color];
  if (!held) return undefined;
  const newestFirst = [...state.releases]
    .reverse()
    .filter((release) => release.version === held.version && release.image === held.image);
  return newestFirst.find((release) => release.color === color) ?? newestFirst[0];
}

const PASS_RUNTIME =
  'pass the runtime inputs it runs with: runtime: command with start-command and stop-command, ' +
  'or runtime: compose with compose-file ' +
  '(agent-loop: --runtime command --start-command … --stop-command …, or --runtime compose --compose-file …)';

/**
 * The runtime that stops or starts a color: the one the inputs name, else the one recorded with the
 * release it runs (or is to run). Neither known: refused, never a stop claimed with a guess.
 */
function runtimeFor(
  settings: RollbackSettings,
  host: string,
  doing: string,
  release: ReleaseRecord | undefined,
): Runtime {
  if (settings.runtime) return settings.runtime;
  if (!release?.runtime || !settings.recordedRuntime) {
    throw new ConfigurationError(
      `${host}: cannot ${doing}: no runtime input names one and its release records none (deployed before runtimes were recorded); ${PASS_RUNTIME}`,
    );
  }
  try {
    return settings.recordedRuntime(release.runtime);
  } catch (error) {
    throw new ConfigurationError(`${host}: cannot ${doing}: ${errorMessage(error)}; ${PASS_RUNTIME}`);
  }
}

export const healthUrl = (port: number, path: string): string => `http://127.0.0.1:${port}${path}`;

export async function planOnHost(work: RollbackWork, settings: RollbackSettings): Promise<void> {
  const { session } = work;
  // Both colors' health is probed with the weights, in the same command: a rollback to a color that
  // runs and answers needs no second round trip before the switch.
  work.health = await readLive(
    work,
    settings,
    COLORS.flatMap((color) => settings.healthPaths.map((path) => healthUrl(session.port(color), path))),
  );
  const plan = planRollback(session.state, work.before, settings.target, session.label);
  work.plan = plan;
  if (plan.noop) return;
  const { state } = session;
  const runtimes: NonNullable<RollbackWork['runtimes']> = {};
  if (plan.start) {
    const restored =
      plan.release && plan.release.version === plan.version && plan.release.image === plan.image
        ? plan.release
        : [...state.releases]
            .reverse()
            .find((release) => release.version === plan.version && release.image === plan.image);
    runtimes.start = runtimeFor(settings, session.label, `start ${plan.target} (${plan.version})`, restored);
    const holder = state.colors[plan.target];
    runtimes.stopTarget = holder
      ? runtimeFor(settings, session.label, `stop ${plan.target} (${holder.version})`, releaseOf(state, plan.target))
      : runtimes.start;
  }
  const failed = plan.failed ? state.colors[plan.failed] : undefined;
  if (plan.failed && failed && failed.status !== 'stopped' && !settings.keepFailed) {
    runtimes.stopFailed = runtimeFor(
      settings,
      session.label,
      `stop ${plan.failed} (${failed.version})`,
      releaseOf(state, plan.failed),
    );
  }
  work.runtimes = runtimes;
}
