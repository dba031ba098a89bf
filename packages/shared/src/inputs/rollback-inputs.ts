import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { requireInput } from '../action';
import { rollbackMethods, type RollbackMethodOptions, type RollbackTarget } from '../rollback';
import { DEPLOYMENT_ID, FREE_TEXT, HOST_PATH, VERSION } from '../vocabulary';
import { checkRollbackRuntimeInputs, type RuntimeInputs } from './common-inputs';
import type { HostInputs } from './host-inputs';
import { field } from './inputs';

/** The rollback methods' inputs: nginx takes the host inputs; Kubernetes and Ansible take these. */
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** A playbook run from the workspace: the rollback's method ansible and the staging deploy take the same inputs. */
export const ansibleInputs = {
  playbook: field.string({ form: 'a playbook path in the workspace', pattern: HOST_PATH, max: 512 }),
  inventory: field.string({ form: 'an inventory path in the workspace', pattern: HOST_PATH, max: 512 }),
  'ansible-limit': field.string({ form: 'an ansible --limit pattern', pattern: /^[A-Za-z0-9._:,*!&-]+$/, max: 512 }),
};

/**
 * The Ansible collections file a playbook run installs from: the `requirements` input (`none` for
 * none; relative to the workspace), else a requirements.yml beside the playbook when there is one.
 */
export function collectionsRequirements(
  inputs: { requirements: string; playbook: string },
  workspace: string,
): string | null {
  const inWorkspace = (path: string) => (isAbsolute(path) ? path : resolve(workspace, path));
  if (inputs.requirements === 'none') return null;
  if (inputs.requirements !== '') {
    const file = inWorkspace(inputs.requirements);
    requireInput(
      existsSync(file),
      'requirements',
      `names ${inputs.requirements}, which does not exist in the workspace`,
    );
    return file;
  }
  const beside = inWorkspace(join(dirname(inputs.playbook), 'requirements.yml'));
  return existsSync(beside) ? beside : null;
}

export const rollbackMethodInputs = {
  method: field.registered(rollbackMethods, 'nginx'),
  deployment: field.string({ form: 'a Kubernetes deployment name', pattern: K8S_NAME, max: 253 }),
  namespace: field.string({ form: 'a Kubernetes namespace', pattern: K8S_NAME, default: 'default', max: 63 }),
  'kube-context': field.string({ form: 'a kubeconfig context name', pattern: /^[A-Za-z0-9._@:/-]+$/, max: 253 }),
  'rollout-timeout-seconds': field.integer({ min: 1, max: 3600, default: 120, unit: 'seconds' }),
  ...ansibleInputs,
};

export type MethodInputs = HostInputs &
  RuntimeInputs & {
    /** A rollback method's registered name (rollback/registry.ts). */
    method: string;
    'split-key': string;
    'health-timeout-seconds': number;
    'command-timeout-seconds': number;
    'target-version': string;
    reason: string;
    'keep-failed': boolean;
    deployment: string;
    namespace: string;
    'kube-context': string;
    'rollout-timeout-seconds': number;
    playbook: string;
    inventory: string;
    'ansible-limit': string;
    app: string;
    environment: string;
  };

/** What the method the inputs name is set with (rollback/registry.ts). */
export function rollbackMethodOptions(inputs: MethodInputs): RollbackMethodOptions {
  return {
    app: inputs.app,
    environment: inputs.environment,
    reason: inputs.reason,
    targetVersion: inputs['target-version'],
    commandTimeoutSeconds: inputs['command-timeout-seconds'],
    kubernetes: {
      deployment: inputs.deployment,
      namespace: inputs.namespace,
      context: inputs['kube-context'],
      timeoutSeconds: inputs['rollout-timeout-seconds'],
    },
    ansible: { playbook: inputs.playbook, inventory: inputs.inventory, limit: inputs['ansible-limit'] },
  };
}

/**
 * What the method the inputs name needs, checked before anything runs: a method on hosts takes
 * the hosts and the SSH key (its runtime, unless named, is each release's as recorded); each method checks its own inputs.
 */
export function checkRollbackMethodInputs(inputs: MethodInputs): void {
  const method = rollbackMethods.get(inputs.method);
  if (method.onHosts) {
    requireInput(
      inputs.hosts.length > 0,
      'hosts',
      `is required for method ${inputs.method}: one or more user@host[:port]`,
    );
    requireInput(inputs['ssh-private-key'] !== '', 'ssh-private-key', `is required for method ${inputs.method}`);
    checkRollbackRuntimeInputs(inputs);
  }
  method.check?.(rollbackMethodOptions(inputs));
}

/** Whether the method the inputs name works on the hosts (so its hosts are read, and its post step releases their locks). */
export function rollbackOnHosts(inputs: { method: string }): boolean {
  return rollbackMethods.get(inputs.method).onHosts;
}

/** Why an operator acts (a rollback, an abort, a hold): one line, kept in the hosts' audit log. */
export function reasonField(defaultReason: string) {
  return field.string({
    form: 'one line saying why (free text, no control characters)',
    pattern: FREE_TEXT,
    default: defaultReason,
    max: 500,
  });
}

/** The rollback's inputs: what to go back to, why, and whether to keep the failed color. */
export function rollbackPhaseInputs(defaultReason: string) {
  return {
    'target-version': field.string({
      form: "a version from the hosts' history, such as v1.4.2",
      pattern: VERSION,
      max: 128,
    }),
    reason: reasonField(defaultReason),
    'keep-failed': field.boolean(false),
  };
}

/** A named version, or the last good one (`canaryOnly`: an abort, which only ends a canary or a ramp). */
export function rollbackTarget(inputs: { 'target-version': string }, canaryOnly = false): RollbackTarget {
  return inputs['target-version']
    ? { kind: 'version', version: inputs['target-version'] }
    : { kind: 'previous', ...(canaryOnly ? { canaryOnly } : {}) };
}

/**
 * What a rollback is announced with (the failed deployment marked, the rollback recorded, the
 * incident opened): the canary monitor's automatic rollback and the rollback action take the same.
 */
export function incidentInputs(options: {
  severity: 'critical' | 'high' | 'medium' | 'low';
  failedDeployment: string;
}) {
  return {
    'github-token': field.secret({
      form: 'a token with deployments: write and issues: write, e.g. secrets.GITHUB_TOKEN',
    }),
    'failed-deployment-id': field.string({
      form: `the id of ${options.failedDeployment}`,
      pattern: DEPLOYMENT_ID,
      max: 20,
    }),
    'create-incident': field.boolean(true),
    'incident-severity': field.choice(['critical', 'high', 'medium', 'low'], options.severity),
  };
}
