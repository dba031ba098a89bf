import { errorMessage, settleLimit } from '../action';
import { connect, runChecked, script, statePaths, type HostSpec } from '../hosts';
import type { SessionSettings } from './session';

/**
 * Asks a ramp to hold at its current step (`request`), or to go on (null): a file next to the lock
 * on every host, written without the lock (the monitor that holds it reads the file). Returns the
 * hosts it was written on.
 */
export async function setHold(
  specs: readonly HostSpec[],
  settings: SessionSettings,
  request: { reason: string } | null,
): Promise<string[]> {
  // Each host's label at its place in the input, so the list does not depend on which answered first.
  const done: Array<string | undefined> = specs.map(() => undefined);
  const body = request
    ? JSON.stringify({
        runId: settings.run.runId,
        actor: settings.run.actor,
        reason: request.reason,
        time: new Date(settings.clock.now()).toISOString(),
      })
    : '';
  const results = await settleLimit(specs, settings.maxParallel, async (spec, index) => {
    const remote = await connect(spec.target, { ...settings.connect, warn: settings.log.warn });
    try {
      const paths = statePaths(spec.stateDir, settings.app);
      const argv = request
        ? script(
            'al-hold',
            'set -e; mkdir -p "$(dirname "$1")"; tmp=$(mktemp "$(dirname "$1")/.hold.XXXXXXXX"); cat > "$tmp"; chmod 644 "$tmp"; mv -f "$tmp" "$1"',
            [paths.hold],
          )
        : ['rm', '-f', paths.hold];
      await runChecked(remote, argv, request ? 'writing the hold request' : 'removing the hold request', {
        stdin: body,
      });
      done[index] = remote.label;
    } finally {
      remote.close();
    }
  });
  const failed = results.flatMap((result) => (result.ok ? [] : [errorMessage(result.error)]));
  if (failed.length > 0)
    throw new Error(
      `the hold request could not be ${request ? 'written' : 'removed'} on every host: ${failed.join('; ')}`,
    );
  return done.filter((label): label is string => label !== undefined);
}
