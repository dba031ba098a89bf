import type { Clock, Logger } from '../action';
import type { HostReport } from '../fleet';
import { runPlaybook, type HostSpec } from '../hosts';
import { rollbackKubernetes, type KubernetesTarget } from './kubernetes';
import type { RollbackTarget } from './plan';
import { rollback, type RollbackResult, type RollbackSettings } from './rollback';
import type { Color } from '../domain';

/**
 * The rollback seam: one way of putting the last good version back, and one result for all of
 * them. nginx on the hosts (blue-green over SSH), Kubernetes (`kubectl rollout undo`) and an
 * Ansible playbook are the three behind it; a new one (a load balancer's API, systemd units)
 * implements `RollbackMethod` and everything after it (deployment records, the incident, Slack,
 * the summary) is the same.
 */
export interface RollbackMethod {
  /** The name it is registered under (registry.ts): `nginx`, `kubernetes`, `ansible`. */
  readonly name: string;
  /** Rolls back; never throws for a rollback that failed (that is `ok: false` with an error). `since`: the decision. */
  run(target: RollbackTarget, since: number): Promise<RollbackOutcome>;
}

export interface RollbackOutcome {
  method: string;
  /** The rollback in words, for a summary's title: `kubernetes rollback of deployment/api to revision 3`. */
  what: string;
  ok: boolean;
  /** Nothing to do: the target already serves all traffic. */
  noop: boolean;
  error?: string;
  /** What serves now (a version label, or what the method reports it went back to); null when unknown. */
  version: string | null;
  /** The version taken out of service, when the method knows it. */
  failedVersion: string | null;
  activeColor: Color | null;
  /** From the decision to traffic on the target; null when it was not restored. */
  restoredMs: number | null;
  durationMs: number;
  hosts: HostReport[];
  /** Versions one can roll back to by name, newest first (known only on hosts). */
  candidates: string[];
  /** The hosts' own result, for the per-host summary (nginx only). */
  onHosts: RollbackResult | null;
}

/** Blue-green hosts behind nginx: traffic back to the color that runs the target (started first if stopped). */
export function nginxRollback(hosts: readonly HostSpec[], settings: Omit<RollbackSettings, 'target'>): RollbackMethod {
  return {
    name: 'nginx',
    async run(target, since) {
      const result = await settings.log.group(`rollback ${settings.app} on ${hosts.length} host(s)`, () =>
        rollback(hosts, { ...settings, target }, since),
      );
      if (result.abortedMonitorMs !== null)
        settings.log.info(
          `a canary monitor held the lock; it stopped ${result.abortedMonitorMs} ms after it was asked to`,
        );
      return hostsOutcome(result, settings.clock.now() - since);
    },
  };
}

/** The outcome of a rollback on hosts (by this method, or by the canary monitor's own). */
export function hostsOutcome(result: RollbackResult, durationMs: number): RollbackOutcome {
  return {
    method: 'nginx',
    what: 'rollback',
    ok: result.ok,
    noop: result.noop,
    error: result.error,
    version: result.version,
    failedVersion: result.failedVersion ?? result.previousVersion,
    activeColor: result.activeColor,
    restoredMs: result.ok ? result.restoredMs : null,
    durationMs,
    hosts: result.hosts,
    candidates: result.candidates,
    onHosts: result,
  };
}

/** A method that is not over SSH: what it returned, timed from the decision. */
function external(
  method: string,
  what: (version: string | null) => string,
  outcome: { ok: boolean; error?: string; version: string | null },
  since: number,
  clock: Clock,
): RollbackOutcome {
  return {
    method,
    what: what(outcome.version),
    ok: outcome.ok,
    noop: false,
    error: outcome.error,
    version: outcome.version,
    failedVersion: null,
    activeColor: null,
    restoredMs: outcome.ok ? clock.now() - since : null,
    durationMs: clock.now() - since,
    hosts: [],
    candidates: [],
    onHosts: null,
  };
}

/** `kubectl rollout undo` (to a revision when the target names one), then waits for the rollout. */
export function kubernetesRollback(
  deployment: KubernetesTarget,
  options: { timeoutSeconds: number; log: Logger; clock: Clock },
): RollbackMethod {
  return {
    name: 'kubernetes',
    async run(target, since) {
      const revision = target.kind === 'version' ? Number(target.version) : null;
      const result = await rollbackKubernetes(deployment, revision, options.timeoutSeconds, options.log);
      // What it went back to, as the cluster says; else what was asked for.
      const version = result.restored ?? (revision !== null ? `revision ${revision}` : 'the previous revision');
      return external(
        'kubernetes',
        (to) => `kubernetes rollback of deployment/${deployment.deployment} to ${to}`,
        { ...result, version },
        since,
        options.clock,
      );
    },
  };
}

/**
 * The team's own rollback playbook, given the target (`target_version`: a version, or `previous`),
 * the reason, the app and the environment as extra variables.
 */
export function ansibleRollback(
  playbook: { playbook: string; inventory: string; limit: string; app: string; environment: string; reason: string },
  options: { workDir: string; cwd?: string; timeoutMs: number; log: Logger; clock: Clock },
): RollbackMethod {
  return {
    name: 'ansible',
    async run(target, since) {
      const version = target.kind === 'version' ? target.version : null;
      const result = await runPlaybook(
        {
          playbook: playbook.playbook,
          inventory: playbook.inventory,
          limit: playbook.limit,
          extraVars: {
            target_version: version ?? 'previous',
            rollback_reason: playbook.reason,
            app: playbook.app,
            environment: playbook.environment,
          },
        },
        options,
      );
      return external(
        'ansible',
        () => `ansible rollback with ${playbook.playbook}`,
        { ...result, version },
        since,
        options.clock,
      );
    },
  };
}
