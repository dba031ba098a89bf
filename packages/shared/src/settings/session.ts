import { systemClock, type Clock, type Logger, type RunInfo } from '../action';
import type { SessionSettings } from '../fleet';
import type { ConnectOptions } from '../hosts';
import type { ConnectInputs, HostInputs } from '../inputs';

/** How to reach the hosts, from the SSH inputs every action that contacts hosts takes. */
export function connectOptions(inputs: ConnectInputs): ConnectOptions {
  return {
    privateKey: inputs['ssh-private-key'],
    knownHosts: inputs['ssh-known-hosts'],
    insecureSkipHostKeyCheck: inputs['insecure-skip-host-key-check'],
    connectTimeoutMs: inputs['ssh-connect-timeout-seconds'] * 1000,
  };
}

/** Session settings (connection, lock, parallelism, who acts, the router by its name) from the shared host inputs. */
export function sessionFromInputs(
  inputs: HostInputs & { 'split-key': string; router?: string },
  run: RunInfo,
  log: Logger,
  clock: Clock = systemClock,
  signal?: AbortSignal,
): SessionSettings {
  return {
    app: inputs.app,
    ...(inputs.router ? { router: inputs.router } : {}),
    splitKey: inputs['split-key'],
    connect: connectOptions(inputs),
    lock: {
      waitSeconds: inputs['lock-wait-seconds'],
      staleSeconds: inputs['lock-stale-seconds'],
      breakStale: inputs['break-stale-lock'],
      takeOver: inputs['take-over-lock'],
    },
    maxParallel: inputs['max-parallel'],
    run,
    clock,
    log,
    repairState: inputs['repair-state'],
    ...(signal ? { signal } : {}),
  };
}
