import { action, requireInput, systemClock } from '@agent-loop/shared/action';
import { cleanUpRun } from '@agent-loop/shared/fleet';
import {
  checkRollbackMethodInputs,
  field,
  hostInputs,
  hostsField,
  incidentInputs,
  privateKeyField,
  readInputs,
  resolveHosts,
  rollbackMethodInputs,
  rollbackOnHosts,
  rollbackPhaseInputs,
  rollbackTarget,
  rollbackRuntimeInputs,
  type InputReader,
} from '@agent-loop/shared/inputs';
import {
  announceOptions,
  announceOutcome,
  deploymentMetricsRecorder,
  metricsInputs,
  rollbackFailure,
  rollbackSummary,
} from '@agent-loop/shared/report';
import { ANY_TEXT, docField, FREE_TEXT, VERSION } from '@agent-loop/shared/vocabulary';
import { rollbackMethod, sessionFromInputs } from '@agent-loop/shared/settings';

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

const { leaf, text, number, openMapping, list } = docField;
/** canary-monitor's `rules` output: the keys read here are checked, others (a later version may add some) left out. */
const figuresSchema = list(
  openMapping(
    {
      name: text('a rule name', ANY_TEXT),
      observed: leaf(
        'a number, a text or null',
        (value): value is string | number | null =>
          value === null || typeof value === 'string' || typeof value === 'number',
      ),
      threshold: leaf(
        'a number or a text',
        (value): value is string | number => typeof value === 'string' || typeof value === 'number',
      ),
      windowSeconds: number().optional(),
      window: text('a text', ANY_TEXT).optional(),
      status: text('a status such as pass or fail', ANY_TEXT),
    },
    'a mapping {name, observed, threshold, window, status}',
  ),
  { max: 50, noun: 'figures', form: 'a list of rule figures' },
);

export const inputFields = {
  ...hostInputs,
  hosts: hostsField({ required: false }),
  'ssh-private-key': privateKeyField(false),
  ...rollbackRuntimeInputs,
  ...rollbackMethodInputs,
  target: field.choice(['previous', 'version'], 'previous'),
  ...rollbackPhaseInputs('manual rollback'),
  'target-version': field.string({
    form: "a version from the hosts' history, such as v1.4.2 (a revision number for kubernetes)",
    pattern: VERSION,
    max: 128,
  }),
  trigger: field.string({
    form: 'what triggered the rollback (free text)',
    pattern: FREE_TEXT,
    default: 'manual',
    max: 300,
  }),
  ...incidentInputs({ severity: 'high', failedDeployment: 'the GitHub deployment that failed' }),
  'incident-labels': field.string({ form: 'comma-separated issue labels', pattern: /^[A-Za-z0-9 :._,/-]*$/, max: 500 }),
  figures: field.yaml(figuresSchema.optional(), {
    form: 'the JSON rule figures from canary-monitor (its `rules` output)',
    default: '[]',
  }),
  ...metricsInputs,
};

export function readSettings(read?: InputReader) {
  const inputs = readInputs(inputFields, read);
  if (inputs.target === 'version' || inputs['target-version'] !== '') {
    requireInput(
      inputs['target-version'] !== '',
      'target-version',
      'is required when target is version: a version such as v1.4.2',
    );
  }
  checkRollbackMethodInputs(inputs);
  return { inputs, hosts: rollbackOnHosts(inputs) ? resolveHosts(inputs) : [] };
}

/** The post step: settles what a killed main step left (a pending switch, its locks). */
export async function post(read?: InputReader): Promise<void> {
  const { inputs, hosts } = readSettings(read);
  if (!rollbackOnHosts(inputs)) return;
  const released = await cleanUpRun(hosts, sessionFromInputs(inputs, action.runInfo(), action.logger));
  if (released.length > 0)
    action.logger.warn(`the rollback did not finish; released its lock on ${released.join(', ')}`);
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const { inputs, hosts } = readSettings(read);
    const run = action.runInfo();
    const started = systemClock.now();
    const method = rollbackMethod(inputs, hosts, {
      run,
      log: action.logger,
      clock: systemClock,
      signal: action.cancellation.signal,
    });
    const outcome = await method.run(rollbackTarget(inputs), started);
    // What serves now, for the DeploymentFailed alert: a good rollback resolves it, a failed one keeps it firing.
    if (rollbackOnHosts(inputs) && !outcome.noop)
      await deploymentMetricsRecorder(
        inputs,
        hosts,
        sessionFromInputs(inputs, run, action.logger).connect,
        action.logger,
      )(!outcome.ok, outcome.version ?? '');
    const announcement = await announceOutcome(
      outcome,
      {
        app: inputs.app,
        environment: inputs.environment,
        trigger: inputs.trigger,
        reason: inputs.reason,
        severity: inputs['incident-severity'],
        figures: inputs.figures ?? [],
        runUrl: run.runUrl,
        decidedAt: started,
      },
      announceOptions(
        inputs,
        inputs['incident-labels']
          .split(',')
          .map((label) => label.trim())
          .filter(Boolean),
        action.logger,
      ),
    );
    action.setOutputs({
      [Outputs.RolledBack]: String(outcome.ok && !outcome.noop),
      [Outputs.Noop]: String(outcome.noop),
      [Outputs.Version]: outcome.version,
      [Outputs.FailedVersion]: outcome.failedVersion,
      [Outputs.ActiveColor]: outcome.activeColor,
      [Outputs.RestoredMs]: outcome.restoredMs,
      [Outputs.DurationMs]: outcome.durationMs,
      [Outputs.IncidentUrl]: announcement.incidentUrl,
      [Outputs.Notified]: String(announcement.notified),
      [Outputs.Report]: JSON.stringify(outcome.hosts),
    });
    await action.writeSummary(
      rollbackSummary(
        outcome,
        { app: inputs.app, reason: inputs.reason, trigger: inputs.trigger, actor: run.actor },
        announcement.incidentUrl,
      ),
    );
    if (!outcome.ok) throw new Error(rollbackFailure(outcome));
    if (outcome.noop) action.logger.info(`Nothing to roll back: ${outcome.version} already serves all traffic.`);
  });
}
