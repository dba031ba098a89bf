// The runner's files a step writes to change later steps: GITHUB_ENV and GITHUB_PATH.
import { randomUUID } from 'node:crypto';
import fsp from 'node:fs/promises';
import type { StandInContext } from './index';
import { StandInError } from './inputs';

function runnerFile(ctx: StandInContext, name: 'GITHUB_ENV' | 'GITHUB_PATH'): string {
  const file = ctx.env[name];
  if (!file)
    throw new StandInError(`${name} is not set in the step's environment: the runner gives every step this file`);
  return file;
}

/** `core.exportVariable`: the heredoc form, with a delimiter the value cannot contain. */
export async function exportVariable(ctx: StandInContext, name: string, value: string): Promise<void> {
  const delimiter = `ghadelimiter_${randomUUID()}`;
  await fsp.appendFile(runnerFile(ctx, 'GITHUB_ENV'), `${name}<<${delimiter}\n${value}\n${delimiter}\n`);
}

/** `core.addPath`: the runner prepends each line of GITHUB_PATH to PATH for the steps after this one. */
export async function addPath(ctx: StandInContext, dir: string): Promise<void> {
  await fsp.appendFile(runnerFile(ctx, 'GITHUB_PATH'), `${dir}\n`);
}
