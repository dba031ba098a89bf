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
