#!/usr/bin/env node
// The README's test command: runs every Vitest suite, then prints one plain closing line
// ("tests: N passed, N failed, N skipped") that CI reads. Extra arguments go to vitest (one run).
// Without them, two runs: every suite but the pipeline scenarios, two files at a time; then the
// scenarios (test/pipeline-*.test.ts), one file at a time: each makes the whole world (three hosts
// with their own Docker engines, the `deploy` user the examples name), one world per machine.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'vitest-report-'));
const vitest = join(root, 'node_modules/vitest/vitest.mjs');
const SCENARIOS = 'test/pipeline-*.test.ts';
const runs =
  process.argv.length > 2
    ? [process.argv.slice(2)]
    : [
        ['--exclude', SCENARIOS],
        ['--no-file-parallelism', 'test/pipeline-'],
      ];

let passed = 0;
let failed = 0;
let skipped = 0;
let code = 0;
for (const [index, args] of runs.entries()) {
  const report = join(dir, `report-${index}.json`);
  const run = spawnSync(
    process.execPath,
    [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args],
    { stdio: 'inherit', cwd: root },
  );
  let counted = false;
  try {
    const json = JSON.parse(readFileSync(report, 'utf8'));
    passed += json.numPassedTests ?? 0;
    failed += json.numFailedTests ?? 0;
    skipped += (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0);
    counted = true;
  } catch {
    failed += 1;
  }
  const status = run.status ?? 1;
  if (status !== 0) {
    code = status;
    if (counted && (JSON.parse(readFileSync(report, 'utf8')).numFailedTests ?? 0) === 0) failed += 1;
  }
}
rmSync(dir, { recursive: true, force: true });
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(code !== 0 ? code : passed === 0 ? 1 : 0);
