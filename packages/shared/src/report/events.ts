import { bestEffort, setDeploymentStatus, type GitHubContext } from '../github';
import { notifySlack, type Notice } from './notify';
import type { RolloutEvent, RolloutEventKind } from '../procedures';

/**
 * The events of a rollout (procedures/events.ts), told: each goes to the log as an annotation where
 * it matters, to Slack when a webhook is given, and to the GitHub deployment as a status description.
 */
export type { RolloutEvent, RolloutEventKind };

/** How each event shows in the log: an extension is a warning annotation, a halt an error one. */
export const EVENT_LEVEL: Record<RolloutEventKind, 'notice' | 'warning' | 'error'> = {
  'canary-started': 'notice',
  'weight-advanced': 'notice',
  held: 'warning',
  'analysis-extended': 'warning',
  halted: 'error',
  'rolled-back': 'warning',
  'rollback-failed': 'error',
  promoted: 'notice',
};

const SLACK_EVENT: Record<RolloutEventKind, Notice['event']> = {
  'canary-started': 'started',
  'weight-advanced': 'started',
  held: 'started',
  'analysis-extended': 'started',
  halted: 'failed',
  'rolled-back': 'rolled-back',
  'rollback-failed': 'failed',
  promoted: 'completed',
};

export interface Annotator {
  notice(message: string): void;
  warning(message: string): void;
  error(message: string): void;
}

export interface EventSinkOptions {
  app: string;
  environment: string;
  annotate: Annotator;
  /** Kinds that also go to Slack (an action that already says the same in its own message leaves it out). */
  slack?: { webhookUrl: string; kinds: readonly RolloutEventKind[]; runUrl?: string };
  /** The GitHub deployment whose status description follows the events that are not its end. */
  deployment?: { context: GitHubContext; id: number; logUrl: string } | null;
  /**
   * Kinds written as a plain log line instead of an annotation, because the step's own outcome
   * says the same once it ends (a failed monitor's error names the verdict's reason and the
   * rollback): each reason is then one annotation, not three.
   */
  logOnly?: { kinds: readonly RolloutEventKind[]; log: (message: string) => void };
  warn: (message: string) => void;
}

/** Events that end a deployment set its final status elsewhere (success or failure), not here. */
const IN_PROGRESS: readonly RolloutEventKind[] = [
  'canary-started',
  'weight-advanced',
  'held',
  'analysis-extended',
  'halted',
];

/** Sends each event everywhere it belongs; never throws (a lost message is a warning). */
export function rolloutEvents(options: EventSinkOptions): (event: RolloutEvent) => Promise<void> {
  return async (event) => {
    const text = `${options.app}: ${event.message}`;
    if (options.logOnly?.kinds.includes(event.kind)) options.logOnly.log(text);
    else options.annotate[EVENT_LEVEL[event.kind]](text);
    const sends: Array<Promise<unknown>> = [];
    if (options.slack && options.slack.webhookUrl !== '' && options.slack.kinds.includes(event.kind)) {
      sends.push(
        notifySlack(
          options.slack.webhookUrl,
          {
            event: SLACK_EVENT[event.kind],
            title: text,
            fields: { event: event.kind, environment: options.environment },
            ...(options.slack.runUrl ? { runUrl: options.slack.runUrl } : {}),
          },
          options.warn,
        ),
      );
    }
    const deployment = options.deployment;
    if (deployment && IN_PROGRESS.includes(event.kind)) {
      sends.push(
        bestEffort(`the deployment status (${event.kind})`, options.warn, () =>
          setDeploymentStatus(deployment.context, deployment.id, 'in_progress', event.message, deployment.logUrl),
        ),
      );
    }
    await Promise.all(sends);
  };
}
