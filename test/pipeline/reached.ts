// Which jobs of the reusable workflows and example callers the scenarios reached. Every scenario
// run records the jobs that ran (not skipped); after a test run that included every scenario file,
// the jobs none reached are listed and the run fails (test/pipeline/global-setup.ts), unless
// NOT_YET names them with the reason.
import { appendFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../lab/run-action';

export const REACHED_VARIABLE = 'AGENT_LOOP_PIPELINE_REACHED';

/** The scenario files: the check runs only when every one of them ran. */
export const SCENARIO_FILES = ['pipeline-adoption', 'pipeline-incidents', 'pipeline-tracks'];

/** Jobs no scenario reaches yet, each with why: the list the check reports against. */
export const NOT_YET: Record<string, string> = {};

interface Record_ {
  scenario: string;
  caller: string;
  jobs: string[];
}

/** Records the jobs of one run that ran. `caller` is the example's file name. */
export function recordReached(scenario: string, caller: string, jobs: Record<string, { result: string }>): void {
  const file = process.env[REACHED_VARIABLE];
  if (!file) return;
  const ran = Object.entries(jobs)
    .filter(([, job]) => job.result !== 'skipped')
    .map(([key]) => key);
  appendFileSync(file, `${JSON.stringify({ scenario, caller, jobs: ran } satisfies Record_)}\n`);
}

const jobsOf = (file: string): string[] =>
  Object.keys((parse(readFileSync(file, 'utf8')) as { jobs?: Record<string, unknown> }).jobs ?? {});

/** Every job a scenario should reach: each example's own jobs, and each called workflow's, as `<file>/<job>`. */
export function allJobs(): string[] {
  const all = new Set<string>();
  for (const example of readdirSync(join(REPO_ROOT, 'examples')).filter((name) => name.endsWith('.yml'))) {
    const jobs = (
      parse(readFileSync(join(REPO_ROOT, 'examples', example), 'utf8')) as { jobs: Record<string, { uses?: string }> }
    ).jobs;
    for (const [id, job] of Object.entries(jobs)) {
      const called = /\.github\/workflows\/([\w.-]+\.yml)@/.exec(job.uses ?? '')?.[1];
      if (called)
        for (const inner of jobsOf(join(REPO_ROOT, '.github', 'workflows', called))) all.add(`${called}/${inner}`);
      else all.add(`${example}/${id}`);
    }
  }
  return [...all].sort();
}

/** The `<file>/<job>` names a recorded run reached. */
function reachedNames(record: Record_): string[] {
  const jobs = (
    parse(readFileSync(join(REPO_ROOT, 'examples', record.caller), 'utf8')) as {
      jobs: Record<string, { uses?: string }>;
    }
  ).jobs;
  return record.jobs.flatMap((key) => {
    const [outer, inner] = key.split('/');
    const called = /\.github\/workflows\/([\w.-]+\.yml)@/.exec(jobs[outer!]?.uses ?? '')?.[1];
    if (called) return inner ? [`${called}/${inner.replace(/ \(.*\)$/, '')}`] : [];
    return [`${record.caller}/${outer}`];
  });
}

/**
 * After a test run: null when not every scenario file ran; else the jobs none reached that
 * NOT_YET does not name, and the NOT_YET entries that are reached now (stale).
 */
export function unreached(
  file: string,
  notYet: Record<string, string> = NOT_YET,
): { missing: string[]; stale: string[] } | null {
  if (!existsSync(file)) return null;
  const records = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record_);
  if (!SCENARIO_FILES.every((scenario) => records.some((record) => record.scenario === scenario))) return null;
  const reached = new Set(records.flatMap(reachedNames));
  return {
    missing: allJobs().filter((job) => !reached.has(job) && !(job in notYet)),
    stale: Object.keys(notYet).filter((job) => reached.has(job)),
  };
}
