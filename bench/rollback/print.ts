import os from 'node:os';
import { percentile } from '../../test/lab/traffic';
import type { Row } from './measure';
import type { RouterName } from './routers';
import type { SwitchRow } from './switch';

export const GOAL_MS = 1000;
/** HAProxy (issue 20): decision → previous version serving 100% on every host, by host count. */
export const HAPROXY_RESTORE_GOAL_MS: Record<number, number> = { 1: 100, 20: 1000 };
/** HAProxy (issue 20): one switch, weights sent → read back live, p90 per host. */
export const HAPROXY_SWITCH_GOAL_MS = 10;
export const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
};
export const cores = os.availableParallelism();

/** The two tables and their notes. */
export function printReport(
  rows: Row[],
  switchRows: SwitchRow[],
  options: { routerNames: RouterName[]; repeats: number; switchCount: number },
): void {
  const { routerNames, repeats, switchCount } = options;
  console.log(`\nrollback benchmark — ${new Date().toISOString()}; ${repeats} run(s) per row; node ${process.version}`);
  console.log('decision → previous version serving 100% on every host (RollbackResult.restoredMs)\n');
  const ms = (value: number): string => `${Math.round(value)} ms`.padStart(8);
  console.log(
    'router   hosts  situation                                    all hosts: median      max   per host: median   p90      max   ' +
      'runner CPU  host CPU per host  floor here  goal                             met',
  );
  console.log(
    '-------  -----  ------------------------------------------  ------------------  -------  -----------------  -------  -------  ' +
      '----------  -----------------  ----------  -------------------------------  ---',
  );
  // By host count, the canary first, then nginx before HAProxy: the two routers side by side.
  const situationOrder = (row: Row): number => (row.situation.startsWith('canary') ? 0 : 1);
  const byHostsThenRouter = [...rows].sort(
    (a, b) =>
      a.hosts - b.hosts ||
      situationOrder(a) - situationOrder(b) ||
      routerNames.indexOf(a.router) - routerNames.indexOf(b.router),
  );
  for (const row of byHostsThenRouter) {
    const perHost = [...row.perHost].sort((a, b) => a - b);
    const p90 = perHost[Math.min(perHost.length - 1, Math.floor(perHost.length * 0.9))] ?? Number.NaN;
    const canaryRow = row.situation.startsWith('canary');
    const haproxyGoal = row.router === 'haproxy' && canaryRow ? HAPROXY_RESTORE_GOAL_MS[row.hosts] : undefined;
    // nginx keeps its goal (per host, from the decision); HAProxy's is on every host serving the previous version.
    const goal =
      haproxyGoal !== undefined ? `all hosts max ≤ ${haproxyGoal} ms` : canaryRow ? `per host max ≤ ${GOAL_MS} ms` : '';
    const met =
      haproxyGoal !== undefined
        ? Math.max(...row.restored) <= haproxyGoal
          ? 'yes'
          : 'NO'
        : goal
          ? Math.max(...perHost) <= GOAL_MS
            ? 'yes'
            : 'NO'
          : '';
    const hostCpu = median(row.hostCpu);
    console.log(
      [
        row.router.padEnd(7),
        String(row.hosts).padEnd(5),
        row.situation.padEnd(42),
        ms(median(row.restored)).padStart(18),
        ms(Math.max(...row.restored)).padStart(7),
        ms(median(perHost)).padStart(17),
        ms(p90).padStart(7),
        ms(Math.max(...perHost)).padStart(7),
        ms(median(row.runnerCpu)).padStart(10),
        ms(hostCpu / row.hosts).padStart(17),
        ms(hostCpu / cores).padStart(10),
        goal.padEnd(31),
        met,
      ].join('  '),
    );
  }
  if (routerNames.includes('haproxy'))
    console.log(
      "HAProxy: the rollback after promote opens its own sessions, which build nginx's router until the router input is wired (issue 20): not measured.",
    );
  if (switchRows.length > 0) {
    const fine = (value: number): string => `${value.toFixed(1)} ms`;
    console.log(
      `\none switch on one lab host: ${switchCount} switches cycling 90/10 → 100/0 → 10/90 → 0/100 with no traffic, ` +
        `then ${switchCount} more under keep-alive load (16 connections)`,
    );
    console.log('         no traffic: live          under load: live              whole call');
    console.log(
      'router   p50       p90       max       p50       p90       max        p90  requests  failed  non-2xx  ' +
        'resets (retried)  goal                                     met',
    );
    console.log(
      '-------  --------  --------  --------  --------  --------  --------  --------  --------  ------  -------  ' +
        '----------------  ---------------------------------------  ---',
    );
    for (const row of switchRows) {
      const goal = row.router === 'haproxy' ? `p90 ≤ ${HAPROXY_SWITCH_GOAL_MS} ms (no traffic), 0 resets` : '';
      const met =
        row.router === 'haproxy'
          ? percentile(row.quietLiveMs, 90) <= HAPROXY_SWITCH_GOAL_MS && row.resets === 0 && row.failed === 0
            ? 'yes'
            : 'NO'
          : '';
      const three = (values: number[]): string =>
        [percentile(values, 50), percentile(values, 90), Math.max(...values)]
          .map((value) => fine(value).padStart(8))
          .join('  ');
      console.log(
        [
          row.router.padEnd(7),
          three(row.quietLiveMs),
          three(row.liveMs),
          fine(percentile(row.wallMs, 90)).padStart(8),
          String(row.requests).padStart(8),
          String(row.failed).padStart(6),
          String(row.non2xx).padStart(7),
          String(row.resets).padStart(16),
          goal.padEnd(39),
          met,
        ].join('  '),
      );
    }
    console.log(
      '"live": SwitchResult.liveMs — nginx: the include written → a new worker serves it (a reload; the switch returns once no old worker takes a request);',
    );
    console.log(
      'HAProxy: `set server … weight` sent on the admin socket → the weights read back with `get weight` (no reload, no new process).',
    );
    console.log(
      '"whole call": setWeights from the runner, SSH round trip included. "resets": connections the load generator saw reset (a GET is retried once).',
    );
  }
  console.log(
    '\n"all hosts": decision → the last host serving the previous version; "per host": decision → each host\'s switch confirmed live.',
  );
  console.log(
    '"runner CPU": this process\'s CPU time during the rollback. Every lab host runs its commands (sshd, sh, curl, the nginx reload) on',
  );
  console.log(
    "this machine's cores too, so with 20 lab hosts the per-host figure measures 20 hosts' host-side work queued on those cores.",
  );
  console.log(
    `"host CPU per host": the whole machine's CPU time from the decision until traffic was restored, less the runner's, per host. "floor here": all hosts'`,
  );
  console.log(
    `host-side CPU time spread over this machine's ${cores} core(s), the least time the lab can take whatever the tool does; on a fleet`,
  );
  console.log(
    'each host runs its part on its own cores. Where the floor is over the goal, this machine cannot show the goal met.',
  );
  console.log('\nThe procedure allows 2 minutes (120 000 ms) from the trigger to the rollback.');
}
