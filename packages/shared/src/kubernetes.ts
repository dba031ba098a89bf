import { runLocal } from './local';
import type { Logger } from './log';
import type { Argv } from './shell';

/** Rollback on Kubernetes: `kubectl rollout undo`, then wait for the rollout (commands as data). */
export interface KubernetesTarget {
  deployment: string;
  namespace: string;
  context: string;
}

const base = (target: KubernetesTarget): string[] => ['kubectl', ...(target.context ? ['--context', target.context] : []), '--namespace', target.namespace];

export function rolloutUndo(target: KubernetesTarget, revision: number | null): Argv {
  return [...base(target), 'rollout', 'undo', `deployment/${target.deployment}`, ...(revision === null ? [] : [`--to-revision=${revision}`])];
}

export function rolloutStatus(target: KubernetesTarget, timeoutSeconds: number): Argv {
  return [...base(target), 'rollout', 'status', `deployment/${target.deployment}`, `--timeout=${timeoutSeconds}s`];
}

/** The outcome of a rollback that is not over SSH (Kubernetes, Ansible): it worked, or why not. */
export interface ExternalRollback {
  ok: boolean;
  error?: string;
}

/** `kubectl rollout undo`, then `kubectl rollout status`; stops at the first that fails, with kubectl's last words. */
export async function rollbackKubernetes(target: KubernetesTarget, revision: number | null, timeoutSeconds: number, log: Logger): Promise<ExternalRollback> {
  for (const argv of [rolloutUndo(target, revision), rolloutStatus(target, timeoutSeconds)]) {
    const result = await log.group(argv.join(' '), () => runLocal(argv, { onLine: log.info, timeoutMs: (timeoutSeconds + 60) * 1000 }));
    if (result.code !== 0) {
      return { ok: false, error: `${argv.join(' ')} failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().split('\n').slice(-5).join(' ')}` };
    }
  }
  return { ok: true };
}
