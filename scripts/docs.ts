// Regenerates, from each action.yml, the input and output tables in README.md (between
// `<!-- action:NAME:start -->` and `<!-- action:NAME:end -->`) and each action's own
// actions/NAME/README.md (what it does, a step that uses it, its inputs and outputs). With
// --check, fails when one is stale.
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const root = new URL('..', import.meta.url).pathname;

interface ActionYaml {
  name?: string;
  description?: string;
  inputs?: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs?: Record<string, { description: string }>;
}

const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

export function actionTables(name: string): string {
  const action = parse(readFileSync(join(root, 'actions', name, 'action.yml'), 'utf8')) as ActionYaml;
  const inputs = Object.entries(action.inputs ?? {}).map(
    ([input, spec]) =>
      `| \`${input}\` | ${spec.required ? 'yes' : 'no'} | ${spec.default ? `\`${cell(spec.default)}\`` : ''} | ${cell(spec.description)} |`,
  );
  const outputs = Object.entries(action.outputs ?? {}).map(
    ([output, spec]) => `| \`${output}\` | ${cell(spec.description)} |`,
  );
  return [
    '| input | required | default | description |',
    '| --- | --- | --- | --- |',
    ...inputs,
    '',
    '| output | description |',
    '| --- | --- |',
    ...outputs,
  ].join('\n');
}

export function renderReadme(readme: string): string {
  let text = readme;
  for (const name of readdirSync(join(root, 'actions'))) {
    if (!existsSync(join(root, 'actions', name, 'action.yml'))) continue;
    const start = `<!-- action:${name}:start -->`;
    const end = `<!-- action:${name}:end -->`;
    const from = text.indexOf(start);
    const to = text.indexOf(end);
    if (from < 0 || to < 0) continue; // the tables live in actions/NAME/README.md
    text = `${text.slice(0, from + start.length)}\n${actionTables(name)}\n${text.slice(to)}`;
  }
  return text;
}

/**
 * The value a step gives each input a minimal use needs: the names of README step 2 for hosts and
 * credentials, and what the reusable workflows pass for the others.
 */
const EXAMPLE_VALUES: Record<string, string> = {
  hosts: '${{ vars.PRODUCTION_HOSTS }}',
  'ssh-private-key': '${{ secrets.SSH_PRIVATE_KEY }}',
  'ssh-known-hosts': '${{ secrets.SSH_KNOWN_HOSTS }}',
  app: 'agent-loop',
  needs: '${{ toJSON(needs) }}',
  candidate: 'reports/candidate-metrics.json',
  baseline: 'reports/baseline-metrics.json',
  rules: '|\n  - { metric: accuracy, direction: higher, max-regression: 0.01 }',
  'base-url': '${{ vars.STAGING_URL }}',
  'github-token': '${{ github.token }}',
};

const HOST_INPUTS = ['hosts', 'ssh-private-key', 'ssh-known-hosts'];

/** A step that uses the action with its required inputs, and the hosts with their key and host keys wherever it takes hosts. */
export function exampleStep(name: string, action: ActionYaml): string {
  const takesHosts = action.inputs?.hosts !== undefined;
  const inputs = Object.entries(action.inputs ?? {}).filter(
    ([input, spec]) => spec.required || (takesHosts && HOST_INPUTS.includes(input)),
  );
  const lines = [`- uses: org/agent-loop-actions/${name}@v1`];
  if (inputs.length > 0) lines.push('  with:');
  for (const [input] of inputs) {
    const value = EXAMPLE_VALUES[input];
    if (value === undefined)
      throw new Error(
        `scripts/docs.ts has no example value for ${name}'s required input ${input}: add one to EXAMPLE_VALUES`,
      );
    const [first, ...rest] = value.split('\n');
    lines.push(`    ${input}: ${first}`, ...rest.map((line) => `    ${line}`));
  }
  return lines.join('\n');
}

/** An action's own README.md, from its action.yml alone. */
export function actionReadme(name: string): string {
  const action = parse(readFileSync(join(root, 'actions', name, 'action.yml'), 'utf8')) as ActionYaml;
  return [
    '<!-- Generated from action.yml by `npm run docs`: edit action.yml, then run it. -->',
    `# ${action.name ?? name}`,
    '',
    action.description ?? '',
    '',
    '## Use',
    '',
    '```yaml',
    exampleStep(name, action),
    '```',
    '',
    'The reusable workflows in [.github/workflows](../../.github/workflows) use it with every input they need, ' +
      "and [examples/](../../examples) calls them. The suite's [README](../../README.md) says how to prepare the hosts " +
      'and which secrets and variables to set.',
    '',
    '## Inputs and outputs',
    '',
    actionTables(name),
    '',
  ].join('\n');
}

const actionNames = (): string[] =>
  readdirSync(join(root, 'actions'))
    .filter((name) => existsSync(join(root, 'actions', name, 'action.yml')))
    .sort();

/** Every generated file with its text now and the text it should have. */
export function generatedFiles(): Array<{ path: string; current: string; next: string }> {
  const readme = join(root, 'README.md');
  const current = readFileSync(readme, 'utf8');
  return [
    { path: readme, current, next: renderReadme(current) },
    ...actionNames().map((name) => {
      const path = join(root, 'actions', name, 'README.md');
      return { path, current: existsSync(path) ? readFileSync(path, 'utf8') : '', next: actionReadme(name) };
    }),
  ];
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() as string)) {
  const files = generatedFiles();
  const stale = files.filter((file) => file.next !== file.current);
  if (process.argv.includes('--check')) {
    if (stale.length > 0) {
      console.error(
        `out of date, run \`npm run docs\`: ${stale.map((file) => file.path.slice(root.length)).join(', ')}`,
      );
      process.exit(1);
    }
    console.log(`README.md tables and ${files.length - 1} action READMEs match action.yml.`);
  } else {
    for (const file of stale) writeFileSync(file.path, file.next);
    console.log(`regenerated ${stale.length} of ${files.length} files (README.md tables, actions/*/README.md).`);
  }
}
