import { script, type Remote } from '@agent-loop/shared/hosts';
import { abortWaitCommand } from '@agent-loop/shared/procedures';
import type { LabHost } from '../../test/lab/index';
import { sshdTreeCpuMs } from '../support/proc';
import { sleep } from './observe';

/** Host-side CPU per second of one way of watching for an abort, over one connection, for `seconds`. */
export async function watchCost(
  host: LabHost,
  remote: Remote,
  abortPath: string,
  way: string,
  costSeconds: number,
): Promise<number> {
  const before = sshdTreeCpuMs(host);
  const end = Date.now() + costSeconds * 1000;
  if (way === 'wait') await remote.run(abortWaitCommand(abortPath, costSeconds), { timeoutMs: 60_000 });
  else {
    const every = way === 'poll 1 s' ? 1000 : 200;
    const read = script('al-abort-read', 'if [ -f "$1" ]; then printf "abort "; head -c 600 "$1"; fi', [abortPath]);
    while (Date.now() < end) {
      const next = Date.now() + every;
      await remote.run(read, { timeoutMs: 5000 });
      await sleep(Math.max(0, next - Date.now()));
    }
  }
  await sleep(300);
  return (sshdTreeCpuMs(host) - before) / costSeconds;
}
