import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { action, codeBlock, systemClock } from '@agent-loop/shared/action';
import { cleanUpRun } from '@agent-loop/shared/fleet';
import { githubContext } from '@agent-loop/shared/github';
import { runPlaybook } from '@agent-loop/shared/hosts';
import { buildRuntime, checkRuntimeInputs, field, healthPaths, hostInputs, hostsField, privateKeyField, readInputs, requireInput, resolveHosts, runtimeInputs, sessionFromInputs, z, type InputReader } from '@agent-loop/shared/inputs';
import { HOST_PATH, VERSION } from '@agent-loop/shared/vocabulary';
import { deploymentMetricsRecorder, headline, metricsInputs, phaseSummary, announceRollback, restoredLine, type RollbackStory } from '@agent-loop/shared/report';
import { rollback, rollbackKubernetes, type ExternalRollback, type RollbackResult } from '@agent-loop/shared/rollback';

export const Outputs = {
  RolledBack: 'rolled-back',
  Noop: 'noop',
  Version: 'version',
  FailedVersion: 'failed-version',
  ActiveColor: 'active-color',
  RestoredMs: 'restored-ms',
  DurationMs: 'duration-ms',
  IncidentUrl: 'incident-url',
  Notified: 'notified',
  Report: 'report',
} as const;

// No control characters except tab: the text lands in state files, issues and messages.
// eslint-disable-next-line no-control-regex
const FREE_TEXT = /^[^\0-\x08\x0a-\x1f\x7f]*$/;
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const figuresSchema = z.array(z.object({ name: z.string(), observed: z.union([z.string(), z.number(), z.null()]), threshold: z.union([z.string(), z.number()]), windowSeconds: z.number().optional(), window: z.string().optional(), status: z.string() }).passthrough()).max(50);

export const inputFields = {
  ...hostInputs,
  hosts: hostsField({ required: false }),
  'ssh-private-key': privateKeyField(false),
  ...runtimeInputs,
  method: field.choice(['nginx', 'kubernetes', 'ansible'], 'nginx'),
  target: field.choice(['previous', 'version'], 'previous'),
  'target-version': field.string({ form: 'a version from the hosts\' history, such as v1.4.2 (a revision number for kubernetes)', pattern: VERSION, max: 128 }),
  reason: field.string({ form: 'one line saying why (free text, no control characters)', pattern: FREE_TEXT, default: 'manual rollback', max: 500 }),
  trigger: field.string({ form: 'what triggered the rollback (free text)', pattern: FREE_TEXT, default: 'manual', max: 300 }),
  'keep-failed': field.boolean(false),
  deployment: field.string({ form: 'a Kubernetes deployment name', pattern: K8S_NAME, max: 253 }),
  namespace: field.string({ form: 'a Kubernetes namespace', pattern: K8S_NAME, default: 'default', max: 63 }),
  'kube-context': field.string({ form: 'a kubeconfig context name', pattern: /^[A-Za-z0-9._@:/-]+$/, max: 253 }),
  'rollout-timeout-seconds': field.integer({ min: 1, max: 3600, default: 120, unit: 'seconds' }),
  playbook: field.string({ form: 'a playbook path in the workspace', pattern: HOST_PATH, max: 512 }),
  inventory: field.string({ form: 'an inventory path in the workspace', pattern: HOST_PATH, max: 512 }),
  'ansible-limit': field.string({ form: 'an ansible --limit pattern', pattern: /^[A-Za-z0-9._:,*!&-]+$/, max: 512 }),
  'github-token': field.secret({ form: 'a token with deployments: write and issues: write, e.g. secrets.GITHUB_TOKEN' }),
  'failed-deployment-id': field.string({ form: 'the id of the GitHub deployment that failed', pattern: /^\d{1,20}$/, max: 20 }),
  'create-incident': field.boolean(true),
  'incident-severity': field.choice(['critical', 'high', 'medium', 'low'], 'high'),
  'incident-labels': field.string({ form: 'comma-separated issue labels', pattern: /^[A-Za-z0-9 :._,/-]*$/, max: 500 }),
  figures: field.yaml(figuresSchema.optional(), { form: 'the JSON rule figures from canary-monitor (its `rules` output)', default: '[]' }),
  ...metricsInputs,
};

export function readSettings(read?: InputReader) {
  const inputs = readInputs(inputFields, read);
  if (inputs.target === 'version' || inputs['target-version'] !== '') {
    requireInput(inputs['target-version'] !== '', 'target-version', 'is required when target is version: a version such as v1.4.2');
  }
  if (inputs.method === 'nginx') {
    requireInput(inputs.hosts.length > 0, 'hosts', 'is required for method nginx: one or more user@host[:port]');
    requireInput(inputs['ssh-private-key'] !== '', 'ssh-private-key', 'is required for method nginx');
    checkRuntimeInputs(inputs);
  }
  if (inputs.method === 'kubernetes') {
    requireInput(inputs.deployment !== '', 'deployment', 'is required for method kubernetes: the deployment to roll back');
    requireInput(inputs['target-version'] === '' || /^\d+$/.test(inputs['target-version']), 'target-version', 'must be a revision number for method kubernetes (see kubectl rollout history)');
  }
  if (inputs.method === 'ansible') {
    requireInput(inputs.playbook !== '', 'playbook', 'is required for method ansible: the rollback playbook');
    requireInput(inputs.inventory !== '', 'inventory', 'is required for method ansible');
  }
  return { inputs, hosts: inputs.method === 'nginx' ? resolveHosts(inputs) : [] };
}

/** The post step: settles what a killed main step left (a pending switch, its locks). */
export async function post(read?: InputReader): Promise<void> {
  const { inputs, hosts } = readSettings(read);
  if (inputs.method !== 'nginx') return;
  const released = await cleanUpRun(hosts, sessionFromInputs(inputs, action.runInfo(), action.logger));
  if (released.length > 0) action.logger.warn(`the rollback did not finish; released its lock on ${released.join(', ')}`);
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const { inputs, hosts } = readSettings(read);
    const run = action.runInfo();
    const clock = systemClock;
    const started = clock.now();
    const targetVersion = inputs['target-version'] || null;
    const story: RollbackStory = {
      app: inputs.app,
      environment: inputs.environment,
      trigger: inputs.trigger,
      reason: inputs.reason,
      severity: inputs['incident-severity'],
      failedVersion: null,
      targetVersion,
      restoredMs: null,
      durationMs: 0,
      figures: (inputs.figures ?? []).map((figure) => ({
        name: figure.name,
        observed: figure.observed === null ? '—' : String(figure.observed),
        threshold: String(figure.threshold),
        window: figure.window ?? (figure.windowSeconds !== undefined ? `${figure.windowSeconds} s` : ''),
        status: figure.status,
      })),
      hosts: [],
      runUrl: run.runUrl,
      decidedAt: started,
    };
    let ok = true;
    let noop = false;
    let activeColor: string | null = null;
    let phase: RollbackResult | null = null;
    let externalWhat: string | null = null;
    let error: string | undefined;

    if (inputs.method === 'nginx') {
      const result = await action.logger.group(`rollback ${inputs.app} on ${hosts.length} host(s)`, () =>
        rollback(hosts, {
          ...sessionFromInputs(inputs, run, action.logger, clock, action.cancellation.signal),
          target: targetVersion ? { kind: 'version', version: targetVersion } : { kind: 'previous' },
          reason: inputs.reason,
          runtime: buildRuntime(inputs),
          healthPaths: healthPaths(inputs),
          healthTimeoutSeconds: inputs['health-timeout-seconds'],
          keepFailed: inputs['keep-failed'],
          commandTimeoutSeconds: inputs['command-timeout-seconds'],
        }, started),
      );
      ok = result.ok;
      noop = result.noop;
      error = result.error;
      activeColor = result.activeColor;
      story.failedVersion = result.failedVersion ?? result.previousVersion;
      story.targetVersion = result.version;
      story.restoredMs = result.ok ? result.restoredMs : null;
      story.hosts = result.hosts;
      story.candidates = result.candidates;
      if (result.abortedMonitorMs !== null) action.logger.info(`a canary monitor held the lock; it stopped ${result.abortedMonitorMs} ms after it was asked to`);
      phase = result;
    } else {
      const external: ExternalRollback =
        inputs.method === 'kubernetes'
          ? await rollbackKubernetes({ deployment: inputs.deployment, namespace: inputs.namespace, context: inputs['kube-context'] }, targetVersion ? Number(targetVersion) : null, inputs['rollout-timeout-seconds'], action.logger)
          : await runPlaybook(
              { playbook: inputs.playbook, inventory: inputs.inventory, limit: inputs['ansible-limit'], extraVars: { target_version: targetVersion ?? 'previous', rollback_reason: inputs.reason, app: inputs.app, environment: inputs.environment } },
              { workDir: mkdtempSync(join(process.env.RUNNER_TEMP ?? tmpdir(), 'agent-loop-ansible-')), cwd: process.env.GITHUB_WORKSPACE, timeoutMs: inputs['command-timeout-seconds'] * 1000, log: action.logger },
            );
      ok = external.ok;
      error = external.error;
      if (ok) story.restoredMs = clock.now() - started;
      if (external.restored) story.targetVersion = external.restored;
      else if (inputs.method === 'kubernetes') story.targetVersion = targetVersion ? `revision ${targetVersion}` : 'the previous revision';
      const what = inputs.method === 'kubernetes' ? `kubernetes rollback of deployment/${inputs.deployment} to ${story.targetVersion}` : `ansible rollback with ${inputs.playbook}`;
      externalWhat = what;
    }

    story.durationMs = clock.now() - started;
    if (!ok) story.error = error ?? 'the rollback failed';
    // What serves now, for the DeploymentFailed alert: a good rollback resolves it, a failed one keeps it firing.
    if (inputs.method === 'nginx' && !noop) await deploymentMetricsRecorder(inputs, hosts, sessionFromInputs(inputs, run, action.logger).connect, action.logger)(!ok, story.targetVersion ?? '');
    // A failed rollback is announced too: the deployment marked failed, the incident opened, Slack told.
    const announcement =
      !noop
        ? await announceRollback(story, {
            github: githubContext(inputs['github-token']),
            ref: process.env.GITHUB_SHA ?? 'main',
            createIncident: inputs['create-incident'],
            incidentLabels: inputs['incident-labels'].split(',').map((label) => label.trim()).filter(Boolean),
            failedDeploymentId: inputs['failed-deployment-id'] ? Number(inputs['failed-deployment-id']) : null,
            slackWebhookUrl: inputs['slack-webhook-url'],
            log: action.logger,
          })
        : { incidentUrl: null, deploymentId: null, notified: false };

    action.setOutputs({
      [Outputs.RolledBack]: String(ok && !noop),
      [Outputs.Noop]: String(noop),
      [Outputs.Version]: story.targetVersion,
      [Outputs.FailedVersion]: story.failedVersion,
      [Outputs.ActiveColor]: activeColor,
      [Outputs.RestoredMs]: story.restoredMs,
      [Outputs.DurationMs]: story.durationMs,
      [Outputs.IncidentUrl]: announcement.incidentUrl,
      [Outputs.Notified]: String(announcement.notified),
      [Outputs.Report]: JSON.stringify(story.hosts),
    });
    const note = noop ? `Nothing to roll back: ${story.targetVersion} already serves all traffic.` : ok ? restoredLine(story.restoredMs) : 'The rollback failed; traffic stays where it was.';
    const context = { reason: inputs.reason, trigger: inputs.trigger, actor: run.actor, incidentUrl: announcement.incidentUrl, candidates: story.candidates ?? [] };
    const summary = phase
      ? phaseSummary(inputs.app, phase, context)
      : `${headline(inputs.app, {
          ok,
          title: ok ? `${externalWhat ?? 'rollback'} done` : `${externalWhat ?? 'rollback'} failed`,
          verdict: [`trigger: ${inputs.trigger}`, `by ${run.actor}`, `reason: ${inputs.reason}`].join('; '),
          done: ok ? `rolled back to ${story.targetVersion ?? '?'}` : 'the rollback did not complete: see below',
          incidentUrl: announcement.incidentUrl,
          next: ok ? ['Find why the release failed before deploying it again.'] : ['Read the error below, fix it and re-run the rollback.'],
        })}${error ? `\n${codeBlock(error)}\n` : ''}`;
    await action.writeSummary(`${summary}\n${note}\n`);
    if (!ok) throw new Error(`${error ?? 'rollback failed'}${story.candidates && story.candidates.length > 0 ? `\nVersions one can roll back to by name (target-version): ${story.candidates.join(', ')}` : ''}`);
    if (noop) action.logger.info(note);
  });
}
