// The Docker client as the docker stand-ins run it: against the engine the step's DOCKER_HOST
// names, with a client configuration folder inside the run's folder, never root's ~/.docker.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { StandInContext } from './index';
import { mustRun, stepEnv, type CommandResult } from './command';

/** The one platform this machine builds for: no QEMU emulation, no other builder nodes. */
export const NATIVE_PLATFORM = 'linux/amd64';

/**
 * The client configuration folder for this job: DOCKER_CONFIG when an earlier step (the login
 * stand-in) exported one inside the run's folder, or else the job's own folder there. One per job,
 * so that jobs logging in at the same time never rewrite one config.json together.
 */
export function dockerConfigDir(ctx: StandInContext): string {
  const given = ctx.env.DOCKER_CONFIG;
  const runDir = path.resolve(ctx.runDir);
  if (given && path.resolve(given).startsWith(runDir + path.sep)) return path.resolve(given);
  const job = (ctx.env.GITHUB_JOB ?? 'job').replace(/[^A-Za-z0-9_.-]/g, '_');
  return path.join(runDir, 'docker-config', job);
}

/**
 * Runs the docker client. The classic builder (DOCKER_BUILDKIT=0): the lab's engine is 20.10 and
 * the client has no buildx plugin, so BuildKit is not reachable from this client.
 */
export async function docker(
  ctx: StandInContext,
  args: string[],
  opts: { input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const config = dockerConfigDir(ctx);
  await fsp.mkdir(config, { recursive: true, mode: 0o700 });
  const env = stepEnv(ctx, { DOCKER_CONFIG: config, DOCKER_BUILDKIT: '0' });
  return await mustRun(['docker', ...args], `docker ${args[0]}`, {
    env,
    input: opts.input,
    cwd: opts.cwd,
    timeoutMs: opts.timeoutMs ?? 600_000,
  });
}
