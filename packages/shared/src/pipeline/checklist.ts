/**
 * The deployment procedure's four checklists (pre-deployment, deployment, post-deployment, when
 * something goes wrong), ticked from what the run proved (pure). The evidence is the reusable
 * workflow's `needs` context: each job's result and outputs. An item no job proves is left for a
 * person; an item a job should have proved and did not says why.
 */

/** One job of the `needs` context, as `toJSON(needs)` gives it. */
export interface NeededJob {
  result?: string;
  outputs?: Record<string, string>;
}

export type Needs = Record<string, NeededJob | undefined>;

export type ItemState = 'done' | 'not-done' | 'person' | 'not-applicable';

export interface ChecklistItem {
  list: 'Pre-deployment' | 'Deployment' | 'Post-deployment' | 'When something goes wrong';
  item: string;
  state: ItemState;
  /** The evidence (the job and what it showed), or why the item is not ticked. */
  because: string;
}

/** The procedure's goal for the error rate after a deploy. */
export const ERROR_RATE_GOAL = 0.001;

const job = (needs: Needs, name: string): NeededJob => needs[name] ?? {};
const output = (needs: Needs, name: string, key: string): string => job(needs, name).outputs?.[key] ?? '';
const passed = (needs: Needs, name: string): boolean => job(needs, name).result === 'success';
const resultOf = (needs: Needs, name: string): string => job(needs, name).result ?? 'not run';
/** The first non-empty output among jobs (the promote and its rollbacks may run in jobs of their own). */
const anyOutput = (needs: Needs, names: readonly string[], key: string): string => names.map((name) => output(needs, name, key)).find((value) => value !== '') ?? '';

function gatesRun(needs: Needs): string[] {
  try {
    const gates = JSON.parse(output(needs, 'plan', 'gates') || '[]') as unknown;
    return Array.isArray(gates) ? gates.filter((gate): gate is string => typeof gate === 'string') : [];
  } catch {
    return [];
  }
}

/** The canary's error rate as canary-monitor judged it (its `rules` output), or null. */
function canaryErrorRate(needs: Needs): number | null {
  try {
    const rules = JSON.parse(output(needs, 'production', 'rules') || '[]') as Array<{ metric?: string; observed?: number | null }>;
    const rule = Array.isArray(rules) ? rules.find((candidate) => candidate.metric === 'error_rate' && typeof candidate.observed === 'number') : undefined;
    return rule && typeof rule.observed === 'number' ? rule.observed : null;
  } catch {
    return null;
  }
}

const percent = (ratio: number): string => `${Number((ratio * 100).toFixed(2))}%`;

export function procedureChecklist(needs: Needs): ChecklistItem[] {
  // rollback.yml has one job, `rollback`, and no plan: only the list for when something goes wrong applies.
  if (needs.plan === undefined && needs.rollback !== undefined) return rollbackChecklist(needs);
  const items: ChecklistItem[] = [];
  const add = (list: ChecklistItem['list'], item: string, state: ItemState, because: string) => items.push({ list, item, state, because });
  const tick = (ok: boolean, done: string, notDone: string): [ItemState, string] => (ok ? ['done', done] : ['not-done', notDone]);
  const gates = gatesRun(needs);
  const kind = output(needs, 'plan', 'kind') || 'unknown';

  // Pre-deployment. The tests run in deploy.yml's gates job, hotfix.yml's critical-tests job, and
  // model-deploy.yml's train job (A/B validation, drift and performance tests).
  const testJob = ['gates', 'critical-tests', 'train'].find((name) => needs[name] !== undefined) ?? 'gates';
  const tests = testJob === 'train' ? ['A/B validation', 'drift', 'performance'] : gates.filter((gate) => ['lint', 'typecheck', 'unit', 'integration'].includes(gate));
  add('Pre-deployment', 'All tests passed', ...tick(passed(needs, testJob) && tests.length > 0, `${testJob} job passed: ${tests.join(', ')}`, tests.length === 0 ? `no test gate ran (plan: ${kind})` : `${testJob} job: ${resultOf(needs, testJob)}`));
  add('Pre-deployment', 'Security scan clean', ...(gates.includes('security-scan') && testJob !== 'train' ? tick(passed(needs, testJob), 'security-scan gate passed', `${testJob} job: ${resultOf(needs, testJob)}`) : (['not-done', `not run by this workflow (plan: ${kind})`] as [ItemState, string])));
  add('Pre-deployment', 'Code review approved', 'person', 'no job can prove it: the pull request shows it');
  const staging = needs.staging !== undefined;
  const noStaging: [ItemState, string] = ['not-done', `this workflow has no staging job (plan: ${kind})`];
  add('Pre-deployment', 'Staging deployed', ...(staging ? tick(passed(needs, 'staging'), 'staging job passed (deploy-staging)', `staging job: ${resultOf(needs, 'staging')}`) : noStaging));
  add('Pre-deployment', 'Smoke tests passed on staging', ...(staging ? tick(passed(needs, 'staging'), 'every smoke check answered within its budget (deploy-staging fails otherwise)', `staging job: ${resultOf(needs, 'staging')}`) : noStaging));
  add('Pre-deployment', 'Load test passed on staging', ...(!staging ? noStaging : gates.includes('load-test') ? tick(passed(needs, 'staging'), 'load test met its P95 and error criteria', `staging job: ${resultOf(needs, 'staging')}`) : (['not-done', `skipped by the plan (${kind})`] as [ItemState, string])));

  // Deployment
  const deployed = output(needs, 'production', 'canary-percent');
  const verdict = output(needs, 'production', 'verdict');
  const promoted = anyOutput(needs, ['promote', 'production'], 'promoted') === 'true';
  const approval = job(needs, 'approve').result;
  add('Deployment', `Canary${deployed ? ` ${deployed}%` : ''} validated`, ...tick(verdict === 'success', `canary-monitor verdict: success`, verdict ? `canary-monitor verdict: ${verdict}${output(needs, 'production', 'reason') ? ` (${output(needs, 'production', 'reason')})` : ''}` : `production job: ${resultOf(needs, 'production')}`));
  if (approval !== undefined && approval !== 'skipped') add('Deployment', 'Promotion approved', ...tick(approval === 'success', 'a reviewer approved it (the approval environment)', `approval: ${approval}`));
  add('Deployment', 'Full rollout', ...tick(promoted, 'promote moved all traffic to the new version', `not promoted (${needs.promote ? `promote job: ${resultOf(needs, 'promote')}` : `production job: ${resultOf(needs, 'production')}`})`));
  add('Deployment', 'Old version stopped', ...tick(promoted, 'promote drained and stopped the previous color', 'not promoted: the previous version still runs'));
  const deploymentId = output(needs, 'production', 'deployment-id');
  add('Deployment', 'Deployment logged', ...tick(deploymentId !== '', `GitHub deployment ${deploymentId}`, 'no GitHub deployment was recorded (no github-token?)'));

  // Post-deployment
  const health = output(needs, 'post-deploy', 'health');
  add('Post-deployment', 'Health checks pass', ...tick(health === 'success', 'the post-deploy health check answered 2xx', `post-deploy health check: ${health || resultOf(needs, 'post-deploy')}`));
  const errorRate = canaryErrorRate(needs);
  add('Post-deployment', `Error rate under ${percent(ERROR_RATE_GOAL)}`, ...tick(errorRate !== null && errorRate < ERROR_RATE_GOAL, `canary error rate ${percent(errorRate ?? 0)} during the analysis`, errorRate === null ? 'no error-rate figure from canary-monitor' : `canary error rate ${percent(errorRate)} during the analysis`));
  const notified = output(needs, 'post-deploy', 'notified');
  add('Post-deployment', 'Team notified', ...tick(notified === 'true', 'Slack message sent', notified === 'false' ? 'no SLACK_WEBHOOK_URL: nothing sent' : `post-deploy job: ${resultOf(needs, 'post-deploy')}`));

  // When something goes wrong
  const rolledBack = ['production', 'promote', 'end-canary'].some((name) => output(needs, name, 'rolled-back') === 'true');
  const wrong = rolledBack || ['production', 'promote', 'approve'].some((name) => job(needs, name).result === 'failure') || (verdict !== '' && verdict !== 'success');
  if (!wrong) {
    for (const item of ['Rollback started', 'Incident created', 'Post-mortem planned']) add('When something goes wrong', item, 'not-applicable', 'nothing went wrong in this run');
  } else {
    add('When something goes wrong', 'Rollback started', ...tick(rolledBack, `rolled back to ${output(needs, 'production', 'rollback-version') || 'the previous version'}`, 'no rollback ran: see the production job'));
    const incident = anyOutput(needs, ['production', 'promote', 'end-canary'], 'incident-url');
    add('When something goes wrong', 'Incident created', ...tick(incident !== '', incident, 'no incident was opened (create-incident off, or no token)'));
    add('When something goes wrong', 'Post-mortem planned', 'person', 'a person plans it: the incident is the place');
  }
  return items;
}

/** The "when something goes wrong" list for a rollback run by hand (rollback.yml's `rollback` job). */
function rollbackChecklist(needs: Needs): ChecklistItem[] {
  const list = 'When something goes wrong' as const;
  const out = (key: string): string => output(needs, 'rollback', key);
  const rolledBack = out('rolled-back') === 'true';
  const noop = out('noop') === 'true';
  const restored = out('restored-ms');
  const items: ChecklistItem[] = [];
  const add = (item: string, state: ItemState, because: string) => items.push({ list, item, state, because });
  add(
    'Rollback started',
    rolledBack || noop ? 'done' : 'not-done',
    noop ? `nothing to do: ${out('version') || 'the target'} already served all traffic` : rolledBack ? `rolled back${out('failed-version') ? ` from ${out('failed-version')}` : ''} to ${out('version') || 'the previous version'}${restored ? `, traffic back in ${restored} ms` : ''}` : `rollback job: ${resultOf(needs, 'rollback')}`,
  );
  add('Incident created', out('incident-url') ? 'done' : 'not-done', out('incident-url') || 'no incident was opened (create-incident off, or no token)');
  const notified = out('notified');
  add('Team notified', notified === 'true' ? 'done' : 'not-done', notified === 'true' ? 'Slack message sent' : notified === 'false' ? 'no SLACK_WEBHOOK_URL: nothing sent' : `rollback job: ${resultOf(needs, 'rollback')}`);
  add('Post-mortem planned', 'person', 'a person plans it: the incident is the place');
  return items;
}

const MARK: Record<ItemState, string> = { done: '- [x]', 'not-done': '- [ ]', person: '- [ ] 🙋', 'not-applicable': '- ➖' };

/** The checklists as GitHub renders task lists in a step summary (pure); `runUrl` links the evidence. */
export function checklistSummary(items: readonly ChecklistItem[], runUrl = ''): string {
  const done = items.filter((item) => item.state === 'done').length;
  const open = items.filter((item) => item.state === 'not-done').length;
  const people = items.filter((item) => item.state === 'person').length;
  const lines = [`### Deployment procedure: ${done} of ${items.filter((item) => item.state !== 'not-applicable').length} checked by this run`, '', `${open === 0 ? '✅ nothing the run should have proved is missing' : `❌ ${open} not proved`}; ${people} for a person to tick${runUrl ? `; evidence: [this run](${runUrl})` : ''}.`, ''];
  for (const list of ['Pre-deployment', 'Deployment', 'Post-deployment', 'When something goes wrong'] as const) {
    const inList = items.filter((item) => item.list === list);
    if (inList.length === 0) continue;
    lines.push(`#### ${list}`, '', ...inList.map((item) => `${MARK[item.state]} ${item.item} — ${item.because.replace(/[\r\n]+/g, ' ')}`), '');
  }
  return lines.join('\n');
}
