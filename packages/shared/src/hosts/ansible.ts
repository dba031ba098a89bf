import { createHash } from 'node:crypto';
import { runLocal } from './local';
import type { Logger } from '../action';
import type { Argv } from './shell';

/** ansible-playbook runs (commands as data). Extra variables go as one JSON document, so no value is split or interpreted. */
export interface PlaybookRun {
  playbook: string;
  inventory: string;
  limit: string;
  extraVars: Record<string, string>;
}

export function playbookCommand(run: PlaybookRun): Argv {
  return [
    'ansible-playbook',
    run.playbook,
    '--inventory',
    run.inventory,
    '--extra-vars',
    JSON.stringify(run.extraVars),
    ...(run.limit ? ['--limit', run.limit] : []),
  ];
}

/** The environment that keeps ansible from leaving ControlPersist processes and files in HOME. */
export function ansibleEnv(workDir: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...base,
    ANSIBLE_HOME: `${workDir}/ansible-home`,
    ANSIBLE_LOCAL_TEMP: `${workDir}/ansible-tmp`,
    ANSIBLE_SSH_ARGS: '-o ControlMaster=no',
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_NOCOLOR: '1',
    PYTHONUNBUFFERED: '1',
  };
}

/** The first failed task in ansible's output, for the error message. */
export function failedTask(output: string): string | null {
  const lines = output.split('\n');
  let task = '';
  for (const line of lines) {
    const taskMatch = /^TASK \[(.*)\]/.exec(line);
    if (taskMatch) task = taskMatch[1] as string;
    if (/^fatal:|^failed:/.test(line)) return `${task}: ${line.replace(/^(fatal|failed): /, '').slice(0, 500)}`;
  }
  return null;
}

/** Installs a requirements file's collections into `collectionsDir` (the playbook then gets ANSIBLE_COLLECTIONS_PATH=collectionsDir). */
export function collectionInstallCommand(requirementsFile: string, collectionsDir: string): Argv {
  return ['ansible-galaxy', 'collection', 'install', '-r', requirementsFile, '-p', collectionsDir];
}

/** Cache key of the installed collections: a new requirements file is a new key. `os` as the runner names it (RUNNER_OS). */
export function collectionsCacheKey(os: string, requirements: string | Buffer): string {
  return `ansible-collections-${os.toLowerCase()}-${createHash('sha256').update(requirements).digest('hex')}`;
}

/**
 * Runs a playbook on the runner, its output streamed; on failure, names the failed task. The one
 * way the suite runs Ansible: the rollback's playbook and the staging deploy both come here.
 * `env` replaces the default environment (`ansibleEnv(workDir)`), e.g. with a collections path.
 */
export async function runPlaybook(
  run: PlaybookRun,
  options: { workDir: string; cwd?: string; timeoutMs: number; log: Logger; env?: NodeJS.ProcessEnv },
): Promise<{ ok: boolean; error?: string }> {
  const result = await options.log.group(`ansible-playbook ${run.playbook}`, () =>
    runLocal(playbookCommand(run), {
      env: options.env ?? ansibleEnv(options.workDir),
      cwd: options.cwd,
      onLine: options.log.info,
      timeoutMs: options.timeoutMs,
    }),
  );
  if (result.code === 0) return { ok: true };
  const task = failedTask(result.stdout);
  return { ok: false, error: `ansible-playbook failed (exit ${result.code})${task ? ` at ${task}` : ''}` };
}
