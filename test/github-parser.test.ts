import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { parseAction } from '@actions/workflow-parser/actions/index';
import { describe, expect, it } from 'vitest';

/** Every action.yml and workflow loads with GitHub's own parser, with no error GitHub would show. */

const root = join(import.meta.dirname, '..');
const trace = new NoOperationTraceWriter();
const actionFiles = readdirSync(join(root, 'actions')).flatMap((name) =>
  [join('actions', name, 'action.yml'), join(name, 'action.yml')].filter((file) => existsSync(join(root, file))),
);
const workflowFiles = ['.github/workflows', 'examples'].flatMap((dir) =>
  readdirSync(join(root, dir))
    .filter((file) => file.endsWith('.yml'))
    .map((file) => join(dir, file)),
);

function actionErrors(name: string, content: string): string[] {
  return parseAction({ name, content }, trace)
    .context.errors.getErrors()
    .map((error) => error.message);
}

describe("GitHub's parser", () => {
  it('finds the actions at both places GitHub resolves them from', () => {
    expect(actionFiles.length).toBe(2 * readdirSync(join(root, 'actions')).length);
  });

  it.each(actionFiles)('loads %s', (file) => {
    expect(actionErrors(file, readFileSync(join(root, file), 'utf8'))).toEqual([]);
  });

  it('refuses what GitHub refuses, so the check can fail: an expression in a description, an unknown icon', () => {
    const base = 'name: x\ndescription: y\nruns:\n  using: node24\n  main: dist/index.js\n';
    expect(
      actionErrors('a.yml', `${base}inputs:\n  needs:\n    description: 'as JSON: \${{ toJSON(needs) }}'\n`),
    ).toEqual(["a.yml (Line: 8, Col: 18): Unrecognized named-value: 'needs'"]);
    expect(actionErrors('b.yml', `${base}branding:\n  icon: tool\n  color: blue\n`)).toEqual([
      "b.yml (Line: 7, Col: 9): Unexpected value 'tool'",
    ]);
  });

  it.each(workflowFiles)('loads and converts %s', async (file) => {
    const parsed = parseWorkflow({ name: file, content: readFileSync(join(root, file), 'utf8') }, trace);
    const template = await convertWorkflowTemplate(parsed.context, parsed.value!);
    const errors = [
      ...parsed.context.errors.getErrors().map((error) => error.message),
      ...(template.errors ?? []).map((error) => error.Message),
    ];
    expect(errors).toEqual([]);
    expect(template.jobs.length).toBeGreaterThan(0);
  });
});
