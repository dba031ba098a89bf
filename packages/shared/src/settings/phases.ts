import type { Clock, Logger, RunInfo } from '../action';
import type { Policy, Verdict } from '../analysis';
import type { SessionSettings } from '../fleet';
import type { RuntimeRecord } from '../domain';
import type { HostSpec } from '../hosts';
import {
  recordedRuntimeOptions,
  runtimeOptions,
  runtimeRecord,
  rollbackMethodOptions,
  type deployPhaseInputs,
  type HostInputs,
  type MethodInputs,
  type MonitorInputs,
  type promotePhaseInputs,
  type RuntimeInputs,
  type Values,
} from '../inputs';
import type { DeploySettings, MonitorSettings, PromoteSettings } from '../procedures';
import { buildRollbackMethod, type RollbackMethod, type RollbackSettings } from '../rollback';
import { buildRuntime, type Runtime } from '../runtime';
import { sessionFromInputs } from './session';

/**
 * Each phase's settings from its inputs, built in one place: the blue-green, canary-monitor and
 * rollback actions and the operator's command line run the same phase from the same inputs. The
 * implementation an input names (runtime, router, metric sources, rollback method) is built by
 * its seam's registry; nothing here names one.
 */

type PhaseInputs = HostInputs &
  RuntimeInputs & {
    'split-key': string;
    router?: string;
    'health-timeout-seconds': number;
    'command-timeout-seconds': number;
  };
/** Who acts, where it logs, the clock, and the run's cancellation. */
export type RunContext = { run: RunInfo; log: Logger; clock: Clock; signal?: AbortSignal };

/** The health paths a color must answer: health-path, and ready-path unless it is none. */
export function healthPaths(inputs: Pick<RuntimeInputs, 'health-path' | 'ready-path'>): string[] {
  return [inputs['health-path'], ...(inputs['ready-path'] === 'none' ? [] : [inputs['ready-path']])];
}

/** The runtime the inputs name, as the runtime registry builds it. */
export function runtimeFromInputs(inputs: RuntimeInputs): Runtime {
  return buildRuntime(inputs.runtime, runtimeOptions(inputs));
}

/**
 * The runtime recorded with a release (domain/releases.ts: RuntimeRecord), read back from a host:
 * its name must be registered and its options must pass the runtime inputs' own fields and the
 * runtime's check (inputs/common-inputs.ts: recordedRuntimeOptions); otherwise a ConfigurationError.
 */
export function runtimeFromRecord(record: RuntimeRecord): Runtime {
  return buildRuntime(record.name, recordedRuntimeOptions(record));
}

/**
 * A rollback's runtime: the one the inputs name (for every color), or none (`runtime` left empty)
 * and each color's as recorded with the release it runs.
 */
function rollbackRuntime(inputs: RuntimeInputs): {
  runtime: Runtime | null;
  recordedRuntime: (record: RuntimeRecord) => Runtime;
} {
  return { runtime: inputs.runtime === '' ? null : runtimeFromInputs(inputs), recordedRuntime: runtimeFromRecord };
}

/** The session, health paths and time limits of every phase that starts, checks or stops a color. */
function colorBase(
  inputs: PhaseInputs,
  context: RunContext,
): SessionSettings & { healthPaths: string[]; healthTimeoutSeconds: number; commandTimeoutSeconds: number } {
  return {
    ...sessionFromInputs(inputs, context.run, context.log, context.clock, context.signal),
    healthPaths: healthPaths(inputs),
    healthTimeoutSeconds: inputs['health-timeout-seconds'],
    commandTimeoutSeconds: inputs['command-timeout-seconds'],
  };
}

/** What every phase that starts, checks or stops a color takes: the session, the runtime, its health paths and time limits. */
export function colorSettings(
  inputs: PhaseInputs,
  context: RunContext,
): SessionSettings & {
  runtime: Runtime;
  healthPaths: string[];
  healthTimeoutSeconds: number;
  commandTimeoutSeconds: number;
} {
  return { ...colorBase(inputs, context), runtime: runtimeFromInputs(inputs) };
}

export function deploySettings(
  inputs: PhaseInputs & Values<typeof deployPhaseInputs>,
  context: RunContext,
): DeploySettings {
  return {
    ...colorSettings(inputs, context),
    runtimeRecord: runtimeRecord(inputs),
    image: inputs.image,
    version: inputs.version,
    canaryPercent: inputs['canary-percent'],
    smokeRequests: inputs['smoke-requests'],
    preflight: { minFreeDiskMb: inputs['min-free-disk-mb'], minFreeMemoryMb: inputs['min-free-memory-mb'] },
  };
}

export function promoteSettings(
  inputs: PhaseInputs & Values<typeof promotePhaseInputs> & { version: string },
  context: RunContext,
): PromoteSettings {
  return {
    ...colorSettings(inputs, context),
    version: inputs.version,
    drainSeconds: inputs['drain-seconds'],
    keepPrevious: inputs['keep-previous'],
  };
}

export function rollbackSettings(
  inputs: PhaseInputs & { reason: string; 'keep-failed': boolean },
  context: RunContext,
): Omit<RollbackSettings, 'target'> {
  return {
    ...colorBase(inputs, context),
    ...rollbackRuntime(inputs),
    reason: inputs.reason,
    keepFailed: inputs['keep-failed'],
  };
}

/** The rollback method the inputs name, ready to run (rollback/registry.ts builds it). */
export function rollbackMethod(inputs: MethodInputs, hosts: readonly HostSpec[], context: RunContext): RollbackMethod {
  return buildRollbackMethod(inputs.method, rollbackMethodOptions(inputs), {
    hosts,
    onHosts: () => rollbackSettings(inputs, context),
    log: context.log,
    clock: context.clock,
  });
}

/** The monitor's settings from the inputs, over a session's (callbacks are the caller's). */
export function monitorSettings(
  inputs: MonitorInputs & RuntimeInputs & { 'health-timeout-seconds': number; 'command-timeout-seconds': number },
  session: SessionSettings,
  policy: Policy,
): MonitorSettings {
  return {
    ...session,
    policy,
    mode: inputs.mode,
    steps: inputs.steps,
    model: inputs.model,
    sources: inputs.sources,
    prometheus: inputs['prometheus-url']
      ? { url: inputs['prometheus-url'], queries: inputs['prometheus-queries'] ?? {} }
      : null,
    healthPath: inputs['health-path'],
    probePath: inputs['probe-path'],
    probeRequests: inputs['probe-requests'],
    memory: inputs.memory,
    autoRollback: inputs['auto-rollback'],
    rollbackOn: inputs['rollback-on'] as Verdict[],
    rollback: {
      reason: '',
      ...rollbackRuntime(inputs),
      healthPaths: healthPaths(inputs),
      healthTimeoutSeconds: inputs['health-timeout-seconds'],
      keepFailed: inputs['keep-failed'],
      commandTimeoutSeconds: inputs['command-timeout-seconds'],
    },
  };
}
