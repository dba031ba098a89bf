import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { runWorkflow } from './workflow/index';

/**
 * The reusable workflows pass every host input on: a team whose hosts need a setting (an
 * unprivileged deploy user's `nginx-command: sudo -n /usr/local/sbin/agent-loop-nginx`, another
 * state directory, another access log) sets it once on the workflow, and every step of the suite
 * that takes it gets it from the workflow's input of the same name, with the action's default.
 * The host inputs are read from the action.yml files themselves: the keys a `hosts` list item may
 * override, as each action's `hosts` description lists them. Each check is a pure function run on
 * the real files and on bad samples, so it is shown to fail.
 */

const root = join(import.meta.dirname, '..');
const SUITE = 'org/agent-loop-actions/';

interface ActionYaml {
  inputs?: Record<string, { description?: string; required?: boolean; default?: string }>;
}
interface Step {
  id?: string;
  name?: string;
  uses?: string;
  with?: Record<string, unknown>;
}
interface Trigger {
  inputs?: Record<string, { default?: unknown; type?: string; description?: string }>;
}
interface Workflow {
  on?: Record<string, Trigger | null>;
  jobs?: Record<string, { steps?: Step[] }>;
}

const actionNames = readdirSync(join(root, 'actions')).filter((name) =>
  existsSync(join(root, 'actions', name, 'action.yml')),
);
const actions = new Map(
  actionNames.map((name) => [
    name,
    parse(readFileSync(join(root, 'actions', name, 'action.yml'), 'utf8')) as ActionYaml,
  ]),
);

/** The per-host settings: the keys of a `hosts` list item (`mappings {host, blue-port, …}` in each action's hosts description), without `host`. */
function hostInputNames(loaded: ReadonlyMap<string, ActionYaml>): string[] {
  const names = new Set<string>();
  for (const action of loaded.values()) {
    const keys = /mappings \{([^}]*)\}/.exec(action.inputs?.hosts?.description ?? '')?.[1];
    for (const key of keys?.split(',') ?? []) if (key.trim() !== 'host') names.add(key.trim());
  }
  return [...names].sort();
}

const HOST_INPUTS = hostInputNames(actions);
/**
 * What the workflows pass on: the host inputs, and the router that moves every host's traffic (a
 * host's haproxy-socket and haproxy-backend are hosts list keys only, no action's inputs).
 */
const PASSED_INPUTS = [...HOST_INPUTS, 'router'].sort();

/**
 * Problems of one reusable workflow: a suite step that takes a host input and does not get it
 * from the workflow's input of that name (`${{ inputs.NAME }}`, or with the action's default as a
 * fallback for triggers without inputs, such as a schedule); a host input the workflow's triggers
 * do not declare, or declare with another default than the action's; known hosts that do not come
 * from the SSH_KNOWN_HOSTS secret.
 */
function hostInputProblems(
  workflow: Workflow,
  loadAction: (name: string) => ActionYaml | undefined,
  hostInputs: readonly string[],
): string[] {
  const problems: string[] = [];
  // The triggers whose inputs fill the `inputs` context: the call, and a manual run that declares inputs.
  const declaring = Object.entries(workflow.on ?? {}).filter(
    ([event, trigger]) => event === 'workflow_call' || (event === 'workflow_dispatch' && trigger?.inputs !== undefined),
  );
  for (const [jobName, job] of Object.entries(workflow.jobs ?? {})) {
    (job.steps ?? []).forEach((step, index) => {
      const name = /^org\/agent-loop-actions\/([a-z0-9-]+)@/.exec(step.uses ?? '')?.[1];
      const action = name ? loadAction(name) : undefined;
      if (!name || !action) return;
      const where = `jobs.${jobName}.steps[${step.id ?? step.name ?? index}] (${name})`;
      const given = step.with ?? {};
      for (const input of hostInputs) {
        const spec = action.inputs?.[input];
        if (!spec) continue;
        const fallback =
          spec.default === undefined || spec.default === ''
            ? ''
            : `( \\|\\| '${spec.default.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}')?`;
        const value = given[input];
        if (value === undefined) problems.push(`${where}: takes ${input}, but the workflow does not pass it`);
        else if (
          typeof value !== 'string' ||
          !new RegExp(`^\\$\\{\\{ inputs\\.${input}${fallback} \\}\\}$`).test(value)
        )
          problems.push(`${where}: ${input} is ${JSON.stringify(value)}, not \${{ inputs.${input} }}`);
        for (const [event, trigger] of declaring) {
          const declared = trigger?.inputs?.[input];
          if (!declared) problems.push(`on.${event}: no input ${input} (${where} takes it)`);
          else if (String(declared.default ?? '') !== String(spec.default ?? ''))
            problems.push(
              `on.${event}.inputs.${input}: default ${JSON.stringify(declared.default)}, the action's is ${JSON.stringify(spec.default)}`,
            );
        }
      }
      if (action.inputs?.['ssh-known-hosts'] && given['ssh-known-hosts'] !== '${{ secrets.SSH_KNOWN_HOSTS }}')
        problems.push(`${where}: ssh-known-hosts does not come from secrets.SSH_KNOWN_HOSTS`);
    });
  }
  return [...new Set(problems)];
}

const reusable = readdirSync(join(root, '.github', 'workflows'))
  .filter((file) => /\.ya?ml$/.test(file))
  .map((file) => ({
    file,
    workflow: parse(readFileSync(join(root, '.github', 'workflows', file), 'utf8')) as Workflow,
  }))
  .filter(({ workflow }) => workflow.on && 'workflow_call' in workflow.on);

it('the host inputs are the per-host settings every host-taking action lists, nginx-command and access-log among them', () => {
  expect(HOST_INPUTS).toEqual([
    'access-log',
    'blue-port',
    'green-port',
    'haproxy-backend',
    'haproxy-socket',
    'nginx-command',
    'nginx-conf-dir',
    'nginx-status-port',
    'state-dir',
  ]);
  // Per host only: no action takes them as inputs, so no workflow has them to pass.
  for (const action of actions.values())
    expect(Object.keys(action.inputs ?? {}).filter((name) => name.startsWith('haproxy-'))).toEqual([]);
  // Each is an input of the actions whose hosts list names it (access-log: the deploy and the monitor).
  expect(actions.get('blue-green')?.inputs?.['access-log']?.default).toBe(
    actions.get('canary-monitor')?.inputs?.['access-log']?.default,
  );
});

describe.each(reusable.map(({ file }) => file))('.github/workflows/%s', (file) => {
  const { workflow } = reusable.find((entry) => entry.file === file)!;

  it('passes every host input an action step takes from its own input of the same name, with the action default', () => {
    expect(hostInputProblems(workflow, (name) => actions.get(name), PASSED_INPUTS)).toEqual([]);
  });
});

it('every reusable workflow that deploys, monitors or rolls back takes nginx-command and router', () => {
  const acting = reusable.filter(({ workflow }) =>
    JSON.stringify(workflow.jobs).match(
      /org\/agent-loop-actions\/(blue-green|canary-monitor|rollback|maintenance|deploy-staging)@/,
    ),
  );
  expect(acting.map(({ file }) => file).sort()).toEqual([
    'deploy.yml',
    'hotfix.yml',
    'maintenance.yml',
    'model-deploy.yml',
    'rollback.yml',
  ]);
  for (const { file, workflow } of acting) {
    expect(Object.keys((workflow.on?.workflow_call as Trigger).inputs ?? {}), file).toContain('nginx-command');
    expect((workflow.on?.workflow_call as Trigger).inputs?.router?.default, file).toBe('nginx');
  }
});

describe('the check fails on bad samples', () => {
  const sample = (text: string) => parse(text) as Workflow;
  const load = (name: string) => actions.get(name);

  it('a step that does not get nginx-command, or gets it from elsewhere, and an input the workflow does not declare', () => {
    const bad = sample(`on:
  workflow_call:
    inputs:
      app: { type: string, required: true }
      state-dir: { type: string, default: /srv/other }
jobs:
  production:
    steps:
      - id: deploy
        uses: ${SUITE}blue-green@v1
        with:
          ssh-known-hosts: \${{ secrets.KNOWN }}
          state-dir: \${{ inputs.state-dir }}
          nginx-command: sudo -n /usr/local/sbin/agent-loop-nginx
`);
    const problems = hostInputProblems(bad, load, HOST_INPUTS);
    expect(problems).toContain(
      'jobs.production.steps[deploy] (blue-green): takes access-log, but the workflow does not pass it',
    );
    expect(problems).toContain(
      'jobs.production.steps[deploy] (blue-green): nginx-command is "sudo -n /usr/local/sbin/agent-loop-nginx", not ${{ inputs.nginx-command }}',
    );
    expect(problems).toContain(
      'on.workflow_call: no input nginx-command (jobs.production.steps[deploy] (blue-green) takes it)',
    );
    expect(problems).toContain(
      'on.workflow_call.inputs.state-dir: default "/srv/other", the action\'s is "/var/lib/agent-loop"',
    );
    expect(problems).toContain(
      'jobs.production.steps[deploy] (blue-green): ssh-known-hosts does not come from secrets.SSH_KNOWN_HOSTS',
    );
  });

  it('a manual trigger that lacks an input the call declares, and a fallback that is not the action default', () => {
    // The inputs the rollback action takes, but access-log (a rollback reads no log).
    const taken = PASSED_INPUTS.filter(
      (name) => name !== 'access-log' && actions.get('rollback')!.inputs![name] !== undefined,
    );
    const inputs = taken
      .map((name) => `      ${name}: { type: string, default: '${actions.get('rollback')!.inputs![name]!.default}' }`)
      .join('\n');
    const bad = sample(`on:
  workflow_dispatch:
    inputs:
      reason: { type: string }
  workflow_call:
    inputs:
${inputs}
jobs:
  rollback:
    steps:
      - uses: ${SUITE}rollback@v1
        with:
          ssh-known-hosts: \${{ secrets.SSH_KNOWN_HOSTS }}
${taken
  .map(
    (name) =>
      `          ${name}: \${{ inputs.${name} || '${name === 'nginx-command' ? 'sudo nginx' : actions.get('rollback')!.inputs![name]!.default}' }}`,
  )
  .join('\n')}
`);
    const problems = hostInputProblems(bad, load, PASSED_INPUTS);
    expect(problems).toContain(
      'jobs.rollback.steps[0] (rollback): nginx-command is "${{ inputs.nginx-command || \'sudo nginx\' }}", not ${{ inputs.nginx-command }}',
    );
    expect(problems).toContain('on.workflow_dispatch: no input state-dir (jobs.rollback.steps[0] (rollback) takes it)');
    expect(problems.filter((problem) => problem.startsWith('on.workflow_call'))).toEqual([]);
  });
});

/**
 * The inputs that get a run past what an earlier run left on the hosts, which the actions' messages
 * and docs/runbook.md tell an operator to set: every reusable workflow takes them (true/false, with
 * the action's default and description) and hands them, as they are, to every suite step that reads
 * them. No fallback: `inputs.break-stale-lock || 'true'` would turn a false into true; an empty
 * value (a schedule) is the action's default.
 */
const RECOVERY_INPUTS = ['break-stale-lock', 'take-over-lock', 'repair-state'];

function recoveryInputProblems(workflow: Workflow, loadAction: (name: string) => ActionYaml | undefined): string[] {
  const problems: string[] = [];
  const declaring = Object.entries(workflow.on ?? {}).filter(
    ([event, trigger]) => event === 'workflow_call' || (event === 'workflow_dispatch' && trigger?.inputs !== undefined),
  );
  for (const [jobName, job] of Object.entries(workflow.jobs ?? {})) {
    (job.steps ?? []).forEach((step, index) => {
      const name = /^org\/agent-loop-actions\/([a-z0-9-]+)@/.exec(step.uses ?? '')?.[1];
      const action = name ? loadAction(name) : undefined;
      if (!name || !action) return;
      const where = `jobs.${jobName}.steps[${step.id ?? step.name ?? index}] (${name})`;
      for (const input of RECOVERY_INPUTS) {
        const spec = action.inputs?.[input];
        if (!spec) continue;
        const value = step.with?.[input];
        if (value !== `\${{ inputs.${input} }}`)
          problems.push(`${where}: ${input} is ${JSON.stringify(value)}, not \${{ inputs.${input} }}`);
        for (const [event, trigger] of declaring) {
          const declared = trigger?.inputs?.[input];
          if (!declared) problems.push(`on.${event}: no input ${input} (${where} takes it)`);
          else {
            if (declared.type !== 'boolean') problems.push(`on.${event}.inputs.${input}: not type boolean`);
            if (String(declared.default) !== spec.default)
              problems.push(`on.${event}.inputs.${input}: default ${String(declared.default)}, not ${spec.default}`);
            if (declared.description?.replace(/\s+/g, ' ') !== spec.description?.replace(/\s+/g, ' '))
              problems.push(`on.${event}.inputs.${input}: not the action's description`);
          }
        }
      }
    });
  }
  return [...new Set(problems)];
}

describe('the inputs past an earlier run (break-stale-lock, take-over-lock, repair-state)', () => {
  it.each(reusable.map(({ file }) => file))('%s takes them and hands them to every step that reads them', (file) => {
    const { workflow } = reusable.find((entry) => entry.file === file)!;
    expect(recoveryInputProblems(workflow, (name) => actions.get(name))).toEqual([]);
  });

  it('every action that takes a lock reads them, with one description', () => {
    const taking = [...actions].filter(([, action]) => action.inputs?.['take-over-lock']).map(([name]) => name);
    expect(taking.sort()).toEqual(['blue-green', 'canary-monitor', 'deploy-staging', 'maintenance', 'rollback']);
    for (const input of RECOVERY_INPUTS)
      expect(new Set(taking.map((name) => actions.get(name)!.inputs![input]!.description)).size, input).toBe(1);
  });

  it('the check fails on a fallback, a missing input and a string input', () => {
    const bad = parse(`on:
  workflow_call:
    inputs:
      take-over-lock: { type: string, default: 'false' }
jobs:
  rollback:
    steps:
      - id: rollback
        uses: ${SUITE}rollback@v1
        with:
          break-stale-lock: \${{ inputs.break-stale-lock || 'true' }}
          take-over-lock: \${{ inputs.take-over-lock }}
`) as Workflow;
    const problems = recoveryInputProblems(bad, (name) => actions.get(name));
    expect(problems).toContain(
      'jobs.rollback.steps[rollback] (rollback): break-stale-lock is "${{ inputs.break-stale-lock || \'true\' }}", ' +
        'not ${{ inputs.break-stale-lock }}',
    );
    expect(problems).toContain(
      'jobs.rollback.steps[rollback] (rollback): repair-state is undefined, not ${{ inputs.repair-state }}',
    );
    expect(problems).toContain(
      'on.workflow_call: no input repair-state (jobs.rollback.steps[rollback] (rollback) takes it)',
    );
    expect(problems).toContain('on.workflow_call.inputs.take-over-lock: not type boolean');
    expect(problems).toContain("on.workflow_call.inputs.take-over-lock: not the action's description");
  });
});

/**
 * rollback.yml executed with GitHub's own parser and evaluator (test/workflow/), run by hand and
 * called from another workflow, against a copy of this repository's actions whose rollback and
 * checklist record the inputs the runner gives them (INPUT_*) instead of touching hosts.
 */
describe('rollback.yml, executed, hands the recovery inputs to the rollback action', () => {
  const RECORD = [
    "import { appendFileSync } from 'node:fs';",
    'const inputs = Object.fromEntries(',
    "  Object.entries(process.env).filter(([name]) => name.startsWith('INPUT_')).map(([name, value]) => [name.slice(6).toLowerCase(), value]),",
    ');',
    'appendFileSync(process.env.GITHUB_OUTPUT, `inputs<<EOF_INPUTS\\n${JSON.stringify(inputs)}\\nEOF_INPUTS\\n`);',
    '',
  ].join('\n');

  /** A git repository holding rollback.yml, a caller of it, and recording stand-ins of the rollback and checklist actions. */
  function recordingRepo(): string {
    const repo = mkdtempSync(join(tmpdir(), 'rollback-inputs-'));
    mkdirSync(join(repo, '.github', 'workflows'), { recursive: true });
    cpSync(join(root, '.github', 'workflows', 'rollback.yml'), join(repo, '.github', 'workflows', 'rollback.yml'));
    for (const name of ['rollback', 'checklist']) {
      const metadata = parse(readFileSync(join(root, 'actions', name, 'action.yml'), 'utf8')) as Record<
        string,
        unknown
      >;
      mkdirSync(join(repo, name));
      writeFileSync(
        join(repo, name, 'action.yml'),
        stringify({ ...metadata, runs: { using: 'node24', main: 'record.mjs' } }),
      );
      writeFileSync(join(repo, name, 'record.mjs'), RECORD);
    }
    writeFileSync(
      join(repo, '.github', 'workflows', 'caller.yml'),
      [
        'on: workflow_dispatch',
        'permissions: {}',
        'jobs:',
        '  back:',
        `    uses: ${SUITE}.github/workflows/rollback.yml@v1`,
        '    permissions: { contents: read, deployments: write, issues: write }',
        '    with: { app: web, reason: stale lock, hosts: deploy@10.0.0.5, repair-state: true, break-stale-lock: false }',
        '',
      ].join('\n'),
    );
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, '-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args]);
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-q', '-m', 'Initial');
    return repo;
  }

  // The recovery inputs, and the hosts (an expression folded over two lines of rollback.yml).
  const received = (json: string | undefined) => {
    const inputs = JSON.parse(json ?? '{}') as Record<string, string>;
    return Object.fromEntries([...RECOVERY_INPUTS, 'hosts'].map((name) => [name, inputs[name]]));
  };

  it('run by hand with take-over-lock, and called with repair-state and break-stale-lock false', async () => {
    const repo = recordingRepo();
    const manual = await runWorkflow({
      workflow: join(repo, '.github', 'workflows', 'rollback.yml'),
      event: 'workflow_dispatch',
      repo,
      actionsRepo: repo,
      inputs: { app: 'web', reason: 'an operator stop sign', hosts: 'deploy@10.0.0.5', 'take-over-lock': 'true' },
    });
    expect(manual.conclusion, manual.errors.join('\n')).toBe('success');
    expect(received(manual.jobs.rollback?.steps.rollback?.outputs.inputs)).toEqual({
      'break-stale-lock': 'true',
      'take-over-lock': 'true',
      'repair-state': 'false',
      hosts: 'deploy@10.0.0.5',
    });

    const called = await runWorkflow({
      workflow: join(repo, '.github', 'workflows', 'caller.yml'),
      event: 'workflow_dispatch',
      repo,
      actionsRepo: repo,
    });
    expect(called.conclusion, called.errors.join('\n')).toBe('success');
    expect(received(called.jobs['back/rollback']?.steps.rollback?.outputs.inputs)).toEqual({
      'break-stale-lock': 'false',
      'take-over-lock': 'false',
      'repair-state': 'true',
      hosts: 'deploy@10.0.0.5',
    });
  });
});
