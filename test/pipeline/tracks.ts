// Helpers of the track scenarios (test/pipeline-tracks.test.ts): what a run left, what nginx
// serves, and the Prometheus a team points PROMETHEUS_URL at for the model-drift rule.
import { spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus';
import type { ScenarioRun } from './scenarios';
import { APP, type World } from './world';

/** Each job's result, by `<caller job>/<called job>`. */
export const results = (scenario: ScenarioRun): Record<string, string> => Object.fromEntries(Object.entries(scenario.run.jobs).map(([job, record]) => [job, record.result]));

/** The run's error annotations, `<job>: <message>`. */
export const errors = (scenario: ScenarioRun): string[] => scenario.run.annotations.filter((a) => a.level === 'error').map((a) => `${a.job ?? 'run'}: ${a.message}`);

/** A step's record, or a clear failure naming what is there. */
export function step(scenario: ScenarioRun, job: string, id: string) {
  const record = scenario.run.jobs[job];
  if (!record) throw new Error(`no job ${job} in ${Object.keys(scenario.run.jobs).join(', ')}`);
  const found = record.steps[id];
  if (!found) throw new Error(`no step ${id} in ${job}: ${Object.keys(record.steps).join(', ')}`);
  return found;
}

/** What each production host's nginx serves now, by `status version`, over 20 requests a host. */
export async function served(world: World): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const host of world.production) {
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${host.proxyUrl}/`);
      await response.arrayBuffer();
      const version = `${response.status} ${response.headers.get('x-version')}`;
      counts[version] = (counts[version] ?? 0) + 1;
    }
  }
  return counts;
}

/**
 * A real Prometheus scraping both colors of every production host's app (`/metrics`), each target
 * labelled with the app and the color as a team's scrape configuration does: the canary monitor's
 * default queries (`agent_loop_model_drift_score{app,color}` and the rest) find them.
 */
export function startAppPrometheus(world: World): Promise<RunningPrometheus> {
  return startPrometheus(world.production.flatMap((host) => [
    { port: host.bluePort, labels: { app: APP, color: 'blue', instance_host: host.name } },
    { port: host.greenPort, labels: { app: APP, color: 'green', instance_host: host.name } },
  ]));
}

/** A log sink writing to a file when TRACKS_LOG names one (for reading a run after the fact). */
export function logTo(file = process.env.TRACKS_LOG): ((line: string) => void) | undefined {
  return file ? (line: string) => appendFileSync(file, `${line}\n`) : undefined;
}

/**
 * Waits while another world is running on this machine: the examples name the deploy user
 * `deploy`, and a world makes that one user, so two worlds at once would take it from each other
 * (startWorld's useradd fails while another world's processes run as it).
 */
export async function waitForOtherWorlds(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const busy = spawnSync('ps', ['-u', 'deploy', '-o', 'pid='], { encoding: 'utf8' }).stdout.trim() !== '';
    if (!busy) return;
    if (Date.now() > deadline) throw new Error(`another pipeline world still runs as the deploy user after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}
