// A `run:` step: the script written to RUNNER_TEMP and run by its shell, as the runner does.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { JobScope } from './scope';
import { processEnv, stepFiles } from './step-env';
import { runProcess, type StepExit } from './step-process';

interface Shell {
  command: string;
  args: string[];
  extension: string;
}

/**
 * GitHub's shells: with no `shell:`, `bash -e {0}` (what the runner logs); `shell: bash` adds
 * --noprofile --norc and pipefail; `sh -e {0}`; `python {0}`; or a command with `{0}`.
 */
export function shellFor(shell: string | undefined, script: string): Shell {
  const split = (template: string) =>
    template
      .trim()
      .split(/\s+/)
      .map((arg) => (arg === '{0}' ? script : arg));
  const make = (template: string, extension: string): Shell => {
    const [command = 'bash', ...args] = split(template);
    return { command, args, extension };
  };
  switch (shell) {
    case undefined:
    case '':
      return make('bash -e {0}', '.sh');
    case 'bash':
      return make('bash --noprofile --norc -eo pipefail {0}', '.sh');
    case 'sh':
      return make('sh -e {0}', '.sh');
    case 'python':
      return make('python {0}', '.py');
    default:
      if (!shell.includes('{0}')) return make(`${shell} {0}`, '');
      return make(shell, '');
  }
}

export interface RunStepRequest {
  stepId: string;
  script: string;
  shell: string | undefined;
  workingDirectory: string | undefined;
  env: Record<string, string>;
  timeoutMinutes?: number;
}

export async function runScriptStep(job: JobScope, request: RunStepRequest): Promise<StepExit> {
  const shell = shellFor(request.shell, '{0}');
  const file = join(job.temp, `${randomUUID()}${shell.extension}`);
  writeFileSync(file, request.script);
  const resolved = shellFor(request.shell, file);
  const cwd = request.workingDirectory
    ? isAbsolute(request.workingDirectory)
      ? request.workingDirectory
      : join(job.workspace, request.workingDirectory)
    : job.workspace;
  job.log.line(`##[group]Run ${request.script.split('\n')[0] ?? ''}`);
  job.log.line(request.script.replace(/\n$/, ''));
  job.log.line(`shell: ${[shell.command, ...shell.args].join(' ')}`);
  if (Object.keys(request.env).length > 0) {
    job.log.line('env:');
    for (const [name, value] of Object.entries(request.env)) job.log.line(`  ${name}: ${value}`);
  }
  job.log.line('##[endgroup]');
  const files = stepFiles(job);
  return runProcess(job, {
    command: resolved.command,
    args: resolved.args,
    cwd,
    env: processEnv(job, request.env, files, request.stepId),
    files,
    stepId: request.stepId,
    timeoutMinutes: request.timeoutMinutes,
  });
}
