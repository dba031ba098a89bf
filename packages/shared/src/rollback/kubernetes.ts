import { runLocal, type Argv } from '../hosts';
import type { Logger } from '../action';

/** Rollback on Kubernetes: `kubectl rollout undo`, then wait for the rollout (commands as data). */
export interface KubernetesTarget {
  deployment: string;
  namespace: string;
  context: string;
}

const base = (target: KubernetesTarget): string[] => [
  'kubectl',
  ...(target.context ? ['--context', target.context] : []),
  '--namespace',
  target.namespace,
];

export function rolloutUndo(target: KubernetesTarget, revision: number | null): Argv {
  return [
    ...base(target),
    'rollout',
    'undo',
    `deployment/${target.deployment}`,
    ...(revision === null ? [] : [`--to-revision=${revision}`]),
  ];
}

export function rolloutStatus(target: KubernetesTarget, timeoutSeconds: number): Argv {
  return [...base(target), 'rollout', 'status', `deployment/${target.deployment}`, `--timeout=${timeoutSeconds}s`];
}

/** Reads the revision the deployment now runs and its images (after the rollout). */
export function currentRevision(target: KubernetesTarget): Argv {
  return [
    ...base(target),
    'get',
    `deployment/${target.deployment}`,
    '--output',
    'jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision} {.spec.template.spec.containers[*].image}',
  ];
}

/** The outcome of a rollback that is not over SSH (Kubernetes, Ansible): it worked, or why not; what it went back to when known. */
export interface ExternalRollback {
  ok: boolean;
  error?: string;
  /** e.g. `revision 3 (ghcr.io/org/app:1.2.2)` */
  restored?: string;
}

const REVISION_LINE = /^(\d{1,10}) ([a-z0-9][a-z0-9._/:@-]{0,300}(?: [a-z0-9][a-z0-9._/:@-]{0,300}){0,9})$/;

/** `kubectl rollout undo`, then `kubectl rollout status`; stops at the first that fails, with kubectl's last words. */
export async function rollbackKubernetes(
  target: KubernetesTarget,
  revision: number | null,
  timeoutSeconds: number,
  log: Logger,
): Promise<ExternalRollback> {
  for (const argv of [rolloutUndo(target, revision), rolloutStatus(target, timeoutSeconds)]) {
    const result = await log.group(argv.join(' '), () =>
      runLocal(argv, { onLine: log.info, timeoutMs: (timeoutSeconds + 60) * 1000 }),
    );
    if (result.code !== 0) {
      return {
        ok: false,
        error: `${argv.join(' ')} failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().split('\n').slice(-5).join(' ')}`,
      };
    }
  }
  // What it went back to, read from the cluster rather than assumed (an undo without a revision goes to the one before).
  const now = await runLocal(currentRevision(target), { timeoutMs: 60_000 });
  const match = REVISION_LINE.exec(now.stdout.trim());
  if (now.code !== 0 || !match) {
    log.warn(
      `the rollout finished, but the revision it runs could not be read (${now.code !== 0 ? `exit ${now.code}` : 'unexpected answer'})`,
    );
    return { ok: true };
  }
  return { ok: true, restored: `revision ${match[1]} (${(match[2] as string).split(' ').join(', ')})` };
}
