import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { expect, it } from 'vitest';

/**
 * The README and docs/ link to each other, to the actions' READMEs and to files of the
 * repository: every relative link must reach a file, and every `#anchor` a heading of that file,
 * as GitHub makes anchors from headings (lower case, punctuation dropped, spaces to hyphens).
 */

const root = join(import.meta.dirname, '..');
const pages = ['README.md', ...readdirSync(join(root, 'docs')).map((name) => `docs/${name}`), ...readdirSync(join(root, 'actions')).map((name) => `actions/${name}/README.md`)].filter((page) => existsSync(join(root, page)));

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
      if (anchor && statSync(file).isFile() && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(anchor)) broken.push(`${page}: ${target} (no heading #${anchor})`);
    }
  }
  expect(broken).toEqual([]);
  expect(pages.length).toBeGreaterThan(10);
});

it('makes anchors as GitHub does', () => {
  expect(anchorOf('Using `blue-green` in a workflow')).toBe('using-blue-green-in-a-workflow');
  expect(anchorOf('Who can do what: the threat model')).toBe('who-can-do-what-the-threat-model');
  expect(anchorOf('Checklist: the procedure, ticked from what ran')).toBe('checklist-the-procedure-ticked-from-what-ran');
});
