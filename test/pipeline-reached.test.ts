import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { allJobs, NOT_YET, SCENARIO_FILES, unreached } from './pipeline/reached';

/** The check that lists workflow jobs no scenario reaches, on records made here. */

const dir = mkdtempSync(join(tmpdir(), 'al-reached-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const records = (lines: object[]) => {
  const file = join(dir, `r-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(file, lines.map((line) => JSON.stringify(line)).join('\n'));
  return file;
};

it('knows every job of every workflow an example calls, and of the examples themselves', () => {
  const jobs = allJobs();
  expect(jobs).toContain('deploy.yml/promote');
  expect(jobs).toContain('hotfix.yml/critical-tests');
  expect(jobs).toContain('host-setup.yml/doctor');
  expect(jobs).not.toContain('ci.yml/ci');
});

it('says nothing until every scenario file ran, then lists the jobs none reached', () => {
  const adoption = {
    scenario: SCENARIO_FILES[0],
    caller: 'deploy-main.yml',
    jobs: ['deploy/plan', 'deploy/gates', 'deploy'],
  };
  expect(unreached(records([adoption]))).toBeNull();
  const all = SCENARIO_FILES.map((scenario) => ({ ...adoption, scenario }));
  const found = unreached(records(all))!;
  expect(found.missing).toContain('deploy.yml/promote');
  expect(found.missing).not.toContain('deploy.yml/gates');
  // A job NOT_YET names is not reported missing.
  expect(unreached(records(all), { 'deploy.yml/promote': 'a reason' })!.missing).not.toContain('deploy.yml/promote');
});

it('reports a job NOT_YET names once a scenario reaches it, and names none today', () => {
  const lines = SCENARIO_FILES.map((scenario) => ({
    scenario,
    caller: 'maintenance.yml',
    jobs: ['maintenance/maintenance'],
  }));
  expect(unreached(records(lines), { 'maintenance.yml/maintenance': 'not built yet' })!.stale).toEqual([
    'maintenance.yml/maintenance',
  ]);
  expect(NOT_YET).toEqual({});
});
