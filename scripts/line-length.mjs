#!/usr/bin/env node
// Part of `npm run lint`, after Prettier: no line over 160 characters in code, configuration and
// workflows, so a reviewer never scrolls sideways. Prettier wraps at 120 but leaves long strings and
// comments as they are; this catches those. Exempt: a line holding a URL (cut, it no longer opens),
// and the rows of a test's data table, between `// line-length: table` and `// line-length: end`.
// Markdown is prose written one paragraph a line and is not checked. Prints file:line for each.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LIMIT = 160;
const root = fileURLToPath(new URL('..', import.meta.url));
const SKIP = new Set(['node_modules', 'dist', '.git', '.lab', 'coverage']);
const CHECKED = /\.(ts|mts|mjs|js|json|ya?ml|sh|conf|cfg)$|^\.ci\/run$/;
const URL_PATTERN = /https?:\/\//;

/** The lines of `text` over the limit that no exemption covers, as 1-based line numbers. */
export function longLines(text, limit = LIMIT) {
  const found = [];
  let table = false;
  text.split('\n').forEach((line, index) => {
    if (/\/\/ line-length: table\b/.test(line)) table = true;
    else if (/\/\/ line-length: end\b/.test(line)) table = false;
    else if (line.length > limit && !table && !URL_PATTERN.test(line)) found.push(index + 1);
  });
  return found;
}

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.isFile()) yield path;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = [];
  for (const path of files(root)) {
    const name = relative(root, path);
    if (name === 'package-lock.json' || !CHECKED.test(name)) continue;
    for (const line of longLines(readFileSync(path, 'utf8'))) problems.push(`${name}:${line}`);
  }
  for (const problem of problems) console.error(`${problem}: over ${LIMIT} characters`);
  if (problems.length > 0) {
    console.error(
      `${problems.length} lines over ${LIMIT} characters: split them (a URL or a marked test data table may stay).`,
    );
    process.exit(1);
  }
  console.log(`line length: no line over ${LIMIT} characters`);
}
