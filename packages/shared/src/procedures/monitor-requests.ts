import { printable, type Clock } from '../action';
import type { HostSession } from '../fleet';
import { script, type Argv } from '../hosts';

/**
 * What people ask of a running monitor through the host it locked first: an abort (a rollback, or
 * `agent-loop abort`, that waits for the lock writes an abort request next to it), and a hold
 * (`agent-loop hold`: a ramp stays at its step).
 */

/**
 * How often the host looks for an abort request while the monitor waits on it. The monitor learns
 * of a request at most this late, plus one round trip.
 */
export const ABORT_CHECK_MS = 100;

/**
 * How long one wait lasts on the host when no request comes; the next starts at once, on the
 * connection the monitor keeps open. A wait left behind by a monitor that ended stops by itself
 * within this.
 */
export const ABORT_WAIT_SECONDS = 20;

/** How often the monitor asks for an abort request (one command each) when the wait cannot run on the host. */
export const ABORT_POLL_MS = 1000;

/**
 * A command that returns as soon as the abort request `path` exists (printing `abort ` and the
 * request), or after `seconds` with nothing. perl (part of every Debian and Ubuntu base system)
 * checks every ABORT_CHECK_MS in one process, about 1 ms of CPU a second; a host without perl
 * checks every 0.25 s, starting a `sleep` each time (a `sleep` that takes no fraction sleeps 1 s).
 */
export function abortWaitCommand(path: string, seconds = ABORT_WAIT_SECONDS): Argv {
  const checks = Math.ceil((seconds * 1000) / ABORT_CHECK_MS);
  return script(
    'al-abort-wait',
    [
      'if command -v perl >/dev/null 2>&1; then',
      // It also ends once sshd's process for the connection is gone (a monitor that ended or was cut off).
      "  perl -e 'my ($f, $n, $ssh) = @ARGV; " +
        `select(undef, undef, undef, ${ABORT_CHECK_MS / 1000}) until -f $f || $n-- <= 0 || !(kill(0, $ssh) || $!{EPERM})' ` +
        '"$1" "$2" "$PPID"',
      'else',
      '  i=0',
      '  while [ ! -f "$1" ] && [ "$i" -lt "$3" ]; do i=$((i + 1)); sleep 0.25 2>/dev/null || sleep 1; done',
      'fi',
      'if [ -f "$1" ]; then printf "abort "; head -c 600 "$1"; fi',
      'exit 0',
    ].join('\n'),
    [path, String(checks), String(seconds * 4)],
  );
}

export interface AbortWatch {
  stop(): void;
}

/**
 * Waits on `session`'s host for an abort request until stopped, one wait after the other on its
 * open connection; `onRequest` is called once, with the request's text. Where the wait cannot run
 * (or returns at once), the monitor asks once and again ABORT_POLL_MS later.
 */
export function watchAbortRequest(
  session: HostSession,
  clock: Clock,
  onRequest: (request: string) => void,
): AbortWatch {
  let stopped = false;
  let wake = (): void => undefined;
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const next = async (): Promise<string | null> => {
    const started = clock.now();
    try {
      const result = await session.remote.run(abortWaitCommand(session.paths.abort), {
        timeoutMs: (ABORT_WAIT_SECONDS + 15) * 1000,
      });
      if (result.stdout.startsWith('abort ')) return result.stdout.slice(6).trim();
      // A wait that ran its time: the next one starts at once.
      if (result.code === 0 && clock.now() - started >= ABORT_POLL_MS) return null;
    } catch {
      // Asked below instead.
    }
    const request = await session.abortRequest().catch(() => null);
    if (request === null && !stopped) await pause(ABORT_POLL_MS);
    return request;
  };
  void (async () => {
    while (!stopped) {
      const request = await next();
      if (request !== null && !stopped) {
        stopped = true;
        onRequest(request);
      }
    }
  })();
  return {
    stop() {
      stopped = true;
      wake();
    },
  };
}

/** Who asked for the abort and why, from the request file (text from the host: shown through printable). */
export function abortRequester(request: string): string {
  try {
    const parsed = JSON.parse(request) as { runId?: unknown; actor?: unknown; reason?: unknown };
    const run = printable(String(parsed.runId ?? '?'));
    return `rollback run ${run} by ${printable(String(parsed.actor ?? '?'))} (${printable(String(parsed.reason ?? ''), 200)})`;
  } catch {
    return 'a rollback (unreadable request)';
  }
}

/** Who asked for a hold and why, from the request file (text from the host: shown through printable). */
export function holdText(request: string): string {
  try {
    const parsed = JSON.parse(request) as { actor?: unknown; reason?: unknown };
    return `asked by ${printable(String(parsed.actor ?? '?'))}: ${printable(String(parsed.reason ?? ''), 200)}`;
  } catch {
    return 'an unreadable hold request';
  }
}
