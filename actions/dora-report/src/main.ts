import { action, printable, requireInput, systemClock } from '@agent-loop/shared/action';
import { githubContext } from '@agent-loop/shared/github';
import { field, hostSettingInputs, readInputs, type InputReader } from '@agent-loop/shared/inputs';
import { APP_NAME } from '@agent-loop/shared/vocabulary';
import { computeDora, deploymentHistory, doraFigures, doraSummary } from '@agent-loop/shared/pipeline';

export const Outputs = {
  DeploymentFrequency: 'deployment-frequency',
  LeadTimeHours: 'lead-time-hours',
  MttrMinutes: 'mttr-minutes',
  ChangeFailureRate: 'change-failure-rate',
  Report: 'report',
} as const;

/** GitHub's rules for owner (user or organization) and repository names. */
const REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;
const REPOSITORY_FORM = 'a repository as owner/name, e.g. octo-org/service';

export const inputFields = {
  'github-token': field.secret({
    form: 'a token that can read deployments, e.g. secrets.GITHUB_TOKEN',
    required: true,
  }),
  environment: hostSettingInputs.environment,
  days: field.integer({ min: 1, max: 365, default: 30, unit: 'days' }),
  repository: field.string({ form: REPOSITORY_FORM, pattern: REPOSITORY, max: 140 }),
  app: field.string({
    form: 'an app name as given to blue-green (only its deployments count), or empty for all',
    pattern: APP_NAME,
    max: 40,
  }),
};

export function readSettings(read?: InputReader, env: NodeJS.ProcessEnv = process.env) {
  const inputs = readInputs(inputFields, read);
  const repository = inputs.repository || (env.GITHUB_REPOSITORY ?? '');
  requireInput(
    repository !== '',
    'repository',
    `is required outside GitHub Actions (GITHUB_REPOSITORY is not set): ${REPOSITORY_FORM}`,
  );
  requireInput(
    REPOSITORY.test(repository),
    'repository',
    `expected ${REPOSITORY_FORM}, got '${printable(repository)}' from GITHUB_REPOSITORY`,
  );
  const github = githubContext(inputs['github-token'], { ...env, GITHUB_REPOSITORY: repository });
  if (!github) throw new Error('no GitHub context'); // unreachable: token and repository were checked above
  return { inputs, github };
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const { inputs, github } = readSettings(read);
    const now = systemClock.now();
    const since = now - inputs.days * 24 * 3_600_000;
    const history = await action.logger.group(
      `deployments of ${github.owner}/${github.repo} to ${inputs.environment}, last ${inputs.days} days`,
      async () => {
        const entries = await deploymentHistory(github, inputs.environment, since, {
          warn: action.logger.warn,
          ...(inputs.app ? { app: inputs.app } : {}),
        });
        action.logger.info(`${entries.length} deployment(s) since ${new Date(since).toISOString()}`);
        return entries;
      },
    );
    const report = computeDora(history, { now, days: inputs.days });
    for (const figure of doraFigures(report))
      action.logger.info(
        `${figure.name}: ${figure.value ?? 'not enough data'} ${figure.value === null ? '' : figure.unit} (${figure.detail})`.replace(
          / +/g,
          ' ',
        ),
      );

    action.setOutputs({
      [Outputs.DeploymentFrequency]: report.deploymentFrequency.value,
      [Outputs.LeadTimeHours]: report.leadTime.value,
      [Outputs.MttrMinutes]: report.mttr.value,
      [Outputs.ChangeFailureRate]: report.changeFailureRate.value,
      [Outputs.Report]: JSON.stringify(report),
    });
    await action.writeSummary(doraSummary(inputs.environment, report));
  });
}
