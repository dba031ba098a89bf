import {
  commandRuntime,
  readInputs,
  hostInputs,
  resolveHosts,
  silentLogger,
  systemClock,
  type DeploySettings,
  type HostSpec,
  type Logger,
  type MonitorSettings,
  type Policy,
  type PromoteSettings,
  type RollbackSettings,
  type SessionSettings,
} from '@agent-loop/shared';
import type { Lab } from '../lab/index';

/** Shared-core settings for a lab, as the blue-green action would build them from its inputs. */
export function labHosts(lab: Lab, hostsInput = lab.hostsInput): HostSpec[] {
  // The secrets are left out: reading them would print the runner's ::add-mask:: commands.
  const { 'ssh-private-key': _key, 'slack-webhook-url': _webhook, ...fields } = hostInputs;
  // A lab with HAProxy names each host's socket and backend, which the inputs take behind router haproxy only.
  const values: Record<string, string> = {
    hosts: hostsInput,
    'ssh-known-hosts': lab.knownHosts,
    app: lab.app,
    router: lab.hosts[0]?.haproxy ? 'haproxy' : '',
  };
  const inputs = readInputs(fields, (name) => values[name] ?? '');
  return resolveHosts({ ...inputs, 'ssh-private-key': lab.clientKey, 'slack-webhook-url': '' });
}

export function sessionSettings(
  lab: Lab,
  overrides: Partial<SessionSettings> = {},
  log: Logger = silentLogger,
): SessionSettings {
  return {
    app: lab.app,
    splitKey: '$request_id',
    connect: {
      privateKey: lab.clientKey,
      knownHosts: lab.knownHosts,
      insecureSkipHostKeyCheck: false,
      connectTimeoutMs: 10_000,
    },
    lock: { waitSeconds: 0, staleSeconds: 3600, breakStale: false },
    maxParallel: 10,
    run: { runId: `test-${process.pid}`, actor: 'vitest', runUrl: '' },
    clock: systemClock,
    log,
    ...overrides,
  };
}

export function deploySettings(lab: Lab, version: string, overrides: Partial<DeploySettings> = {}): DeploySettings {
  return {
    ...sessionSettings(lab),
    image: `registry.example/agent-loop:${version}`,
    version,
    canaryPercent: 10,
    runtime: commandRuntime(lab.startCommand, lab.stopCommand),
    healthPaths: ['/health', '/ready'],
    healthTimeoutSeconds: 15,
    smokeRequests: [
      {
        method: 'POST',
        path: '/run-agent',
        body: { instruction: 'Hello test', use_ollama: true },
        status: 200,
        json: false,
        prometheus: false,
        'p95-ms': 2000,
      },
    ],
    preflight: { minFreeDiskMb: 1, minFreeMemoryMb: 1 },
    commandTimeoutSeconds: 60,
    ...overrides,
  };
}

export function promoteSettings(lab: Lab, version = '', overrides: Partial<PromoteSettings> = {}): PromoteSettings {
  return {
    ...sessionSettings(lab),
    version,
    runtime: commandRuntime(lab.startCommand, lab.stopCommand),
    healthPaths: ['/health', '/ready'],
    healthTimeoutSeconds: 15,
    drainSeconds: 0,
    keepPrevious: false,
    commandTimeoutSeconds: 60,
    ...overrides,
  };
}

export function rollbackSettings(
  lab: Lab,
  target: RollbackSettings['target'] = { kind: 'previous' },
  overrides: Partial<RollbackSettings> = {},
): RollbackSettings {
  return {
    ...sessionSettings(lab),
    target,
    reason: 'test rollback',
    runtime: commandRuntime(lab.startCommand, lab.stopCommand),
    healthPaths: ['/health', '/ready'],
    healthTimeoutSeconds: 15,
    keepFailed: false,
    commandTimeoutSeconds: 60,
    ...overrides,
  };
}

export function monitorSettings(lab: Lab, policy: Policy, overrides: Partial<MonitorSettings> = {}): MonitorSettings {
  return {
    ...sessionSettings(lab),
    policy,
    mode: 'canary',
    steps: [],
    model: false,
    sources: ['nginx-log', 'host'],
    prometheus: null,
    healthPath: '/health',
    probePath: '/health',
    probeRequests: 2,
    memory: 'none',
    autoRollback: true,
    rollbackOn: ['failure', 'error', 'inconclusive'],
    rollback: {
      reason: '',
      runtime: commandRuntime(lab.startCommand, lab.stopCommand),
      healthPaths: ['/health', '/ready'],
      healthTimeoutSeconds: 15,
      keepFailed: false,
      commandTimeoutSeconds: 60,
    },
    ...overrides,
  };
}

/** The inputs an action run needs to reach a lab's hosts with the command runtime (as a workflow would pass them). */
export function labActionInputs(lab: Lab, hostsInput = lab.hostsInput): Record<string, string> {
  return {
    hosts: hostsInput,
    'ssh-private-key': lab.clientKey,
    'ssh-known-hosts': lab.knownHosts,
    app: lab.app,
    runtime: 'command',
    'start-command': lab.startCommand,
    'stop-command': lab.stopCommand,
  };
}

/** The blue-green action's inputs on a lab: split per request (every lab request comes from 127.0.0.1), room checks a lab passes, no drain wait. */
export function blueGreenLabInputs(lab: Lab, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...labActionInputs(lab),
    'split-key': '$request_id',
    'min-free-disk-mb': '1',
    'min-free-memory-mb': '1',
    'drain-seconds': '0',
    ...overrides,
  };
}
