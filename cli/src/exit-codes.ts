/**
 * The command line's exit codes, one per outcome a script may want to tell apart. The help prints
 * this table and the README lists it (test/operator-cli-help.test.ts keeps them together).
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  lockHeld: 3,
  refused: 4,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_MEANINGS: ReadonlyArray<readonly [ExitCode, string]> = [
  [ExitCode.ok, 'done'],
  [
    ExitCode.failed,
    "failed: a host could not be read, a phase failed on a host, or the monitor's verdict was not success (the lines above say where)",
  ],
  [
    ExitCode.usage,
    'usage error, found before any host was contacted: an unknown option, a bad value, a file that cannot be read',
  ],
  [
    ExitCode.lockHeld,
    'another run holds the lock on a host (named with what it does and its version); nothing was changed',
  ],
  [
    ExitCode.refused,
    'refused by what the hosts hold: nothing to abort, hold, promote or watch, a canary of another version, ' +
      'a host key not in the known hosts, a host not prepared; nothing was changed',
  ],
];
