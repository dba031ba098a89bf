import {
  canaryErrorRate,
  FORMS,
  gatesRun,
  issueForm,
  passed,
  read,
  readAny,
  resultOf,
  resultRead,
  tick,
  type ChecklistItem,
  type ItemState,
  type Needs,
} from './checklist-evidence';
import { rollbackChecklist } from './rollback-checklist';

/**
 * The deployment procedure's four checklists (pre-deployment, deployment, post-deployment, when
 * something goes wrong), ticked from what the run proved (pure). The evidence is the reusable
 * workflow's `needs` context (checklist-evidence.ts): each job's result and outputs. An item no
 * job proves is left for a person; an item a job should have proved and did not says why.
 */

export interface ChecklistOptions {
  /** The GitHub server (GITHUB_SERVER_URL): an incident must be an issue there. */
  serverUrl?: string;
}

/** The procedure's goal for the error rate after a deploy. */
export const ERROR_RATE_GOAL = 0.001;

const percent = (ratio: number): string => `${Number((ratio * 100).toFixed(2))}%`;

export function procedureChecklist(needs: Needs, options: ChecklistOptions = {}): ChecklistItem[] {
  const issue = issueForm(options.serverUrl ?? 'https://github.com');
  // rollback.yml has one job, `rollback`, and no plan: only the list for when something goes wrong applies.
  if (needs.plan === undefined && needs.rollback !== undefined) return rollbackChecklist(needs, issue);
  const items: ChecklistItem[] = [];
  const add = (list: ChecklistItem['list'], item: string, [state, because]: [ItemState, string], link?: string) =>
    items.push({ list, item, state, because, ...(link && state === 'done' ? { link } : {}) });
  const gates = gatesRun(needs);
  const planKind = read(needs, 'plan', 'kind', FORMS.kind);
  const kind = planKind.problem ? 'unreadable' : planKind.value || 'unknown';

  // Pre-deployment. The tests run in deploy.yml's gates job, hotfix.yml's critical-tests job, and
  // model-deploy.yml's train job (A/B validation, drift and performance tests).
  const testJob = ['gates', 'critical-tests', 'train'].find((name) => needs[name] !== undefined) ?? 'gates';
  const tests =
    testJob === 'train'
      ? ['A/B validation', 'drift', 'performance']
      : gates.filter((gate) => ['lint', 'typecheck', 'unit', 'integration'].includes(gate));
  add(
    'Pre-deployment',
    'All tests passed',
    tick(
      passed(needs, testJob) && tests.length > 0,
      `${testJob} job passed: ${tests.join(', ')}`,
      tests.length === 0 ? `no test gate ran (plan: ${kind})` : `${testJob} job: ${resultOf(needs, testJob)}`,
      resultRead(needs, testJob),
    ),
  );
  add(
    'Pre-deployment',
    'Security scan clean',
    gates.includes('security-scan') && testJob !== 'train'
      ? tick(
          passed(needs, testJob),
          'security-scan gate passed',
          `${testJob} job: ${resultOf(needs, testJob)}`,
          resultRead(needs, testJob),
        )
      : ['not-done', `not run by this workflow (plan: ${kind})`],
  );
  add('Pre-deployment', 'Code review approved', ['person', 'no job can prove it: the pull request shows it']);
  const staging = needs.staging !== undefined;
  const noStaging: [ItemState, string] = ['not-done', `this workflow has no staging job (plan: ${kind})`];
  const stagingResult = resultRead(needs, 'staging');
  add(
    'Pre-deployment',
    'Staging deployed',
    staging
      ? tick(
          passed(needs, 'staging'),
          'staging job passed (deploy-staging)',
          `staging job: ${resultOf(needs, 'staging')}`,
          stagingResult,
        )
      : noStaging,
  );
  add(
    'Pre-deployment',
    'Smoke tests passed on staging',
    staging
      ? tick(
          passed(needs, 'staging'),
          'every smoke check answered within its budget (deploy-staging fails otherwise)',
          `staging job: ${resultOf(needs, 'staging')}`,
          stagingResult,
        )
      : noStaging,
  );
  add(
    'Pre-deployment',
    'Load test passed on staging',
    !staging
      ? noStaging
      : gates.includes('load-test')
        ? tick(
            passed(needs, 'staging'),
            'load test met its P95 and error criteria',
            `staging job: ${resultOf(needs, 'staging')}`,
            stagingResult,
          )
        : ['not-done', `skipped by the plan (${kind})`],
  );

  // Deployment
  const deployed = read(needs, 'production', 'canary-percent', FORMS.percent);
  const verdict = read(needs, 'production', 'verdict', FORMS.verdict);
  const reason = read(needs, 'production', 'reason', FORMS.text);
  const promotedRead = readAny(needs, ['promote', 'production'], 'promoted', FORMS.flag);
  const promoted = promotedRead.value === 'true';
  const approval = resultRead(needs, 'approve');
  add(
    'Deployment',
    `Canary${deployed.value ? ` ${deployed.value}%` : ''} validated`,
    tick(
      verdict.value === 'success',
      `canary-monitor verdict: success`,
      verdict.value
        ? `canary-monitor verdict: ${verdict.value}${reason.value ? ` (${reason.value})` : ''}`
        : `production job: ${resultOf(needs, 'production')}`,
      deployed,
      verdict,
      reason,
    ),
  );
  if (approval.problem || (approval.value !== '' && approval.value !== 'skipped'))
    add(
      'Deployment',
      'Promotion approved',
      tick(
        approval.value === 'success',
        'a reviewer approved it (the approval environment)',
        `approval: ${approval.value}`,
        approval,
      ),
    );
  const notPromoted = `not promoted (${needs.promote ? `promote job: ${resultOf(needs, 'promote')}` : `production job: ${resultOf(needs, 'production')}`})`;
  add(
    'Deployment',
    'Full rollout',
    tick(promoted, 'promote moved all traffic to the new version', notPromoted, promotedRead),
  );
  add(
    'Deployment',
    'Old version stopped',
    tick(
      promoted,
      'promote drained and stopped the previous color',
      'not promoted: the previous version still runs',
      promotedRead,
    ),
  );
  const deploymentId = read(needs, 'production', 'deployment-id', FORMS.deploymentId);
  add(
    'Deployment',
    'Deployment logged',
    tick(
      deploymentId.value !== '',
      `GitHub deployment ${deploymentId.value}`,
      'no GitHub deployment was recorded (no github-token?)',
      deploymentId,
    ),
  );

  // Post-deployment
  const health = read(needs, 'post-deploy', 'health', FORMS.outcome);
  add(
    'Post-deployment',
    'Health checks pass',
    tick(
      health.value === 'success',
      'the post-deploy health check answered 2xx',
      `post-deploy health check: ${health.value || resultOf(needs, 'post-deploy')}`,
      health,
    ),
  );
  const errorRate = canaryErrorRate(needs);
  add(
    'Post-deployment',
    `Error rate under ${percent(ERROR_RATE_GOAL)}`,
    tick(
      errorRate !== null && errorRate < ERROR_RATE_GOAL,
      `canary error rate ${percent(errorRate ?? 0)} during the analysis`,
      errorRate === null
        ? 'no error-rate figure from canary-monitor'
        : `canary error rate ${percent(errorRate)} during the analysis`,
    ),
  );
  const notified = read(needs, 'post-deploy', 'notified', FORMS.flag);
  add(
    'Post-deployment',
    'Team notified',
    tick(
      notified.value === 'true',
      'Slack message sent',
      notified.value === 'false'
        ? 'no SLACK_WEBHOOK_URL: nothing sent'
        : `post-deploy job: ${resultOf(needs, 'post-deploy')}`,
      notified,
    ),
  );

  // When something goes wrong
  const rollbacks = ['production', 'promote', 'end-canary'].map((name) => read(needs, name, 'rolled-back', FORMS.flag));
  const rolledBack = rollbacks.some((flag) => flag.value === 'true');
  const failed = ['production', 'promote', 'approve'].some((name) => resultRead(needs, name).value === 'failure');
  const wrong =
    rolledBack ||
    failed ||
    (verdict.value !== '' && verdict.value !== 'success') ||
    rollbacks.some((flag) => flag.problem !== null) ||
    verdict.problem !== null;
  if (!wrong) {
    for (const item of ['Rollback started', 'Incident created', 'Post-mortem planned'])
      add('When something goes wrong', item, ['not-applicable', 'nothing went wrong in this run']);
  } else {
    const rollbackVersion = read(needs, 'production', 'rollback-version', FORMS.version);
    add(
      'When something goes wrong',
      'Rollback started',
      tick(
        rolledBack,
        `rolled back to ${rollbackVersion.value || 'the previous version'}`,
        'no rollback ran: see the production job',
        ...rollbacks,
        rollbackVersion,
      ),
    );
    const incident = readAny(needs, ['production', 'promote', 'end-canary'], 'incident-url', issue);
    add(
      'When something goes wrong',
      'Incident created',
      tick(
        incident.value !== '',
        incident.value,
        'no incident was opened (create-incident off, or no token)',
        incident,
      ),
      incident.value,
    );
    add('When something goes wrong', 'Post-mortem planned', ['person', 'a person plans it: the incident is the place']);
  }
  return items;
}
