import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generatedFiles } from '../scripts/docs';

/** Every action.yml says what the code reads, in the form GitHub expects, and the README follows it. */

const root = join(import.meta.dirname, '..');
const actions = readdirSync(join(root, 'actions')).filter((name) =>
  existsSync(join(root, 'actions', name, 'action.yml')),
);

interface ActionYaml {
  name: string;
  description: string;
  branding?: { icon: string; color: string };
  inputs: Record<string, { description: string; required?: boolean; default?: unknown }>;
  outputs: Record<string, { description: string }>;
  runs: { using: string; main: string };
}

describe.each(actions)('actions/%s', (name) => {
  const action = parse(readFileSync(join(root, 'actions', name, 'action.yml'), 'utf8')) as ActionYaml;

  it('runs dist/index.js on node24 and is described and branded', () => {
    // Actions that take host locks clean up after a killed main step in a post step (same bundle).
    const takesLocks = ['blue-green', 'canary-monitor', 'rollback'].includes(name);
    expect(action.runs).toEqual({
      using: 'node24',
      main: 'dist/index.js',
      ...(takesLocks ? { post: 'dist/index.js' } : {}),
    });
    expect(action.name.length).toBeGreaterThan(3);
    expect(action.description.length).toBeGreaterThan(10);
    expect(action.branding?.icon).toBeTruthy();
    expect(existsSync(join(root, 'actions', name, 'dist', 'index.js'))).toBe(true);
  });

  it('describes every input and output, with string defaults', () => {
    for (const [input, spec] of Object.entries(action.inputs)) {
      expect(spec.description, input).toMatch(/\w{3,}/);
      if (spec.default !== undefined) expect(typeof spec.default, `${input} default`).toBe('string');
    }
    for (const [output, spec] of Object.entries(action.outputs)) expect(spec.description, output).toMatch(/\w{3,}/);
  });

  it('declares exactly the inputs and outputs its code uses', async () => {
    const main = (await import(pathToFileURL(join(root, 'actions', name, 'src', 'main.ts')).href)) as {
      inputFields: Record<string, unknown>;
      Outputs: Record<string, string>;
    };
    expect(Object.keys(action.inputs).sort()).toEqual(Object.keys(main.inputFields).sort());
    expect(Object.keys(action.outputs).sort()).toEqual(Object.values(main.Outputs).sort());
  });

  it("gives every input the same default in action.yml as in its code: the runner's default and an empty input read alike", async () => {
    const main = (await import(pathToFileURL(join(root, 'actions', name, 'src', 'main.ts')).href)) as {
      inputFields: Record<string, { safeParse(value: string): { success: boolean; data?: unknown } }>;
    };
    const differ: string[] = [];
    for (const [input, spec] of Object.entries(action.inputs)) {
      const field = main.inputFields[input];
      if (!field || spec.default === undefined) continue;
      const empty = field.safeParse('');
      const declared = field.safeParse(String(spec.default));
      if (!empty.success || !declared.success || JSON.stringify(empty.data) !== JSON.stringify(declared.data)) {
        differ.push(
          `${input}: action.yml ${JSON.stringify(spec.default)} reads as ${JSON.stringify(declared.data)}, the code's default is ${JSON.stringify(empty.data)}`,
        );
      }
    }
    expect(differ).toEqual([]);
  });
});

it('README tables and every actions/NAME/README.md match action.yml (npm run docs)', () => {
  const stale = generatedFiles()
    .filter((file) => file.next !== file.current)
    .map((file) => file.path.slice(root.length));
  expect(stale).toEqual([]);
});

it("each action's README shows a step with every required input, and only inputs the action has", () => {
  for (const name of readdirSync(join(root, 'actions')).filter((entry) =>
    existsSync(join(root, 'actions', entry, 'action.yml')),
  )) {
    const action = parse(readFileSync(join(root, 'actions', name, 'action.yml'), 'utf8')) as {
      inputs?: Record<string, { required?: boolean }>;
    };
    const readme = readFileSync(join(root, 'actions', name, 'README.md'), 'utf8');
    const snippet = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet, name).toBeDefined();
    const [step] = parse(snippet!) as Array<{ uses: string; with?: Record<string, unknown> }>;
    expect(step!.uses).toBe(`org/agent-loop-actions/${name}@v1`);
    const given = Object.keys(step!.with ?? {});
    const inputs = action.inputs ?? {};
    expect(
      given.filter((input) => !(input in inputs)),
      name,
    ).toEqual([]);
    expect(
      Object.keys(inputs).filter((input) => inputs[input]!.required && !given.includes(input)),
      name,
    ).toEqual([]);
  }
});
