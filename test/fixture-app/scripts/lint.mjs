// The application's lint: every source file parses, and none keeps a debugger statement or a
// focused test. Plain Node, so the gate needs nothing from the network.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['src', 'test', 'scripts'];
// Built from parts, so that this file does not report itself.
const DEBUGGER = new RegExp(`^\\s*${'debug'}ger;?\\s*$`);
const FOCUSED = new RegExp(`\\b(it|test|describe)\\.${'on'}ly\\(`);
const problems = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    if (statSync(file).isDirectory()) walk(file);
    else if (/\.(ts|mjs)$/.test(name)) check(file);
  }
}
function check(file) {
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, index) => {
      if (DEBUGGER.test(line)) problems.push(`${file}:${index + 1}: debugger statement`);
      if (FOCUSED.test(line)) problems.push(`${file}:${index + 1}: focused test`);
      if (line.length > 160) problems.push(`${file}:${index + 1}: line longer than 160 characters`);
    });
}
for (const root of roots) walk(root);
for (const problem of problems) console.log(problem);
console.log(problems.length === 0 ? 'lint: clean' : `lint: ${problems.length} problems`);
process.exit(problems.length === 0 ? 0 : 1);
