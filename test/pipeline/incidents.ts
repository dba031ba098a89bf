// Helpers of the incident scenarios (test/pipeline-incidents.test.ts): what nginx serves, the
// traffic's statuses by version, a run's job results and errors, and waiting for a moment of a run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrafficResult } from '../lab/traffic';
import type { ScenarioRun } from './scenarios';
import type { World } from './world';

export { errors, results, served } from './scenarios';

/** The step summary a job wrote (`deploy/checklist`, `rollback/checklist`), or ''. */
export const summaryOf = (scenario: ScenarioRun, job: string): string =>
  Object.entries(scenario.run.summaries)
    .filter(([key]) => key.startsWith(`${job}/`))
    .map(([, text]) => text)
    .join('\n');

/** The versions each production host's nginx sends traffic to now (over 60 requests a host, enough to see a 10% canary). */
export async function servedVersions(world: World): Promise<Set<string>[]> {
  const out: Set<string>[] = [];
  for (const host of world.production) {
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const response = await fetch(`${host.proxyUrl}/health`).catch(() => undefined);
      if (!response) continue;
      await response.arrayBuffer();
      seen.add(response.headers.get('x-version') ?? 'unknown');
    }
    out.push(seen);
  }
  return out;
}

/** The test traffic's statuses by version: `{ 'sha-1': { '200': 812 }, 'sha-2': { '200': 60, '500': 31 } }`. */
export function statusesByVersion(traffic: TrafficResult): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const { version, status } of traffic.timeline) {
    const byStatus = (out[version] ??= {});
    byStatus[String(status)] = (byStatus[String(status)] ?? 0) + 1;
  }
  return out;
}

/** Polls `check` every `everyMs` until it is true, or throws after `timeoutMs` naming `what`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 250,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A log sink that calls `then` once, at the first line matching `pattern`. */
export function onLine(pattern: RegExp, then: () => void | Promise<void>): (line: string) => void {
  let fired = false;
  return (line: string) => {
    if (fired || !pattern.test(line)) return;
    fired = true;
    void then();
  };
}

/** The image version the plan gives the repository's head commit. */
export const headVersion = (world: World): string => `sha-${world.repo.head().slice(0, 7)}`;

/** Writes a run's log to `$INCIDENTS_LOG_DIR/<name>.log` when that variable is set (for a person reading why a scenario failed). */
export function keepLog(name: string, scenario: ScenarioRun): void {
  const dir = process.env.INCIDENTS_LOG_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, `${name}.log`),
    `${scenario.run.log.join('\n')}\n\n${JSON.stringify(scenario.run.jobs, null, 1)}\n`,
  );
}

/**
 * Fails with the cause when the world's deploy user is no longer the one it made: every world
 * makes a user named `deploy` (the examples' name), so another pipeline test starting or stopping
 * its world on this machine meanwhile replaces or deletes it, and every SSH login then fails.
 */
export function assertOwnDeployUser(world: World): void {
  const entry = spawnSync('getent', ['passwd', world.user], { encoding: 'utf8' }).stdout.trim();
  const home = entry.split(':')[5] ?? '';
  if (home !== join(world.dir, 'home')) {
    throw new Error(
      `the deploy user is not this world's any more (${entry ? `its home is ${home}` : 'it was deleted'}): ` +
        'another pipeline test ran on this machine at the same time; run one at a time',
    );
  }
}
