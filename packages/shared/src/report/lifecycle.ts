import type { Logger } from '../action';
import type { PhaseResult } from '../fleet';
import { bestEffort, createDeployment, setDeploymentStatus, type DeploymentState, type GitHubContext } from '../github';
import { rolloutEvents, type Annotator, type RolloutEvent } from './events';
import { notifySlack } from './notify';

/**
 * A deploy or promote from its start to its end, recorded everywhere it is owed: Slack when it
 * starts and when it ends, the GitHub deployment (created by deploy, completed once the version
 * serves all traffic: DORA figures read it), the step's event (an annotation and the deployment's
 * description), and the deployment metrics on the hosts. None of these records fails the phase:
 * each is a warning. The phase itself is the caller's.
 */
export interface PhaseRecords {
  app: string;
  environment: string;
  phase: 'deploy' | 'promote';
  /** The version deployed, or '' for a promote of whatever canary is running. */
  version: string;
  hosts: number;
  slackWebhookUrl: string;
  github: GitHubContext | null;
  /** deploy: the deployment to create (ref, image, commit time); promote: the id deploy recorded (or null). */
  deployment: { ref: string; image: string; commitTime: string | null } | { id: number | null };
  runUrl: string;
  annotate: Annotator;
  log: Logger;
  /** Writes the deployment metrics (failed or not, the version now serving). */
  recordMetrics: (failed: boolean, version: string) => Promise<void>;
}

const hostsText = (count: number): string => `${count} host${count === 1 ? '' : 's'}`;

/** Runs the phase inside its records; returns its result and the GitHub deployment's id. A thrown phase is recorded as failed and thrown again. */
export async function recordedPhase<R extends PhaseResult>(
  records: PhaseRecords,
  phase: () => Promise<R>,
): Promise<{ result: R; deploymentId: number | null }> {
  const { app, environment, github, log } = records;
  const label = `${app} ${records.phase}${records.version ? ` ${records.version}` : ''} to ${environment} (${hostsText(records.hosts)})`;
  const fields = {
    app,
    environment,
    phase: records.phase,
    version: records.version || '(canary)',
    hosts: String(records.hosts),
  };
  await notifySlack(
    records.slackWebhookUrl,
    { event: 'started', title: `${label} started`, fields, runUrl: records.runUrl },
    log.warn,
  );

  // Without a token nothing is recorded.
  let deploymentId = 'id' in records.deployment ? records.deployment.id : null;
  if (github && 'ref' in records.deployment) {
    const { ref, image, commitTime } = records.deployment;
    deploymentId = await bestEffort('recording the GitHub deployment', log.warn, () =>
      createDeployment(github, {
        ref,
        environment,
        description: `deploy ${app} ${records.version}`,
        payload: { app, version: records.version, image, commitTime },
      }),
    );
  }
  const recordStatus = async (state: DeploymentState, description: string): Promise<void> => {
    if (!github || deploymentId === null) return;
    const id = deploymentId;
    await bestEffort(`setting GitHub deployment ${id} to ${state}`, log.warn, () =>
      setDeploymentStatus(github, id, state, description, records.runUrl),
    );
  };
  if (records.phase === 'deploy') await recordStatus('in_progress', `deploying ${records.version}`);

  let result: R;
  try {
    result = await log.group(label, phase);
  } catch (error) {
    await recordStatus('failure', `${records.phase} failed: ${(error as Error).message}`);
    await notifySlack(
      records.slackWebhookUrl,
      { event: 'failed', title: `${label} failed`, fields, error: (error as Error).message, runUrl: records.runUrl },
      log.warn,
    );
    await records.recordMetrics(true, records.version);
    throw error;
  }

  const version = result.version ?? records.version;
  if (!result.ok) await recordStatus('failure', `${records.phase} failed: ${result.error ?? 'see the run'}`);
  // Complete once the version serves all traffic: after promote, or a deploy that took it all at once.
  else if (records.phase === 'promote' || result.canaryPercent === 100)
    await recordStatus('success', `${version} serves all traffic`);
  const event: RolloutEvent | null = !result.ok
    ? null
    : records.phase === 'deploy' && result.canaryPercent < 100
      ? {
          kind: 'canary-started',
          message: `canary ${version} started at ${result.canaryPercent}% on ${hostsText(result.hosts.length)}`,
        }
      : { kind: 'promoted', message: `${version} serves all traffic on ${hostsText(result.hosts.length)}` };
  if (event)
    await rolloutEvents({
      app,
      environment,
      annotate: records.annotate,
      deployment:
        github && deploymentId !== null ? { context: github, id: deploymentId, logUrl: records.runUrl } : null,
      warn: log.warn,
    })(event);
  await notifySlack(
    records.slackWebhookUrl,
    result.ok
      ? {
          event: 'completed',
          title: `${label} completed`,
          fields: { ...fields, 'active color': result.activeColor ?? '—', canary: `${result.canaryPercent}%` },
          durationMs: result.durationMs,
          runUrl: records.runUrl,
        }
      : {
          event: 'failed',
          title: `${label} failed`,
          fields,
          error: result.error,
          durationMs: result.durationMs,
          runUrl: records.runUrl,
        },
    log.warn,
  );
  await records.recordMetrics(!result.ok, version);
  return { result, deploymentId };
}
