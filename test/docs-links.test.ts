import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

/**
 * The README and docs/ link to each other, to the actions' READMEs and to files of the
 * repository: every relative link must reach a file, and every `#anchor` a heading of that file,
 * as GitHub makes anchors from headings (lower case, punctuation dropped, spaces to hyphens).
 */

const root = join(import.meta.dirname, '..');
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs')).map((name) => `docs/${name}`),
  ...readdirSync(join(root, 'actions')).map((name) => `actions/${name}/README.md`),
].filter((page) => existsSync(join(root, page)));

/** GitHub's anchor for a heading's text. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]+>/g, '')
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a Markdown file's headings (code blocks left out). */
function anchors(text: string): Set<string> {
  const found = new Set<string>();
  let fence = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    const heading = !fence && /^#{1,6} (.*)$/.exec(line);
    if (heading) found.add(anchorOf(heading[1]!));
  }
  return found;
}

/** The links of a Markdown file, outside code blocks and code spans. */
function links(text: string): string[] {
  let fence = false;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    if (fence) continue;
    for (const match of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) out.push(match[1]!);
  }
  return out;
}

it('every relative link of the README, docs/ and the actions’ READMEs reaches a file and, with #, a heading of it', () => {
  const broken: string[] = [];
  for (const page of pages) {
    for (const target of links(readFileSync(join(root, page), 'utf8'))) {
      if (/^[a-z]+:/.test(target)) continue;
      const [path, anchor] = target.split('#') as [string, string | undefined];
      const file = path === '' ? join(root, page) : join(root, dirname(page), path);
      if (!existsSync(file)) {
        broken.push(`${page}: ${target} (no ${relative(root, file)})`);
        continue;
      }
      if (anchor && statSync(file).isFile() && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(anchor))
        broken.push(`${page}: ${target} (no heading #${anchor})`);
    }
  }
  expect(broken).toEqual([]);
  expect(pages.length).toBeGreaterThan(10);
});

it('makes anchors as GitHub does', () => {
  expect(anchorOf('Using `blue-green` in a workflow')).toBe('using-blue-green-in-a-workflow');
  expect(anchorOf('Who can do what: the threat model')).toBe('who-can-do-what-the-threat-model');
  expect(anchorOf('Checklist: the procedure, ticked from what ran')).toBe(
    'checklist-the-procedure-ticked-from-what-ran',
  );
});

/** The steps of a YAML block that use one of this repository's actions: `uses` and the keys of `with`. */
function suiteSteps(block: string): Array<{ action: string; inputs: string[] }> {
  const found: Array<{ action: string; inputs: string[] }> = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const record = node as Record<string, unknown>;
      const uses = typeof record.uses === 'string' ? /^org\/agent-loop-actions\/([a-z-]+)@v1$/.exec(record.uses) : null;
      if (uses)
        found.push({
          action: uses[1]!,
          inputs: Object.keys((record.with as Record<string, unknown> | undefined) ?? {}),
        });
      Object.values(record).forEach(walk);
    }
  };
  walk(parseYaml(block));
  return found;
}

it('every step of the README and docs/ that uses an action of the suite gives it only inputs its action.yml has, and every required one', () => {
  const problems: string[] = [];
  let steps = 0;
  for (const page of pages) {
    for (const match of readFileSync(join(root, page), 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)) {
      for (const step of suiteSteps(match[1]!)) {
        steps += 1;
        const metadata = parseYaml(readFileSync(join(root, 'actions', step.action, 'action.yml'), 'utf8')) as {
          inputs?: Record<string, { required?: boolean }>;
        };
        const inputs = metadata.inputs ?? {};
        for (const input of step.inputs)
          if (!(input in inputs)) problems.push(`${page}: ${step.action} has no input ${input}`);
        for (const [input, spec] of Object.entries(inputs))
          if (spec.required && !step.inputs.includes(input)) problems.push(`${page}: ${step.action} needs ${input}`);
      }
    }
  }
  expect(problems).toEqual([]);
  expect(steps).toBeGreaterThan(10);
});

it('names every secret the examples, workflows and docs use in the one table of README step 2', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('| name | kind | where | used by | what |'));
  const listed = new Set(
    [...table.slice(0, table.indexOf('\n\n')).matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1]!),
  );
  const files = [
    ...pages,
    ...readdirSync(join(root, 'examples')).map((name) => `examples/${name}`),
    ...readdirSync(join(root, '.github', 'workflows')).map((name) => `.github/workflows/${name}`),
  ];
  const missing = new Set<string>();
  for (const file of files) {
    for (const match of readFileSync(join(root, file), 'utf8').matchAll(/secrets\.([A-Z][A-Z0-9_]+)/g))
      if (!listed.has(match[1]!)) missing.add(`${match[1]} (${file})`);
  }
  expect([...missing]).toEqual([]);
  expect(listed.size).toBeGreaterThan(10);
});
