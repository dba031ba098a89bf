// What each scenario of `npm run demo` runs: the reusable workflow its caller uses, the steps of
// that workflow the demo runs (each action from its bundle, in the workflow's order), and the jobs
// it leaves out, with why. test/demo-scenarios.test.ts holds every list to the workflow's own jobs
// and steps, so the demo cannot show a path a workflow does not take.

/** A step of the workflow that the demo runs: an action of ours (`uses`), or a `run:` step it imitates (`name`). */
export interface DemoStep {
  job: string;
  /** The action (`org/agent-loop-actions/<uses>@v1` in the workflow). */
  uses?: string;
  /** A `run:` step the demo does itself, by the step's name in the workflow. */
  name?: string;
  /** Inputs the workflow gives this step as plain values (not expressions); the demo gives the same. */
  with?: Record<string, string>;
  /** What the demo does differently in this step, said when it runs. */
  note?: string;
}

export interface DemoScenario {
  /** The workflow file under .github/workflows. */
  workflow: 'deploy.yml' | 'hotfix.yml' | 'model-deploy.yml';
  /** The branch and head commit message of the push. */
  branch: string;
  message: string;
  /** What the production canary does in this scenario (the lab's knobs). */
  canary: 'healthy' | 'answers 20% errors';
  /** Seconds the monitor watches each window: the workflows' canary-duration input, shortened for the demo. */
  canarySeconds: number;
  steps: DemoStep[];
  /** Every other job of the workflow, with why the demo does not run it. */
  leftOut: Record<string, string>;
}

// Why jobs are left out; jobs left out for the same reason are said together.
const NO_REPOSITORY =
  'the lab has no repository to test nor image to build: its hosts run a stand-in service under any image name';
const NO_APPROVAL = 'only with promote-approval-environment, not set here';
const AFTER = 'left out for time: the DORA figures come once, at the end';

const plan: DemoStep = { job: 'plan', uses: 'plan' };
const deploy = (job = 'production'): DemoStep => ({ job, uses: 'blue-green', with: { phase: 'deploy' } });
const promote = (job = 'production'): DemoStep => ({ job, uses: 'blue-green', with: { phase: 'promote' } });

/** deploy.yml's jobs the pushes to main leave out. */
const deployLeftOut = {
  gates: NO_REPOSITORY,
  build: NO_REPOSITORY,
  approve: NO_APPROVAL,
  'end-canary': NO_APPROVAL,
  'post-deploy': AFTER,
  checklist: AFTER,
};

export const SCENARIOS: readonly DemoScenario[] = [
  {
    workflow: 'deploy.yml',
    branch: 'main',
    message: 'feat: stream agent steps',
    canary: 'healthy',
    canarySeconds: 10,
    steps: [
      plan,
      { job: 'staging', uses: 'deploy-staging' },
      deploy(),
      { job: 'production', uses: 'canary-monitor', with: { mode: 'canary' } },
      promote('promote'),
    ],
    leftOut: deployLeftOut,
  },
  {
    // A release whose canary is bad in production only: it passes a quiet staging, and the
    // monitor fails it early and rolls it back on its own, so promote never runs.
    workflow: 'deploy.yml',
    branch: 'main',
    message: 'perf: new cache',
    canary: 'answers 20% errors',
    canarySeconds: 60,
    steps: [
      plan,
      { job: 'staging', uses: 'deploy-staging' },
      deploy(),
      { job: 'production', uses: 'canary-monitor', with: { mode: 'canary' } },
    ],
    leftOut: { ...deployLeftOut, promote: 'the canary failed and was rolled back by the monitor' },
  },
  {
    workflow: 'model-deploy.yml',
    branch: 'main',
    message: "[train-model] retrain on last week's data",
    canary: 'healthy',
    canarySeconds: 10,
    steps: [
      plan,
      {
        job: 'train',
        uses: 'compare-metrics',
        note: 'the caller’s training, drift and performance commands are not run: the demo writes the two metrics reports that compare-metrics reads',
      },
      deploy(),
      { job: 'production', uses: 'canary-monitor', with: { mode: 'ramp', model: 'true' } },
      promote(),
    ],
    leftOut: { build: NO_REPOSITORY, 'post-deploy': AFTER, checklist: AFTER },
  },
  {
    // hotfix.yml: Slack at once, the critical tests only, no staging, then production with
    // reinforced monitoring (the plan's tighter policy, a critical incident on rollback).
    workflow: 'hotfix.yml',
    branch: 'hotfix/timeout',
    message: 'fix: agent timeout',
    canary: 'healthy',
    canarySeconds: 10,
    steps: [
      plan,
      { job: 'notify-start', name: 'Hotfix started' },
      deploy(),
      { job: 'production', uses: 'canary-monitor', with: { mode: 'canary', 'incident-severity': 'critical' } },
      promote(),
    ],
    leftOut: { 'critical-tests': NO_REPOSITORY, build: NO_REPOSITORY, 'post-deploy': AFTER, checklist: AFTER },
  },
];

/** The jobs left out, each reason said once: "gates and build (<why>); approve (<why>)". */
export function leftOutText(leftOut: Record<string, string>): string {
  const byReason = new Map<string, string[]>();
  for (const [job, why] of Object.entries(leftOut)) byReason.set(why, [...(byReason.get(why) ?? []), job]);
  const names = (jobs: string[]) =>
    jobs.length === 1 ? jobs[0]! : `${jobs.slice(0, -1).join(', ')} and ${jobs.at(-1)!}`;
  return [...byReason].map(([why, jobs]) => `${names(jobs)} (${why})`).join('; ');
}

/** The jobs the demo runs, in order, once each: "plan → staging → production → promote". */
export function jobsRun(scenario: DemoScenario): string {
  return scenario.steps
    .map((step) => step.job)
    .filter((job, index, jobs) => jobs.indexOf(job) === index)
    .join(' → ');
}
