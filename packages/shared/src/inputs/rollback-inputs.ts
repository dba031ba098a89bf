import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { requireInput, type Clock, type Logger, type RunInfo } from '../action';
import { ansibleRollback, kubernetesRollback, nginxRollback, type RollbackMethod } from '../rollback';
import { DEPLOYMENT_ID, HOST_PATH } from '../vocabulary';
import { checkRuntimeInputs, type RuntimeInputs } from './common-inputs';
import { field, type HostInputs, type HostSpec } from './inputs';
import { rollbackSettings } from './phase-settings';

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
export function collectionsRequirements(inputs: { requirements: string; playbook: string }, workspace: string): string | null {
  const inWorkspace = (path: string) => (isAbsolute(path) ? path : resolve(workspace, path));
  if (inputs.requirements === 'none') return null;
  if (inputs.requirements !== '') {
    const file = inWorkspace(inputs.requirements);
    requireInput(existsSync(file), 'requirements', `names ${inputs.requirements}, which does not exist in the workspace`);
    return file;
  }
  const beside = inWorkspace(join(dirname(inputs.playbook), 'requirements.yml'));
  return existsSync(beside) ? beside : null;
}

export const rollbackMethodInputs = {
  method: field.choice(['nginx', 'kubernetes', 'ansible'], 'nginx'),
  deployment: field.string({ form: 'a Kubernetes deployment name', pattern: K8S_NAME, max: 253 }),
  namespace: field.string({ form: 'a Kubernetes namespace', pattern: K8S_NAME, default: 'default', max: 63 }),
  'kube-context': field.string({ form: 'a kubeconfig context name', pattern: /^[A-Za-z0-9._@:/-]+$/, max: 253 }),
  'rollout-timeout-seconds': field.integer({ min: 1, max: 3600, default: 120, unit: 'seconds' }),
  ...ansibleInputs,
};

type MethodInputs = HostInputs &
  RuntimeInputs & {
    method: 'nginx' | 'kubernetes' | 'ansible';
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

/** What each method needs, checked before anything runs. */
export function checkRollbackMethodInputs(inputs: MethodInputs): void {
  if (inputs.method === 'nginx') {
    requireInput(inputs.hosts.length > 0, 'hosts', 'is required for method nginx: one or more user@host[:port]');
    requireInput(inputs['ssh-private-key'] !== '', 'ssh-private-key', 'is required for method nginx');
    checkRuntimeInputs(inputs);
  }
  if (inputs.method === 'kubernetes') {
    requireInput(inputs.deployment !== '', 'deployment', 'is required for method kubernetes: the deployment to roll back');
    requireInput(inputs['target-version'] === '' || /^\d+$/.test(inputs['target-version']), 'target-version', 'must be a revision number for method kubernetes (see kubectl rollout history)');
  }
  if (inputs.method === 'ansible') {
    requireInput(inputs.playbook !== '', 'playbook', 'is required for method ansible: the rollback playbook');
    requireInput(inputs.inventory !== '', 'inventory', 'is required for method ansible');
  }
}

/** The method the inputs name, ready to run. */
export function rollbackMethod(inputs: MethodInputs, hosts: readonly HostSpec[], context: { run: RunInfo; log: Logger; clock: Clock; signal?: AbortSignal }): RollbackMethod {
  if (inputs.method === 'kubernetes') {
    return kubernetesRollback({ deployment: inputs.deployment, namespace: inputs.namespace, context: inputs['kube-context'] }, { timeoutSeconds: inputs['rollout-timeout-seconds'], log: context.log, clock: context.clock });
  }
  if (inputs.method === 'ansible') {
    return ansibleRollback(
      { playbook: inputs.playbook, inventory: inputs.inventory, limit: inputs['ansible-limit'], app: inputs.app, environment: inputs.environment, reason: inputs.reason },
      { workDir: mkdtempSync(join(process.env.RUNNER_TEMP ?? tmpdir(), 'agent-loop-ansible-')), cwd: process.env.GITHUB_WORKSPACE, timeoutMs: inputs['command-timeout-seconds'] * 1000, log: context.log, clock: context.clock },
    );
  }
  return nginxRollback(hosts, rollbackSettings(inputs, context));
}

/**
 * What a rollback is announced with (the failed deployment marked, the rollback recorded, the
 * incident opened): the canary monitor's automatic rollback and the rollback action take the same.
 */
export function incidentInputs(options: { severity: 'critical' | 'high' | 'medium' | 'low'; failedDeployment: string }) {
  return {
    'github-token': field.secret({ form: 'a token with deployments: write and issues: write, e.g. secrets.GITHUB_TOKEN' }),
    'failed-deployment-id': field.string({ form: `the id of ${options.failedDeployment}`, pattern: DEPLOYMENT_ID, max: 20 }),
    'create-incident': field.boolean(true),
    'incident-severity': field.choice(['critical', 'high', 'medium', 'low'], options.severity),
  };
}
