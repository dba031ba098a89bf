// Regenerates the input and output tables in README.md from each action.yml, between
// `<!-- action:NAME:start -->` and `<!-- action:NAME:end -->`. With --check, fails when stale.
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const root = new URL('..', import.meta.url).pathname;

interface ActionYaml {
  inputs?: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs?: Record<string, { description: string }>;
}

const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

export function actionTables(name: string): string {
  const action = parse(readFileSync(join(root, 'actions', name, 'action.yml'), 'utf8')) as ActionYaml;
  const inputs = Object.entries(action.inputs ?? {}).map(([input, spec]) => `| \`${input}\` | ${spec.required ? 'yes' : 'no'} | ${spec.default ? `\`${cell(spec.default)}\`` : ''} | ${cell(spec.description)} |`);
  const outputs = Object.entries(action.outputs ?? {}).map(([output, spec]) => `| \`${output}\` | ${cell(spec.description)} |`);
  return ['| input | required | default | description |', '| --- | --- | --- | --- |', ...inputs, '', '| output | description |', '| --- | --- |', ...outputs].join('\n');
}

export function renderReadme(readme: string): string {
  let text = readme;
  for (const name of readdirSync(join(root, 'actions'))) {
    if (!existsSync(join(root, 'actions', name, 'action.yml'))) continue;
    const start = `<!-- action:${name}:start -->`;
    const end = `<!-- action:${name}:end -->`;
    const from = text.indexOf(start);
    const to = text.indexOf(end);
    if (from < 0 || to < 0) throw new Error(`README.md has no ${start} … ${end} section for actions/${name}`);
    text = `${text.slice(0, from + start.length)}\n${actionTables(name)}\n${text.slice(to)}`;
  }
  return text;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() as string)) {
  const path = join(root, 'README.md');
  const current = readFileSync(path, 'utf8');
  const next = renderReadme(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      console.error('README.md input/output tables are out of date: run `npm run docs`.');
      process.exit(1);
    }
    console.log('README.md tables match action.yml.');
  } else {
    writeFileSync(path, next);
    console.log('README.md tables regenerated.');
  }
}
