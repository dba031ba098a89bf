// Vitest's global set-up: gives the scenario runs a file to record the jobs they reached, and
// after the run fails it when every scenario file ran and some job of a workflow none reached.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REACHED_VARIABLE, unreached } from './reached';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'al-reached-'));
  const file = join(dir, 'reached.jsonl');
  process.env[REACHED_VARIABLE] = file;
  return () => {
    const found = unreached(file);
    rmSync(dir, { recursive: true, force: true });
    if (!found) return;
    const problems = [
      ...found.missing.map((job) => `no scenario runs ${job}`),
      ...found.stale.map((job) => `${job} is reached now: take it out of NOT_YET in test/pipeline/reached.ts`),
    ];
    if (problems.length > 0)
      throw new Error(`workflow jobs the pipeline scenarios do not reach:\n${problems.join('\n')}`);
  };
}
