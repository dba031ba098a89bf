import {
  bestEffort,
  createDeployment,
  githubContext,
  openIssue,
  setDeploymentStatus,
  type GitHubContext,
  type Incident,
} from '../github';
import { forMarkdown, hostCell, markdownLink, table, type Logger } from '../action';
import { notifySlack } from './notify';
import type { HostReport } from '../fleet';

/**
 * What happens after traffic is back on a good version: the GitHub deployment records (so DORA
 * figures count the failure and the recovery), an incident issue, and a Slack message.
 */

/** The deployment procedure's target for a rollback: traffic restored within 2 minutes. */
export const ROLLBACK_TARGET_MS = 120_000;

export interface RollbackStory {
  app: string;
  environment: string;
  /** What triggered the rollback: a rule that failed, or a person. */
  trigger: string;
  reason: string;
  severity: 'critical' | 'high' | 'medium' | 'low';
  failedVersion: string | null;
  targetVersion: string | null;
  /** From the decision to traffic restored. */
  restoredMs: number | null;
  durationMs: number;
  /** Per-rule figures (from the canary monitor), shown as a table. */
  figures: Array<{ name: string; observed: string; threshold: string; window: string; status: string }>;
  hosts: HostReport[];
  runUrl: string;
  /** When the decision was taken (ms since the epoch). */
  decidedAt: number;
  /** Set when the rollback itself failed: what went wrong. */
  error?: string;
  /** Versions one can roll back to by name, newest first. */
  candidates?: string[];
}

export function restoredLine(restoredMs: number | null): string {
  if (restoredMs === null) return 'Traffic was not restored.';
  const seconds = (restoredMs / 1000).toFixed(1);
  const met = restoredMs <= ROLLBACK_TARGET_MS;
  const faster = Math.max(1, Math.round(ROLLBACK_TARGET_MS / Math.max(restoredMs, 1)));
  return `Traffic restored in ${seconds} s ${met ? '✅' : '❌'} (procedure target: ${ROLLBACK_TARGET_MS / 1000} s${met ? `, ${faster}× faster` : ''}).`;
}

/**
 * The incident issue. Its body is Markdown that GitHub renders and that notifies whoever it
 * mentions: the trigger, the reason and the error come from people, hosts and tools, so each is
 * text made inert (`forMarkdown`; table cells are too), and the run is a checked link.
 */
export function incidentIssue(story: RollbackStory, extraLabels: readonly string[] = []): Incident {
  const title =
    `${story.error ? 'Rollback FAILED' : 'Rollback'}: ${story.app} ` +
    `${story.failedVersion ?? '(unknown version)'} → ${story.targetVersion ?? '?'} in ${story.environment}`;
  const timeline = story.hosts
    .flatMap((host) =>
      host.steps.map((step) => [
        hostCell(host.host),
        step.step,
        step.ok ? 'ok' : 'failed',
        `${step.ms} ms`,
        step.detail ?? '',
      ]),
    )
    .slice(0, 200);
  const body = [
    `**Severity:** ${story.severity}`,
    `**Trigger:** ${forMarkdown(story.trigger)}`,
    `**Reason:** ${forMarkdown(story.reason)}`,
    `**Decided at:** ${new Date(story.decidedAt).toISOString()}`,
    ...(story.error
      ? [
          '',
          `**The rollback failed; traffic stays where it was:** ${forMarkdown(story.error.split('\n').slice(0, 20).join(' / '))}`,
          ...(story.candidates && story.candidates.length > 0
            ? [`**Versions one can roll back to by name:** ${forMarkdown(story.candidates.join(', '))}`]
            : []),
        ]
      : []),
    '',
    restoredLine(story.restoredMs),
    '',
    ...(story.figures.length > 0
      ? [
          '### Figures',
          '',
          table(
            ['rule', 'observed', 'threshold', 'window', 'status'],
            story.figures.map((f) => [f.name, f.observed, f.threshold, f.window, f.status]),
          ),
          '',
        ]
      : []),
    '### Hosts',
    '',
    table(
      ['host', 'outcome', 'from → to', 'versions'],
      story.hosts.map((host) => [
        hostCell(host.host),
        host.outcome,
        `${host.fromColor ?? '—'} → ${host.toColor ?? '—'}`,
        `${host.previousVersion ?? '—'} → ${host.version ?? '—'}`,
      ]),
    ),
    '',
    '### Timeline',
    '',
    table(['host', 'step', 'result', 'took', 'detail'], timeline),
    '',
    story.runUrl ? `Workflow run: ${markdownLink(story.runUrl, story.runUrl).text}` : '',
  ].join('\n');
  return { title, body, labels: ['incident', `severity:${story.severity}`, 'rollback', ...extraLabels] };
}

export interface AnnounceOptions {
  github: GitHubContext | null;
  ref: string;
  createIncident: boolean;
  incidentLabels: string[];
  failedDeploymentId: number | null;
  slackWebhookUrl: string;
  log: Logger;
}

export interface Announcement {
  incidentUrl: string | null;
  deploymentId: number | null;
  /** Whether Slack accepted the message (false without a webhook). */
  notified: boolean;
}

/** Records the rollback everywhere it is owed. None of these failures undoes the rollback: each is a warning. */
export async function announceRollback(story: RollbackStory, options: AnnounceOptions): Promise<Announcement> {
  let incidentUrl: string | null = null;
  let deploymentId: number | null = null;
  const { github } = options;
  if (github) {
    if (options.failedDeploymentId !== null) {
      await bestEffort('marking the failed deployment', options.log.warn, () =>
        setDeploymentStatus(
          github,
          options.failedDeploymentId as number,
          'failure',
          `${story.error ? 'rollback failed' : 'rolled back'}: ${story.trigger}`.slice(0, 140),
          story.runUrl,
        ),
      );
    }
    deploymentId = await bestEffort('recording the rollback deployment', options.log.warn, async () => {
      const id = await createDeployment(github, {
        ref: options.ref,
        environment: story.environment,
        description: `rollback of ${story.app} to ${story.targetVersion ?? '?'}`,
        payload: {
          app: story.app,
          version: story.targetVersion,
          rollback: true,
          failedVersion: story.failedVersion,
          restoredMs: story.restoredMs,
          trigger: story.trigger,
        },
      });
      await setDeploymentStatus(
        github,
        id,
        story.error || story.restoredMs === null ? 'failure' : 'success',
        `${story.error ? 'failed rollback' : 'rollback'} to ${story.targetVersion ?? '?'}`.slice(0, 140),
        story.runUrl,
      );
      return id;
    });
    if (options.createIncident) {
      const issue = await bestEffort('opening the incident issue', options.log.warn, () =>
        openIssue(github, incidentIssue(story, options.incidentLabels)),
      );
      incidentUrl = issue?.url ?? null;
    }
  } else if (options.createIncident || options.failedDeploymentId !== null) {
    options.log.warn(
      'no github-token (or GITHUB_REPOSITORY): the deployment status and the incident issue were not recorded',
    );
  }
  if (story.error) {
    const notified = await notifySlack(
      options.slackWebhookUrl,
      {
        event: 'failed',
        title: `ROLLBACK FAILED: ${story.app} in ${story.environment} (to ${story.targetVersion ?? '?'})`,
        fields: {
          trigger: story.trigger,
          reason: story.reason,
          error: story.error.split('\n').slice(0, 5).join(' / '),
          ...(incidentUrl ? { incident: incidentUrl } : {}),
        },
        durationMs: story.durationMs,
        runUrl: story.runUrl,
      },
      options.log.warn,
    );
    return { incidentUrl, deploymentId, notified };
  }
  const notified = await notifySlack(
    options.slackWebhookUrl,
    {
      event: 'rolled-back',
      title: `${story.app} rolled back to ${story.targetVersion ?? '?'} in ${story.environment}`,
      fields: {
        trigger: story.trigger,
        reason: story.reason,
        failed: story.failedVersion ?? '—',
        restored: story.restoredMs === null ? 'no' : `${(story.restoredMs / 1000).toFixed(1)} s after the decision`,
        ...(incidentUrl ? { incident: incidentUrl } : {}),
      },
      durationMs: story.durationMs,
      runUrl: story.runUrl,
    },
    options.log.warn,
  );
  return { incidentUrl, deploymentId, notified };
}

/** The announcement's settings from the incident inputs (see `incidentInputs`). */
export function announceOptions(
  inputs: {
    'github-token': string;
    'failed-deployment-id': string;
    'create-incident': boolean;
    'slack-webhook-url': string;
  },
  incidentLabels: string[],
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): AnnounceOptions {
  return {
    github: githubContext(inputs['github-token'], env),
    ref: env.GITHUB_SHA ?? 'main',
    createIncident: inputs['create-incident'],
    incidentLabels,
    failedDeploymentId: inputs['failed-deployment-id'] ? Number(inputs['failed-deployment-id']) : null,
    slackWebhookUrl: inputs['slack-webhook-url'],
    log,
  };
}
