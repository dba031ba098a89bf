import * as core from '@actions/core';
import { ConfigurationError, errorMessage } from './errors';
import type { Logger } from './log';
import type { RunInfo } from './session';

/** What every action's entry point shares: the toolkit logger, run details, and error reporting. */

export const logger: Logger = {
  info: (message) => core.info(message),
  warn: (message) => core.warning(message),
  group: (title, body) => core.group(title, body),
};

export function runInfo(env: NodeJS.ProcessEnv = process.env): RunInfo {
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
  const runId = env.GITHUB_RUN_ID ?? 'local';
  const attempt = env.GITHUB_RUN_ATTEMPT ? `-${env.GITHUB_RUN_ATTEMPT}` : '';
  return {
    runId: `${runId}${attempt}`,
    actor: env.GITHUB_ACTOR ?? 'unknown',
    runUrl: env.GITHUB_REPOSITORY ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${runId}` : '',
  };
}

/**
 * Runs an action's body; a mistake the user can fix is reported as such, anything else as a bug
 * or an outage, with its stack in the debug log.
 */
export async function runAction(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    if (error instanceof ConfigurationError || (error instanceof Error && error.name === 'ConfigurationError')) {
      core.setFailed(error.message);
    } else {
      if (error instanceof Error && error.stack) core.debug(error.stack);
      core.setFailed(errorMessage(error));
    }
  }
}

export function setOutputs(outputs: Record<string, string | number | null | undefined>): void {
  for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value === null || value === undefined ? '' : String(value));
}

export async function writeSummary(markdown: string): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  await core.summary.addRaw(markdown, true).write();
}
