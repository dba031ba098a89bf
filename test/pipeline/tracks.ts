// Helpers of the track scenarios (test/pipeline-tracks.test.ts): what a run left, what nginx
// serves, and the Prometheus a team points PROMETHEUS_URL at for the model-drift rule.
import { appendFileSync } from 'node:fs';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus';
import type { ScenarioRun } from './scenarios';
import { APP, type World } from './world';

export { errors, results, served } from './scenarios';

/** A step's record, or a clear failure naming what is there. */
export function step(scenario: ScenarioRun, job: string, id: string) {
  const record = scenario.run.jobs[job];
  if (!record) throw new Error(`no job ${job} in ${Object.keys(scenario.run.jobs).join(', ')}`);
  const found = record.steps[id];
  if (!found) throw new Error(`no step ${id} in ${job}: ${Object.keys(record.steps).join(', ')}`);
  return found;
}

/**
 * A real Prometheus scraping both colors of every production host's app (`/metrics`), each target
 * labelled with the app and the color as a team's scrape configuration does: the canary monitor's
 * default queries (`agent_loop_model_drift_score{app,color}` and the rest) find them.
 */
export function startAppPrometheus(world: World): Promise<RunningPrometheus> {
  return startPrometheus(
    world.production.flatMap((host) => [
      { port: host.bluePort, labels: { app: APP, color: 'blue', instance_host: host.name } },
      { port: host.greenPort, labels: { app: APP, color: 'green', instance_host: host.name } },
    ]),
  );
}

/** A log sink writing to a file when TRACKS_LOG names one (for reading a run after the fact). */
export function logTo(file = process.env.TRACKS_LOG): ((line: string) => void) | undefined {
  return file ? (line: string) => appendFileSync(file, `${line}\n`) : undefined;
}

/** The tags of the app's image repository in the world's registry (behind htpasswd). */
export async function registryTags(world: World): Promise<string[]> {
  const registry = world.ct.authRegistry!;
  const auth = Buffer.from(`${registry.user}:${registry.password}`).toString('base64');
  const response = await fetch(`http://${registry.address}/v2/${APP}/tags/list`, {
    headers: { authorization: `Basic ${auth}` },
  });
  if (!response.ok) throw new Error(`registry tags: HTTP ${response.status}`);
  return ((await response.json()) as { tags?: string[] }).tags ?? [];
}

/**
 * A file as the container serving `version` on production host `index` has it (`docker exec` on
 * that host's engine), or null when no running container serves that version there.
 */
export async function fileInServingContainer(
  world: World,
  index: number,
  version: string,
  file: string,
): Promise<string | null> {
  const engine = world.ct.engines[index]!;
  const ids = (await engine.docker(['ps', '--quiet', '--filter', 'status=running'])).stdout.split('\n').filter(Boolean);
  for (const id of ids) {
    const command = JSON.parse((await engine.docker(['inspect', '--format', '{{json .Config.Cmd}}', id])).stdout) as
      string[] | null;
    const at = command?.indexOf('--version') ?? -1;
    if (at < 0 || command![at + 1] !== version) continue;
    // The image has node and no cat.
    return (
      await engine.docker([
        'exec',
        id,
        '/usr/bin/node',
        '-e',
        "process.stdout.write(require('node:fs').readFileSync(process.argv[1], 'utf8'))",
        file,
      ])
    ).stdout;
  }
  return null;
}
