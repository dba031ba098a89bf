import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry, requireInput, type Clock, type Logger } from '../action';
import type { HostSpec } from '../hosts';
import { ansibleRollback, kubernetesRollback, nginxRollback, type RollbackMethod } from './methods';
import type { RollbackSettings } from './rollback';

/**
 * The rollback seam's registry: every rollback method by the name the `method` input gives. A new
 * one (a load balancer's API, systemd units) implements `RollbackMethod` (methods.ts: put the last
 * good version back, say how it went) and is registered here, or from outside the core with
 * `rollbackMethods.register`; the deployment records, the incident, Slack and the summary follow
 * from its outcome.
 */

/** What a method is set with: the rollback's inputs, read and checked (inputs/rollback-inputs.ts: rollbackMethodOptions). */
export interface RollbackMethodOptions {
  app: string;
  environment: string;
  reason: string;
  /** target-version: a version (or a revision) by name; empty for the last good one. */
  targetVersion: string;
  /** command-timeout-seconds. */
  commandTimeoutSeconds: number;
  /** deployment, namespace, kube-context and rollout-timeout-seconds. */
  kubernetes: { deployment: string; namespace: string; context: string; timeoutSeconds: number };
  /** playbook, inventory and ansible-limit. */
  ansible: { playbook: string; inventory: string; limit: string };
}

export interface RollbackMethodContext {
  hosts: readonly HostSpec[];
  /** The rollback on the hosts' settings (sessions, runtime, health), built when a method on hosts asks for them. */
  onHosts(): Omit<RollbackSettings, 'target'>;
  log: Logger;
  clock: Clock;
}

export interface RollbackMethodEntry {
  /**
   * Works on the hosts over SSH: the host inputs (hosts, ssh-private-key, the runtime's) are
   * required and checked, and the post step of a killed run releases its locks there.
   */
  onHosts: boolean;
  /** What the method needs of the inputs, checked when they are read, before anything runs: throws a ConfigurationError naming the input. */
  check?(options: RollbackMethodOptions): void;
  build(options: RollbackMethodOptions, context: RollbackMethodContext): RollbackMethod;
}

export const rollbackMethods = new Registry<RollbackMethodEntry>('rollback method', 'method', {
  nginx: {
    onHosts: true,
    build: (_options, context) => nginxRollback(context.hosts, context.onHosts()),
  },
  kubernetes: {
    onHosts: false,
    check(options) {
      requireInput(
        options.kubernetes.deployment !== '',
        'deployment',
        'is required for method kubernetes: the deployment to roll back',
      );
      requireInput(
        options.targetVersion === '' || /^\d+$/.test(options.targetVersion),
        'target-version',
        'must be a revision number for method kubernetes (see kubectl rollout history)',
      );
    },
    build: ({ kubernetes }, context) =>
      kubernetesRollback(
        { deployment: kubernetes.deployment, namespace: kubernetes.namespace, context: kubernetes.context },
        { timeoutSeconds: kubernetes.timeoutSeconds, log: context.log, clock: context.clock },
      ),
  },
  ansible: {
    onHosts: false,
    check(options) {
      requireInput(
        options.ansible.playbook !== '',
        'playbook',
        'is required for method ansible: the rollback playbook',
      );
      requireInput(options.ansible.inventory !== '', 'inventory', 'is required for method ansible');
    },
    build: (options, context) =>
      ansibleRollback(
        { ...options.ansible, app: options.app, environment: options.environment, reason: options.reason },
        {
          workDir: mkdtempSync(join(process.env.RUNNER_TEMP ?? tmpdir(), 'agent-loop-ansible-')),
          cwd: process.env.GITHUB_WORKSPACE,
          timeoutMs: options.commandTimeoutSeconds * 1000,
          log: context.log,
          clock: context.clock,
        },
      ),
  },
});

/** The method `name` names, its inputs checked first. */
export function buildRollbackMethod(
  name: string,
  options: RollbackMethodOptions,
  context: RollbackMethodContext,
): RollbackMethod {
  const entry = rollbackMethods.get(name);
  entry.check?.(options);
  return entry.build(options, context);
}
