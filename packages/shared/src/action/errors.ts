/**
 * A mistake the user can fix (bad input, a host that is not prepared, a lock held by another run).
 * Anything else that escapes is a bug or an outage and is reported as such.
 */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

/**
 * A check that holds between inputs, or that an implementation behind a seam makes of the inputs
 * it takes: the error names the input (`Input 'start-command': is required when …`).
 */
export function requireInput(condition: boolean, name: string, message: string): void {
  if (!condition) throw new ConfigurationError(`Input '${name}': ${message}`);
}

/** A remote command or check failed on a host. */
export class HostError extends Error {
  override name = 'HostError';
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(`${host}: ${message}`);
  }
}

/** A traffic switch that nginx serves but whose outcome could not be recorded on the host (the caller puts traffic back). */
export class UnrecordedSwitchError extends HostError {
  override name = 'UnrecordedSwitchError';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
