import { HostError, printable } from '../action';
import { runChecked, type Remote } from './ssh';
import { script, type Argv } from './shell';
import type { StatePaths } from './state';
import { LockHeld, parseLockOwner, type LockOwner } from './lock-owner';

/**
 * A host's lock for one app: a folder made in one atomic step with its owner file inside, kept alive
 * by a heartbeat, released only by its owner, broken only when stale, taken over only when ownerless.
 */

export const lockCommands = {
  /**
   * Takes the lock in one atomic step: the owner file is written into a fresh folder that is then
   * renamed to the lock's name, so nobody ever sees a lock without its owner. On success prints
   * `acquired`; otherwise the time of the holder's last sign of life, the host's time, the owner
   * (nothing for a lock without an owner file) and exit 1.
   */
  acquireLock(lockDir: string): Argv {
    return script(
      'al-lock',
      [
        'parent=$(dirname "$1")',
        'mkdir -p "$parent" || exit 3',
        // A rename replaces an empty folder: without this check, a lock folder an operator made by
        // hand (mkdir lock) to stop deploys would be taken silently.
        'if [ ! -e "$1" ] && [ ! -L "$1" ]; then',
        '  tmp=$(mktemp -d "$parent/.lock.XXXXXXXX") || exit 3',
        '  if ! cat > "$tmp/owner.json"; then rm -rf "$tmp"; exit 3; fi',
        '  chmod 755 "$tmp"; chmod 644 "$tmp/owner.json"',
        '  if mv -T "$tmp" "$1" 2>/dev/null; then echo acquired; exit 0; fi',
        '  rm -rf "$tmp"',
        'fi',
        // The lock vanished between the rename and here (or while its owner was read): the caller tries again.
        '[ -e "$1" ] || [ -L "$1" ] || exit 4',
        'owner=$(head -c 4096 "$1/owner.json" 2>/dev/null)',
        '[ -n "$owner" ] || [ -e "$1" ] || [ -L "$1" ] || exit 4',
        // A lock whose age cannot be read (no GNU stat) counts as alive, never as stale.
        'printf "held %s %s\\n" "$(stat -c %Y "$1" 2>/dev/null || date +%s)" "$(date +%s)"',
        'printf "%s" "$owner"',
        'exit 1',
      ].join('\n'),
      [lockDir],
    );
  },
  /**
   * Removes a lock that has no owner file (an operator's `mkdir lock`), only while it still has
   * none: exit 5 when an owner file has appeared since it was read.
   */
  takeOverLock(lockDir: string): Argv {
    return script(
      'al-unlock-ownerless',
      [
        'set -u',
        '[ -e "$1" ] || [ -L "$1" ] || exit 0',
        '[ ! -e "$1/owner.json" ] || { echo "the lock has an owner now" >&2; exit 5; }',
        'aside=$(mktemp -d "$(dirname "$1")/.taken.XXXXXXXX") || exit 3',
        'mv -T "$1" "$aside/lock" || { rmdir "$aside"; exit 3; }',
        'rm -rf "$aside"',
      ].join('\n'),
      [lockDir],
    );
  },
  /** Moves a stale lock aside and removes it; only when it has still shown no sign of life for $2 seconds. */
  breakLock(lockDir: string, staleSeconds: number): Argv {
    return script(
      'al-unlock-stale',
      [
        'set -u',
        'seen=$(stat -c %Y "$1" 2>/dev/null) || exit 0',
        '[ $(( $(date +%s) - seen )) -gt "$2" ] || { echo "the lock came back to life" >&2; exit 5; }',
        'aside=$(mktemp -d "$(dirname "$1")/.broken.XXXXXXXX") || exit 3',
        'mv -T "$1" "$aside" 2>/dev/null; rm -rf "$aside"',
      ].join('\n'),
      [lockDir, String(staleSeconds)],
    );
  },
  /**
   * Releases the lock only if this run still owns it. The lock is renamed aside before it is
   * removed, so no one ever sees it as a folder without its owner file.
   */
  releaseLock(lockDir: string, token: string): Argv {
    return script(
      'al-unlock',
      'if grep -qF "$2" "$1/owner.json" 2>/dev/null; then ' +
        'aside=$(mktemp -d "$(dirname "$1")/.released.XXXXXXXX") || exit 3; ' +
        'mv -T "$1" "$aside/lock" 2>/dev/null; rm -rf "$aside"; fi',
      [lockDir, token],
    );
  },
  /**
   * Rewrites the owner file of a lock this run holds (the token is checked), for a run that names
   * its version only once it has read the state under the lock: a monitor, its canary's.
   */
  relabelLock(lockDir: string, token: string): Argv {
    return script(
      'al-relabel',
      'grep -qF "$2" "$1/owner.json" 2>/dev/null || exit 0; tmp=$(mktemp "$1/.owner.XXXXXXXX") || exit 3; ' +
        'cat > "$tmp" && chmod 644 "$tmp" && mv -f "$tmp" "$1/owner.json"',
      [lockDir, token],
    );
  },
  /** Shows that the owner is alive (the lock's time); prints `lost` when the lock is no longer this run's. */
  heartbeat(lockDir: string, token: string): Argv {
    // touch -c: a heartbeat still in flight when the lock is released (or its run killed and the
    // post step run) must not create a file in the lock's place, which would block every next run.
    return script(
      'al-heartbeat',
      'if grep -qF "$2" "$1/owner.json" 2>/dev/null; then touch -c "$1" && echo ok; else echo lost; fi',
      [lockDir, token],
    );
  },
};

export interface LockOptions {
  waitSeconds: number;
  staleSeconds: number;
  breakStale: boolean;
  /** Take over a lock that has no owner file (input take-over-lock); otherwise it is reported. */
  takeOver?: boolean;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  warn: (message: string) => void;
  /** Called while another run holds the lock (e.g. to ask a monitor to stop); returns how long to keep waiting at least, in seconds. */
  onHeld?: (owner: Partial<LockOwner> | null) => Promise<number>;
}

/** Takes the app's lock on a host; returns a function that releases it. */
export async function acquireLock(
  remote: Remote,
  paths: StatePaths,
  owner: LockOwner,
  options: LockOptions,
): Promise<() => Promise<void>> {
  let deadline = options.now() + options.waitSeconds * 1000;
  let asked = false;
  for (;;) {
    const result = await remote.run(lockCommands.acquireLock(paths.lock), { stdin: JSON.stringify(owner) });
    if (result.code === 0 && result.stdout.trim() === 'acquired') {
      return async () => {
        await remote.run(lockCommands.releaseLock(paths.lock, owner.token));
      };
    }
    if (result.code === 4) continue;
    if (result.code !== 1)
      throw new HostError(
        remote.label,
        `could not take the lock in ${paths.lock}: ${printable(result.stderr.trim(), 300) || `exit ${result.code}`}`,
      );
    const [header = '', ...rest] = result.stdout.split('\n');
    const [, seen = '0', hostNow = '0'] = header.split(' ');
    const ageSeconds = Math.max(0, Number(hostNow) - Number(seen));
    const holder = parseLockOwner(rest.join('\n'));
    if (!holder && options.takeOver) {
      options.warn(`${remote.label}: taking over a lock with no owner file (take-over-lock: true)`);
      const taken = await remote.run(lockCommands.takeOverLock(paths.lock));
      // Exit 5: an owner appeared meanwhile; the next attempt sees it.
      if (taken.code !== 0 && taken.code !== 5)
        throw new HostError(
          remote.label,
          `could not take over the lock in ${paths.lock}: ${printable(taken.stderr.trim(), 300) || `exit ${taken.code}`}`,
        );
      continue;
    }
    // A lock without an owner is no dead run's: it never goes stale (see LockHeld).
    const stale = holder !== null && ageSeconds > options.staleSeconds;
    if (stale && options.breakStale) {
      options.warn(
        `${remote.label}: breaking a stale lock (no sign of life for ${ageSeconds} s) held by run ${holder?.runId ?? '?'}`,
      );
      await runChecked(
        remote,
        lockCommands.breakLock(paths.lock, options.staleSeconds),
        'breaking the stale lock',
      ).catch(() => undefined);
      continue;
    }
    if (!stale && !asked && options.onHeld) {
      asked = true;
      const atLeast = await options.onHeld(holder);
      deadline = Math.max(deadline, options.now() + atLeast * 1000);
    }
    if (stale || options.now() >= deadline) throw new LockHeld(remote.label, holder, ageSeconds, stale);
    await options.sleep(Math.min(asked ? 250 : 2000, Math.max(100, deadline - options.now())));
  }
}
