import { Registry, requireInput } from '../action';
import { commandRuntime, composeRuntime, type Runtime } from './runtime';

/**
 * The runtime seam's registry: every runtime by the name the `runtime` input gives. A new one (a
 * systemd unit per color, say) implements `Runtime` (runtime.ts: the commands that prepare, start
 * and stop a color) and is registered here, or from outside the core with `runtimes.register`;
 * the deploy, promote, rollback and monitor never name one.
 */

/** What a runtime is built from: the runtime inputs, read and checked (inputs/common-inputs.ts: runtimeOptions). */
export interface RuntimeOptions {
  /** compose-file. */
  composeFile: string;
  /** start-command and stop-command: templates with {app} {color} {port} {image} {version}. */
  startCommand: string;
  stopCommand: string;
  /** health-timeout-seconds: how long a start may wait for the color to be healthy. */
  healthTimeoutSeconds?: number;
  /** min-free-disk-mb: room a new image needs (0 checks nothing). */
  minFreeDiskMb: number;
}

export interface RuntimeEntry {
  /** What the runtime needs of the inputs, checked when they are read, before any host: throws a ConfigurationError naming the input. */
  check?(options: RuntimeOptions): void;
  build(options: RuntimeOptions): Runtime;
}

export const runtimes = new Registry<RuntimeEntry>('runtime', 'runtime', {
  compose: {
    build: (options) =>
      composeRuntime(options.composeFile, {
        waitTimeoutSeconds: options.healthTimeoutSeconds,
        minFreeDiskMb: options.minFreeDiskMb,
      }),
  },
  command: {
    check(options) {
      requireInput(
        options.startCommand !== '',
        'start-command',
        'is required when runtime is command, e.g. "docker run -d --name {app}-{color} -p 127.0.0.1:{port}:8000 {image}"',
      );
      requireInput(
        options.stopCommand !== '',
        'stop-command',
        'is required when runtime is command, e.g. "docker rm -f {app}-{color}"',
      );
    },
    build: (options) => commandRuntime(options.startCommand, options.stopCommand),
  },
});

/** The runtime `name` names, its inputs checked first. */
export function buildRuntime(name: string, options: RuntimeOptions): Runtime {
  const entry = runtimes.get(name);
  entry.check?.(options);
  return entry.build(options);
}
