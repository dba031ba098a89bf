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
  const adoption = { scenario: SCENARIO_FILES[0], caller: 'deploy-main.yml', jobs: ['deploy/plan', 'deploy/gates', 'deploy'] };
  expect(unreached(records([adoption]))).toBeNull();
  const all = SCENARIO_FILES.map((scenario) => ({ ...adoption, scenario }));
  const found = unreached(records(all))!;
  expect(found.missing).toContain('deploy.yml/promote');
  expect(found.missing).not.toContain('deploy.yml/gates');
  expect(found.missing).not.toContain(Object.keys(NOT_YET)[0]);
});

it('reports a job NOT_YET names once a scenario reaches it', () => {
  const [job] = Object.keys(NOT_YET) as [string];
  const [file, id] = job.split('/');
  const caller = file === 'maintenance.yml' ? 'maintenance.yml' : 'deploy-main.yml';
  const lines = SCENARIO_FILES.map((scenario) => ({ scenario, caller, jobs: [`maintenance/${id}`] }));
  expect(unreached(records(lines))!.stale).toEqual([job]);
});
