import { codeBlock } from '../action';
import type { RollbackOutcome } from '../rollback';
import {
  announceRollback,
  restoredLine,
  type AnnounceOptions,
  type Announcement,
  type RollbackStory,
} from './incident';
import { headline } from './headline';
import { phaseSummary } from './phase-summary';

/**
 * What follows a rollback, whichever method did it and whoever decided it (a person, or the
 * canary monitor): the story told in the incident and Slack, the deployment records, the summary.
 */

/** A rule's figures as the canary monitor gives them (its `rules` output), or as the analysis holds them. */
export interface ReportedFigure {
  name: string;
  observed: string | number | null;
  threshold: string | number;
  windowSeconds?: number;
  window?: string;
  status: string;
}

export function figureRows(figures: readonly ReportedFigure[]): RollbackStory['figures'] {
  return figures.map((figure) => ({
    name: figure.name,
    observed: figure.observed === null ? '—' : String(figure.observed),
    threshold: String(figure.threshold),
    window: figure.window ?? (figure.windowSeconds !== undefined ? `${figure.windowSeconds} s` : ''),
    status: figure.status,
  }));
}

export interface RollbackContext {
  app: string;
  environment: string;
  trigger: string;
  reason: string;
  severity: RollbackStory['severity'];
  figures: readonly ReportedFigure[];
  runUrl: string;
  /** When the rollback was decided (ms since the epoch). */
  decidedAt: number;
}

/** The story of a rollback from its outcome. */
export function rollbackStory(outcome: RollbackOutcome, context: RollbackContext): RollbackStory {
  return {
    app: context.app,
    environment: context.environment,
    trigger: context.trigger,
    reason: context.reason,
    severity: context.severity,
    failedVersion: outcome.failedVersion,
    targetVersion: outcome.version,
    restoredMs: outcome.restoredMs,
    durationMs: outcome.durationMs,
    figures: figureRows(context.figures),
    hosts: outcome.hosts,
    runUrl: context.runUrl,
    decidedAt: context.decidedAt,
    ...(outcome.ok ? {} : { error: outcome.error ?? 'the rollback failed' }),
    ...(outcome.candidates.length > 0 ? { candidates: outcome.candidates } : {}),
  };
}

const NOTHING: Announcement = { incidentUrl: null, deploymentId: null, notified: false };

/** Announces a rollback that did something (a failed one too: the deployment marked, the incident opened, Slack told); a no-op is not news. */
export async function announceOutcome(
  outcome: RollbackOutcome,
  context: RollbackContext,
  options: AnnounceOptions,
): Promise<Announcement> {
  return outcome.noop ? NOTHING : announceRollback(rollbackStory(outcome, context), options);
}

/** The step summary of a rollback: the hosts' own table when it ran on hosts, the method's words otherwise, then how long traffic took to come back. */
export function rollbackSummary(
  outcome: RollbackOutcome,
  context: { app: string; reason: string; trigger: string; actor: string },
  incidentUrl: string | null,
): string {
  const note = outcome.noop
    ? `Nothing to roll back: ${outcome.version} already serves all traffic.`
    : outcome.ok
      ? restoredLine(outcome.restoredMs)
      : 'The rollback failed; traffic stays where it was.';
  const summary = outcome.onHosts
    ? phaseSummary(context.app, outcome.onHosts, {
        reason: context.reason,
        trigger: context.trigger,
        actor: context.actor,
        incidentUrl,
        candidates: outcome.candidates,
      })
    : `${headline(context.app, {
        ok: outcome.ok,
        title: `${outcome.what} ${outcome.ok ? 'done' : 'failed'}`,
        verdict: [`trigger: ${context.trigger}`, `by ${context.actor}`, `reason: ${context.reason}`].join('; '),
        done: outcome.ok ? `rolled back to ${outcome.version ?? '?'}` : 'the rollback did not complete: see below',
        incidentUrl,
        next: outcome.ok
          ? ['Find why the release failed before deploying it again.']
          : ['Read the error below, fix it and re-run the rollback.'],
      })}${outcome.error ? `\n${codeBlock(outcome.error)}\n` : ''}`;
  return `${summary}\n${note}\n`;
}

/** Why a rollback failed, with the versions one can name instead. */
export function rollbackFailure(outcome: RollbackOutcome): string {
  const others =
    outcome.candidates.length > 0
      ? `\nVersions one can roll back to by name (target-version): ${outcome.candidates.join(', ')}`
      : '';
  return `${outcome.error ?? 'rollback failed'}${others}`;
}
