import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
// @ts-expect-error: a plain ESM script without types
import { shimText, syncShims } from '../scripts/shims.mjs';
import { runAction } from './lab/run-action';
import { resolveUses, usesOfMarkdown, usesOfWorkflow, type Resolution } from './support/uses';

/**
 * Every `uses:` that the README, the reusable workflows and the examples tell a user to write
 * resolves with GitHub's rules (owner/repo/PATH@ref → PATH/action.yml at the repository root,
 * owner/repo/.github/workflows/FILE@ref → a callable workflow), and the bundle each resolved
 * action.yml names runs under Node 24 the way the runner starts it.
 */

const root = join(import.meta.dirname, '..');
const REPOSITORY = 'org/agent-loop-actions';
const scratch = mkdtempSync(join(tmpdir(), 'uses-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const yamlIn = (dir: string) =>
  existsSync(join(root, dir))
    ? readdirSync(join(root, dir))
        .filter((name) => /\.ya?ml$/.test(name))
        .map((name) => `${dir}/${name}`)
    : [];
const sources = [
  ...yamlIn('.github/workflows').map((file) => ({
    file,
    found: usesOfWorkflow(readFileSync(join(root, file), 'utf8')),
  })),
  ...yamlIn('examples').map((file) => ({ file, found: usesOfWorkflow(readFileSync(join(root, file), 'utf8')) })),
  ...['README.md', ...readdirSync(join(root, 'docs')).map((name) => `docs/${name}`)].map((file) => ({
    file,
    found: usesOfMarkdown(readFileSync(join(root, file), 'utf8')),
  })),
];
const references = sources.flatMap(({ file, found }) => found.map((reference) => ({ file, ...reference })));
const suiteReferences = references.filter(({ uses }) => uses.startsWith(`${REPOSITORY}/`) || uses.startsWith('./'));

describe('GitHub resolution rules (the resolver is shown to fail)', () => {
  const resolve = (uses: string, at: 'job' | 'step', base = root) =>
    resolveUses(uses, { root: base, repository: REPOSITORY, at });

  it('does not find an action whose action.yml is only under actions/NAME (the old layout)', () => {
    const old = join(scratch, 'old-layout');
    mkdirSync(join(old, 'actions', 'blue-green', 'dist'), { recursive: true });
    cpSync(join(root, 'actions', 'blue-green', 'action.yml'), join(old, 'actions', 'blue-green', 'action.yml'));
    writeFileSync(join(old, 'actions', 'blue-green', 'dist', 'index.js'), '');
    expect(resolve(`${REPOSITORY}/blue-green@v1`, 'step', old)).toMatchObject({
      kind: 'error',
      message: 'no blue-green/action.yml or action.yaml at the repository root',
    });
    expect(resolve(`${REPOSITORY}/actions/blue-green@v1`, 'step', old)).toMatchObject({ kind: 'action' });
  });

  it('refuses a runs.main that names no file, a workflow as a step, an action as a job, and a malformed reference', () => {
    const broken = join(scratch, 'broken');
    mkdirSync(join(broken, 'x'), { recursive: true });
    writeFileSync(join(broken, 'x', 'action.yml'), "runs:\n  using: node24\n  main: '../actions/x/dist/index.js'\n");
    expect(resolve(`${REPOSITORY}/x@v1`, 'step', broken)).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/runs\.main '\.\.\/actions\/x\/dist\/index\.js' is .* which does not exist/),
    });
    expect(resolve(`${REPOSITORY}/.github/workflows/deploy.yml@v1`, 'step')).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/a step cannot call a workflow/),
    });
    expect(resolve(`${REPOSITORY}/blue-green@v1`, 'job')).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/a job can only call a reusable workflow/),
    });
    expect(resolve(`${REPOSITORY}/.github/workflows/ci.yml@v1`, 'job')).toMatchObject({
      kind: 'error',
      message: '.github/workflows/ci.yml has no on.workflow_call',
    });
    expect(resolve('blue-green@v1', 'step')).toMatchObject({ kind: 'error' });
    expect(resolve('actions/checkout@v4', 'step')).toEqual({ kind: 'external', uses: 'actions/checkout@v4' });
  });

  it('reads `uses:` from fenced YAML in Markdown only', () => {
    const text = [
      'uses: not/this@v1',
      '```sh',
      'uses: nor/this@v1',
      '```',
      '```yaml',
      '      - uses: org/agent-loop-actions/plan@v1',
      '    uses: org/agent-loop-actions/.github/workflows/deploy.yml@v1',
      '```',
    ].join('\n');
    expect(usesOfMarkdown(text)).toEqual([
      { uses: 'org/agent-loop-actions/plan@v1', at: 'step', where: 'line 6' },
      { uses: 'org/agent-loop-actions/.github/workflows/deploy.yml@v1', at: 'job', where: 'line 7' },
    ]);
  });
});

describe('the root action.yml files', () => {
  it('are in step with actions/NAME/action.yml (npm run build writes them, check-dist checks them)', () => {
    expect(syncShims({ check: true })).toEqual([]);
  });

  it('copy runs faithfully (using, pre, post, pre-if, post-if) with every path pointing back into actions/NAME', () => {
    const source = [
      'name: x',
      'inputs:',
      '  a:',
      "    description: 'A'",
      '    required: true',
      'runs:',
      "  using: 'node24'",
      "  pre: 'dist/setup/index.js'",
      "  pre-if: runner.os == 'Linux'",
      "  main: 'dist/index.js'",
      "  post: 'dist/cleanup/index.js'",
      '  post-if: success()',
      '',
    ].join('\n');
    const shim = parse(shimText('x', source) as string) as { inputs: unknown; runs: unknown };
    expect(shim.inputs).toEqual({ a: { description: 'A', required: true } });
    expect(shim.runs).toEqual({
      using: 'node24',
      pre: '../actions/x/dist/setup/index.js',
      'pre-if': "runner.os == 'Linux'",
      main: '../actions/x/dist/index.js',
      post: '../actions/x/dist/cleanup/index.js',
      'post-if': 'success()',
    });
  });
});

describe('every uses: a user is told to write', () => {
  it('was found (README, reusable workflows, examples)', () => {
    expect(suiteReferences.length).toBeGreaterThan(20);
    expect(new Set(sources.filter(({ found }) => found.length > 0).map(({ file }) => file))).toContain('README.md');
  });

  it.each(references.map(({ file, where, uses, at }) => [`${file} ${where}: ${uses}`, uses, at] as const))(
    '%s resolves',
    (_label, uses, at) => {
      const resolved = resolveUses(uses, { root, repository: REPOSITORY, at });
      expect(resolved.kind === 'error' ? resolved.message : 'ok').toBe('ok');
    },
  );
});

describe('each resolved bundle runs the way the runner starts it', () => {
  const actions = new Map<string, Extract<Resolution, { kind: 'action' }>>();
  for (const { uses, at } of suiteReferences) {
    const resolved = resolveUses(uses, { root, repository: REPOSITORY, at });
    if (resolved.kind === 'action') actions.set(resolved.metadata, resolved);
  }

  it('covers every action of the suite', () => {
    const named = [...actions.values()].map(({ dir }) => dir.slice(root.length + 1)).sort();
    const all = readdirSync(join(root, 'actions')).filter((name) =>
      existsSync(join(root, 'actions', name, 'action.yml')),
    );
    // Every action the documents mention resolves from the root; host-setup, dora-report … included when mentioned.
    for (const name of named) expect(all).toContain(name);
    expect(named.length).toBeGreaterThanOrEqual(7);
  });

  it.each([...actions.values()].map((resolved) => [resolved.uses.replace(/@.*/, ''), resolved] as const))(
    '%s: runs.main starts under Node 24 and validates its inputs',
    async (_name, resolved) => {
      const metadata = parse(readFileSync(resolved.metadata, 'utf8')) as {
        inputs?: Record<string, { required?: boolean }>;
      };
      const result = await runAction({ action: 'resolved', entry: resolved.files.main!, inputs: {} });
      expect(result.stderr).not.toMatch(/Cannot find module|ReferenceError|SyntaxError/);
      const required = Object.entries(metadata.inputs ?? {}).find(([, spec]) => spec.required === true)?.[0];
      if (required) {
        // With no inputs the action stops at its first check and names the missing input.
        expect(result.code).toBe(1);
        expect(result.stdout).toContain(`::error::Input '${required}'`);
      } else {
        // No required input (plan): it runs to the end on the runner's push event and writes its outputs.
        expect(result.code).toBe(0);
        expect(Object.keys(result.outputs).length).toBeGreaterThan(0);
      }
      if (resolved.files.post) {
        const post = await runAction({ action: 'resolved', entry: resolved.files.post, inputs: {} });
        expect(post.stderr).not.toMatch(/Cannot find module|ReferenceError|SyntaxError/);
      }
    },
    60_000,
  );
});
