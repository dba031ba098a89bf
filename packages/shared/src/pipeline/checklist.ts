import { forMarkdown, markdownLink, show } from '../action';
import { DEPLOYMENT_ID, VERSION } from '../vocabulary';
import { PLAN_KINDS } from './plan';

/**
 * The deployment procedure's four checklists (pre-deployment, deployment, post-deployment, when
 * something goes wrong), ticked from what the run proved (pure). The evidence is the reusable
 * workflow's `needs` context: each job's result and outputs. An item no job proves is left for a
 * person; an item a job should have proved and did not says why.
 *
 * Every value read from the context is checked against what its job declares (a job result, a
 * percentage, a verdict, a version, a deployment id, an issue on this GitHub server): outputs are
 * text another step wrote, and a value of any other form leaves its item open, saying what was
 * expected, instead of ticking it or landing in the summary as Markdown.
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
  /** A checked URL the evidence links to (the incident issue). */
  link?: string;
}

export interface ChecklistOptions {
  /** The GitHub server (GITHUB_SERVER_URL): an incident must be an issue there. */
  serverUrl?: string;
}

/** The procedure's goal for the error rate after a deploy. */
export const ERROR_RATE_GOAL = 0.001;

/** What a job's result may be in the `needs` context. */
const JOB_RESULTS = ['success', 'failure', 'cancelled', 'skipped'];

/** The form each output the checklist reads is declared with. */
interface Form {
  form: string;
  test: (value: string) => boolean;
}
const oneOf = (values: readonly string[]): Form => ({
  form: values.join(', ').replace(/, ([^,]*)$/, ' or $1'),
  test: (value) => values.includes(value),
});
const FORMS = {
  percent: {
    form: 'a whole percentage from 0 to 100',
    test: (value) => /^\d{1,3}$/.test(value) && Number(value) <= 100,
  },
  verdict: oneOf(['success', 'failure', 'inconclusive', 'error', 'aborted']),
  flag: oneOf(['true', 'false']),
  outcome: oneOf(JOB_RESULTS),
  kind: oneOf(PLAN_KINDS),
  version: { form: 'a version label', test: (value) => VERSION.test(value) },
  deploymentId: { form: 'a GitHub deployment id', test: (value) => DEPLOYMENT_ID.test(value) },
  milliseconds: { form: 'a whole number of milliseconds', test: (value) => /^\d{1,12}$/.test(value) },
  /** A reason is free text: shown, never trusted (the summary renders it inert). */
  text: { form: 'one sentence', test: (value) => value.length <= 500 },
} satisfies Record<string, Form>;

/** An output as read: absent (empty), a value of its declared form, or a problem naming both. */
interface Read {
  value: string;
  problem: string | null;
}

/** An issue on the GitHub server: https://github.com/OWNER/REPO/issues/N and nothing more. */
function issueForm(serverUrl: string): Form {
  let server: URL | null = null;
  try {
    server = new URL(serverUrl);
  } catch {
    server = null;
  }
  return {
    form: `an issue URL on ${server ? server.origin : 'the GitHub server'}`,
    test: (value) => {
      try {
        const url = new URL(value);
        return (
          server !== null &&
          url.origin === server.origin &&
          url.username === '' &&
          url.password === '' &&
          url.search === '' &&
          url.hash === '' &&
          /^\/[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}\/issues\/\d{1,12}$/.test(url.pathname) &&
          url.href === value
        );
      } catch {
        return false;
      }
    },
  };
}

const job = (needs: Needs, name: string): NeededJob => needs[name] ?? {};
const rawOutput = (needs: Needs, name: string, key: string): string => job(needs, name).outputs?.[key] ?? '';

function read(needs: Needs, name: string, key: string, form: Form): Read {
  const value = rawOutput(needs, name, key);
  if (value === '' || form.test(value)) return { value, problem: null };
  return { value: '', problem: `the ${name} job's ${key} output is not ${form.form}: ${show(value, 80)}` };
}

/** The first non-empty output among jobs (the promote and its rollbacks may run in jobs of their own). */
function readAny(needs: Needs, names: readonly string[], key: string, form: Form): Read {
  const name = names.find((candidate) => rawOutput(needs, candidate, key) !== '');
  return name === undefined ? { value: '', problem: null } : read(needs, name, key, form);
}

const resultRead = (needs: Needs, name: string): Read => {
  const result = job(needs, name).result;
  if (result === undefined || JOB_RESULTS.includes(result)) return { value: result ?? '', problem: null };
  return { value: '', problem: `the ${name} job's result is not ${FORMS.outcome.form}: ${show(result, 80)}` };
};
const passed = (needs: Needs, name: string): boolean => resultRead(needs, name).value === 'success';
const resultOf = (needs: Needs, name: string): string => {
  const result = resultRead(needs, name);
  return result.problem ?? (result.value || 'not run');
};

/** The gates the plan ran: names only (a gate's name is a word). */
function gatesRun(needs: Needs): string[] {
  try {
    const gates = JSON.parse(rawOutput(needs, 'plan', 'gates') || '[]') as unknown;
    return Array.isArray(gates)
      ? gates.filter((gate): gate is string => typeof gate === 'string' && /^[a-z0-9-]{1,40}$/.test(gate))
      : [];
  } catch {
    return [];
  }
}

/** The canary's error rate as canary-monitor judged it (its `rules` output): a ratio from 0 to 1, or null. */
function canaryErrorRate(needs: Needs): number | null {
  try {
    const rules = JSON.parse(rawOutput(needs, 'production', 'rules') || '[]') as Array<{
      metric?: string;
      observed?: number | null;
    }>;
    const rule = Array.isArray(rules)
      ? rules.find((candidate) => candidate?.metric === 'error_rate' && typeof candidate.observed === 'number')
      : undefined;
    const observed = rule?.observed;
    return typeof observed === 'number' && Number.isFinite(observed) && observed >= 0 && observed <= 1
      ? observed
      : null;
  } catch {
    return null;
  }
}

const percent = (ratio: number): string => `${Number((ratio * 100).toFixed(2))}%`;

/** Ticks an item only when it is proved and every value it read has its declared form; otherwise it stays open, saying why. */
function tick(ok: boolean, done: string, notDone: string, ...reads: Read[]): [ItemState, string] {
  const problems = reads.map((value) => value.problem).filter((problem): problem is string => problem !== null);
  if (problems.length > 0) return ['not-done', problems.join('; ')];
  return ok ? ['done', done] : ['not-done', notDone];
}

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

/** The "when something goes wrong" list for a rollback run by hand (rollback.yml's `rollback` job). */
function rollbackChecklist(needs: Needs, issue: Form): ChecklistItem[] {
  const list = 'When something goes wrong' as const;
  const out = (key: string, form: Form): Read => read(needs, 'rollback', key, form);
  const rolledBack = out('rolled-back', FORMS.flag);
  const noop = out('noop', FORMS.flag);
  const version = out('version', FORMS.version);
  const failedVersion = out('failed-version', FORMS.version);
  const restored = out('restored-ms', FORMS.milliseconds);
  const items: ChecklistItem[] = [];
  const add = (item: string, [state, because]: [ItemState, string], link?: string) =>
    items.push({ list, item, state, because, ...(link && state === 'done' ? { link } : {}) });
  add(
    'Rollback started',
    tick(
      rolledBack.value === 'true' || noop.value === 'true',
      noop.value === 'true'
        ? `nothing to do: ${version.value || 'the target'} already served all traffic`
        : `rolled back${failedVersion.value ? ` from ${failedVersion.value}` : ''} to ${version.value || 'the previous version'}${restored.value ? `, traffic back in ${restored.value} ms` : ''}`,
      `rollback job: ${resultOf(needs, 'rollback')}`,
      rolledBack,
      noop,
      version,
      failedVersion,
      restored,
    ),
  );
  const incident = out('incident-url', issue);
  add(
    'Incident created',
    tick(incident.value !== '', incident.value, 'no incident was opened (create-incident off, or no token)', incident),
    incident.value,
  );
  const notified = out('notified', FORMS.flag);
  add(
    'Team notified',
    tick(
      notified.value === 'true',
      'Slack message sent',
      notified.value === 'false'
        ? 'no SLACK_WEBHOOK_URL: nothing sent'
        : `rollback job: ${resultOf(needs, 'rollback')}`,
      notified,
    ),
  );
  add('Post-mortem planned', ['person', 'a person plans it: the incident is the place']);
  return items;
}

const MARK: Record<ItemState, string> = {
  done: '- [x]',
  'not-done': '- [ ]',
  person: '- [ ] 🙋',
  'not-applicable': '- ➖',
};

/**
 * The checklists as GitHub renders task lists in a step summary (pure); `runUrl` links the
 * evidence. Each item and its evidence are text (outputs of other steps among them), made inert
 * on one line each: one task per item, whatever the outputs held.
 */
export function checklistSummary(items: readonly ChecklistItem[], runUrl = ''): string {
  const done = items.filter((item) => item.state === 'done').length;
  const open = items.filter((item) => item.state === 'not-done').length;
  const people = items.filter((item) => item.state === 'person').length;
  const lines = [
    `### Deployment procedure: ${done} of ${items.filter((item) => item.state !== 'not-applicable').length} checked by this run`,
    '',
    `${open === 0 ? '✅ nothing the run should have proved is missing' : `❌ ${open} not proved`}; ${people} for a person to tick${runUrl ? `; evidence: ${markdownLink('this run', runUrl).text}` : ''}.`,
    '',
  ];
  for (const list of ['Pre-deployment', 'Deployment', 'Post-deployment', 'When something goes wrong'] as const) {
    const inList = items.filter((item) => item.list === list);
    if (inList.length === 0) continue;
    lines.push(
      `#### ${list}`,
      '',
      ...inList.map(
        (item) =>
          `${MARK[item.state]} ${forMarkdown(item.item)} — ${item.link ? markdownLink(item.because, item.link).text : forMarkdown(item.because)}`,
      ),
      '',
    );
  }
  return lines.join('\n');
}
