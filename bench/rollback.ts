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
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import {
  closeSessions,
  connect,
  deploy,
  HaproxyRouter,
  NginxRouter,
  openSessions,
  promote,
  rollback,
  rollbackSessions,
  settleLimit,
  type HostSession,
  type HostSpec,
  type Logger,
  type Remote,
  type TrafficRouter,
  type Weights,
} from '@agent-loop/shared';
import { startLab, type Lab } from '../test/lab/index';
import { percentile, sendTraffic, startTraffic } from '../test/lab/traffic';
import {
  deploySettings,
  labHosts,
  promoteSettings,
  rollbackSettings,
  sessionSettings,
} from '../test/support/deploy-settings';

const GOAL_MS = 1000;
/** HAProxy (issue 20): decision → previous version serving 100% on every host, by host count. */
const HAPROXY_RESTORE_GOAL_MS: Record<number, number> = { 1: 100, 20: 1000 };
/** HAProxy (issue 20): one switch, weights sent → read back live, p90 per host. */
const HAPROXY_SWITCH_GOAL_MS = 10;
type RouterName = 'nginx' | 'haproxy';
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

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
};

interface Row {
  router: RouterName;
  hosts: number;
  situation: string;
  restored: number[];
  /** Decision → each host's switch confirmed, over all runs. */
  perHost: number[];
  /**
   * CPU time of this process (the runner's side: SSH, state, decisions) during each rollback. The
   * lab's hosts share this machine's cores with it; on a real fleet each host runs its own commands
   * and only this part is shared.
   */
  runnerCpu: number[];
  /** CPU time of the whole machine during each rollback, less this process's: the hosts' side. */
  hostCpu: number[];
}

const cpuMs = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / 1000;
/** Busy CPU time of the whole machine so far (user, nice, system, irq, softirq), in ms. */
const machineBusyMs = (): number => {
  const fields = (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  return [0, 1, 2, 5, 6].reduce((sum, index) => sum + (fields[index] ?? 0), 0) * tick;
};
const cores = os.availableParallelism();
/**
 * A logger that notes the machine's busy time when the rollback says traffic is restored, so that
 * the host-side CPU counted is the part up to that moment (stopping the failed color comes after).
 */
const restoreWatch = () => {
  let at: number | null = null;
  const log: Logger = {
    info: (message) => void (message.startsWith('traffic restored') && (at = machineBusyMs())),
    warn: () => {},
    group: (_title, body) => body(),
  };
  return { log, busyAtRestore: () => at ?? machineBusyMs() };
};

/** One switch on one host, cycled, with no traffic and then under keep-alive load: per router. */
interface SwitchRow {
  router: RouterName;
  /** With no traffic (as bench/blue-green.ts (a) times nginx's switch). */
  quietLiveMs: number[];
  liveMs: number[];
  wallMs: number[];
  requests: number;
  failed: number;
  non2xx: number;
  resets: number;
}

const SWITCH_CYCLE: Weights[] = [
  { blue: 90, green: 10 },
  { blue: 100, green: 0 },
  { blue: 10, green: 90 },
  { blue: 0, green: 100 },
];

/** The router of a lab host, as a session would build it (HAProxy: the host's own, next to nginx). */
function routerFor(name: RouterName, lab: Lab, index: number, spec: HostSpec, remote: Remote): TrafficRouter {
  if (name === 'nginx')
    return new NginxRouter(
      remote,
      {
        app: lab.app,
        bluePort: spec.bluePort,
        greenPort: spec.greenPort,
        statusPort: spec.nginxStatusPort,
        splitKey: '$request_id',
      },
      spec.nginxConfDir,
      spec.nginxCommand,
    );
  const haproxy = lab.hosts[index]?.haproxy;
  if (!haproxy) throw new Error(`lab host ${index + 1} has no HAProxy`);
  return new HaproxyRouter(remote, { app: lab.app, socket: haproxy.socket, backend: haproxy.backend }, spec.stateDir);
}

/** Sets `to`'s weights on every host to what `from` serves there (not timed): the lab's two routers agree again. */
async function mirror(lab: Lab, hosts: readonly HostSpec[], from: RouterName, to: RouterName): Promise<void> {
  const connectOptions = sessionSettings(lab).connect;
  const results = await settleLimit(hosts, 20, async (spec) => {
    const remote = await connect(spec.target, connectOptions);
    try {
      const index = hosts.indexOf(spec);
      const live = await routerFor(from, lab, index, spec, remote).getWeights();
      if (live) await routerFor(to, lab, index, spec, remote).setWeights(live.weights);
    } finally {
      remote.close();
    }
  });
  const failed = results.find((result) => !result.ok);
  if (failed && !failed.ok) throw failed.error;
}

/**
 * Until the router registry lets a session build the router its inputs name (issue 20: the wiring
 * is not done yet), the sessions a monitor holds are given the host's HAProxy router here; the
 * deploys before them move nginx, and `mirror` copies their weights onto HAProxy first.
 */
function useRouter(sessions: readonly HostSession[], lab: Lab, hosts: readonly HostSpec[], name: RouterName): void {
  if (name === 'nginx') return;
  for (const session of sessions) {
    const index = hosts.findIndex((spec) => spec.target.label === session.spec.target.label);
    Object.assign(session, { router: routerFor(name, lab, index, session.spec, session.remote) });
  }
}

async function benchSwitch(lab: Lab, hosts: readonly HostSpec[], name: RouterName): Promise<SwitchRow> {
  // Both colors run (a canary just deployed), so every switch sends requests to a live app.
  const both = await deploy(hosts, { ...deploySettings(lab, 'switch-bench', { smokeRequests: [] }), maxParallel: 20 });
  if (!both.ok) throw new Error(`deploy for the switch bench failed: ${both.error}`);
  const spec = hosts[0] as HostSpec;
  const remote = await connect(spec.target, sessionSettings(lab).connect);
  try {
    const router = routerFor(name, lab, 0, spec, remote);
    const url = name === 'nginx' ? (lab.hosts[0]?.proxyUrl as string) : (lab.hosts[0]?.haproxy?.url as string);
    // Warm-up, not timed.
    await router.setWeights({ blue: 50, green: 50 });
    const quietLiveMs: number[] = [];
    for (let i = 0; i < switchCount; i++)
      quietLiveMs.push((await router.setWeights(SWITCH_CYCLE[i % SWITCH_CYCLE.length] as Weights)).liveMs);
    const traffic = startTraffic({ url, concurrency: 16, durationMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const liveMs: number[] = [];
    const wallMs: number[] = [];
    for (let i = 0; i < switchCount; i++) {
      const started = performance.now();
      const result = await router.setWeights(SWITCH_CYCLE[i % SWITCH_CYCLE.length] as Weights);
      wallMs.push(performance.now() - started);
      liveMs.push(result.liveMs);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const load = await traffic.stop();
    return {
      router: name,
      quietLiveMs,
      liveMs,
      wallMs,
      requests: load.sent,
      failed: load.failed,
      non2xx: load.non2xx,
      resets: load.resets,
    };
  } finally {
    remote.close();
  }
}

const rows: Row[] = [];
const switchRows: SwitchRow[] = [];
let failures = 0;

for (const count of hostCounts) {
  for (const routerName of routerNames) {
    const lab = await startLab({ hosts: count, ...(routerName === 'haproxy' ? { router: 'haproxy' as const } : {}) });
    try {
      const hosts: HostSpec[] = labHosts(lab);
      const settings = { maxParallel: 20 };
      const first = await deploy(hosts, { ...deploySettings(lab, 'v0'), ...settings });
      if (!first.ok) throw new Error(`first deploy failed: ${first.error}`);
      await lab.enableSite();
      const canary: Row = {
        router: routerName,
        hosts: count,
        situation: 'canary (monitor holds the hosts)',
        restored: [],
        perHost: [],
        runnerCpu: [],
        hostCpu: [],
      };
      const promoted: Row = {
        router: routerName,
        hosts: count,
        situation: 'after promote (restart the stopped color)',
        restored: [],
        perHost: [],
        runnerCpu: [],
        hostCpu: [],
      };
      for (let run = 1; run <= repeats; run++) {
        // Canary: the monitor's path — sessions already open when it decides.
        const version = `c${run}`;
        const deployed = await deploy(hosts, { ...deploySettings(lab, version, { smokeRequests: [] }), ...settings });
        if (!deployed.ok) throw new Error(`deploy ${version} failed: ${deployed.error}`);
        if (routerName === 'haproxy') await mirror(lab, hosts, 'nginx', 'haproxy');
        const base = rollbackSettings(lab, { kind: 'previous' }, { reason: 'bench' });
        const sessions = await openSessions(
          hosts,
          { ...base, ...settings },
          { runId: 'bench', actor: 'bench', version, phase: 'monitor canary', time: new Date().toISOString() },
        );
        useRouter(sessions, lab, hosts, routerName);
        try {
          const decision = Date.now();
          const cpu = process.cpuUsage();
          const busy = machineBusyMs();
          const watch = restoreWatch();
          const result = await rollbackSessions(sessions, { ...base, ...settings, log: watch.log }, decision);
          const runner = cpuMs(process.cpuUsage(cpu));
          canary.runnerCpu.push(runner);
          canary.hostCpu.push(Math.max(0, watch.busyAtRestore() - busy - runner));
          if (!result.ok) throw new Error(`canary rollback failed: ${result.error}`);
          canary.restored.push(result.restoredMs ?? Number.NaN);
          for (const host of result.hosts) if (host.liveAt !== null) canary.perHost.push(host.liveAt - decision);
        } finally {
          await closeSessions(sessions);
        }
        const check = await sendTraffic({
          url: routerName === 'haproxy' ? lab.hosts[0]!.haproxy!.url : lab.hosts[0]!.proxyUrl,
          maxRequests: 50,
        });
        if (Object.keys(check.byVersion).join() !== 'v0')
          throw new Error(
            `after the canary rollback h1 serves ${JSON.stringify(check.byVersion)} through ${routerName}`,
          );
        // The rollback after promote opens its own sessions, which move nginx only (not wired yet).
        if (routerName === 'haproxy') {
          await mirror(lab, hosts, 'haproxy', 'nginx');
          continue;
        }

        // After promote: a manual rollback restarts the stopped previous color, then switches.
        const next = `p${run}`;
        const canaryNext = await deploy(hosts, { ...deploySettings(lab, next, { smokeRequests: [] }), ...settings });
        const promotedNext = await promote(hosts, { ...promoteSettings(lab, next), ...settings });
        if (!canaryNext.ok || !promotedNext.ok)
          throw new Error(`deploy/promote ${next} failed: ${canaryNext.error ?? promotedNext.error}`);
        const started = Date.now();
        const cpu = process.cpuUsage();
        const busy = machineBusyMs();
        const watch = restoreWatch();
        const back = await rollback(
          hosts,
          { ...rollbackSettings(lab, { kind: 'version', version: 'v0' }), ...settings, log: watch.log },
          started,
        );
        const runner = cpuMs(process.cpuUsage(cpu));
        promoted.runnerCpu.push(runner);
        promoted.hostCpu.push(Math.max(0, watch.busyAtRestore() - busy - runner));
        for (const host of back.hosts) if (host.liveAt !== null) promoted.perHost.push(host.liveAt - started);
        if (!back.ok) throw new Error(`rollback after promote failed: ${back.error}`);
        promoted.restored.push(back.restoredMs ?? Number.NaN);
      }
      rows.push(canary, ...(promoted.restored.length > 0 ? [promoted] : []));
      if (count === Math.min(...hostCounts)) switchRows.push(await benchSwitch(lab, hosts, routerName));
    } catch (error) {
      failures++;
      console.error(`${count} host(s), ${routerName}: ${(error as Error).message}`);
    } finally {
      await lab.stop();
    }
  }
}

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
process.exit(failures > 0 ? 1 : 0);
