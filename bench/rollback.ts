/**
 * Time to roll back on the lab: from the decision to the previous color serving 100% of traffic on
 * every host, for 1 and 20 hosts, in the two situations the suite meets:
 *  - canary: the canary monitor decides while it holds the hosts open (the stable color still runs);
 *  - promoted: a manual rollback after promotion (connect, lock, restart the stopped color, switch).
 * It prints figures next to the goal (≤ 1 s per host from the decision, for the canary case); it is
 * not a test, and exits non-zero only when a rollback fails outright.
 *
 * With `--router haproxy` (or `both`, the default, side by side with nginx) each lab host also runs
 * a real HAProxy, and the canary rollback moves HAProxy's weights on its admin socket instead of
 * nginx's include: decision → previous version serving 100% through HAProxy (goal: ≤ 100 ms on 1
 * host, ≤ 1 s on 20). A second table times the switch alone on one host under keep-alive load, for
 * each router: weights sent → read back live (goal with HAProxy: p90 ≤ 10 ms, 0 connection resets).
 *
 *   npx tsx bench/rollback.ts [--repeats 3] [--hosts 1,20] [--router nginx|haproxy|both] [--switches 20]
 */
import { parseArgs } from 'node:util';
import { startLab } from '../test/lab/index';
import { measureLab, type Row } from './rollback/measure';
import { printReport } from './rollback/print';
import type { RouterName } from './rollback/routers';
import { benchSwitch, type SwitchRow } from './rollback/switch';

const { values } = parseArgs({
  options: {
    repeats: { type: 'string', default: '3' },
    hosts: { type: 'string', default: '1,20' },
    router: { type: 'string', default: 'both' },
    switches: { type: 'string', default: '20' },
  },
});
const repeats = Number(values.repeats);
const hostCounts = (values.hosts ?? '1,20').split(',').map(Number);
const switchCount = Number(values.switches);
if (!['nginx', 'haproxy', 'both'].includes(values.router ?? ''))
  throw new Error(`--router must be nginx, haproxy or both, got ${values.router}`);
const routerNames: RouterName[] = values.router === 'both' ? ['nginx', 'haproxy'] : [values.router as RouterName];

const rows: Row[] = [];
const switchRows: SwitchRow[] = [];
let failures = 0;

for (const count of hostCounts) {
  for (const routerName of routerNames) {
    const lab = await startLab({ hosts: count, ...(routerName === 'haproxy' ? { router: 'haproxy' as const } : {}) });
    try {
      const { hosts, rows: measured } = await measureLab(lab, count, routerName, repeats);
      rows.push(...measured);
      if (count === Math.min(...hostCounts)) switchRows.push(await benchSwitch(lab, hosts, routerName, switchCount));
    } catch (error) {
      failures++;
      console.error(`${count} host(s), ${routerName}: ${(error as Error).message}`);
    } finally {
      await lab.stop();
    }
  }
}

printReport(rows, switchRows, { routerNames, repeats, switchCount });
process.exit(failures > 0 ? 1 : 0);
