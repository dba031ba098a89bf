// Concurrency groups, shared by every run in this process: at most one holder runs and one waits
// per group, as on GitHub. A newcomer cancels the holder when it asks for cancel-in-progress, and
// always cancels an older waiter ("Canceling since a higher priority waiting request ... exists").

export interface Lease {
  release(): void;
}

interface Holder {
  cancel(): void;
  released: Promise<void>;
}

const running = new Map<string, Holder>();
const waiting = new Map<string, { cancel(): void }>();

export const cancelMessage = (group: string) =>
  `Canceling since a higher priority waiting request for '${group}' exists`;

/**
 * Enters `group`, waiting for its holder if there is one; resolves with a lease, or with
 * 'cancelled' when a newer request took the waiting place. `cancelMe` is how a newer request
 * with cancel-in-progress stops this one while it holds the group.
 */
export async function enterGroup(
  group: string,
  cancelInProgress: boolean,
  cancelMe: () => void,
): Promise<Lease | 'cancelled'> {
  for (;;) {
    const holder = running.get(group);
    if (!holder) return hold(group, cancelMe);
    if (cancelInProgress) holder.cancel();
    waiting.get(group)?.cancel();
    const outcome = await new Promise<'free' | 'cancelled'>((resolve) => {
      const me = { cancel: () => resolve('cancelled') };
      waiting.set(group, me);
      void holder.released.then(() => {
        if (waiting.get(group) === me) waiting.delete(group);
        resolve('free');
      });
    });
    if (outcome === 'cancelled') return 'cancelled';
  }
}

function hold(group: string, cancelMe: () => void): Lease {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  running.set(group, { cancel: cancelMe, released });
  return {
    release() {
      running.delete(group);
      release();
    },
  };
}
