/**
 * Time to roll back on the lab: from the decision to the previous color serving 100% of traffic on
 * every host, for 1 and 20 hosts, in the two situations the suite meets:
 *  - canary: the canary monitor decides while it holds the hosts open (the stable color still runs);
 *  - promoted: a manual rollback after promotion (connect, lock, restart the stopped color, switch).
 * It prints figures next to the goal (≤ 1 s per host from the decision, for the canary case); it is
 * not a test, and exits non-zero only when a rollback fails outright.
 *
 *   npx tsx bench/rollback.ts [--repeats 3] [--hosts 1,20]
 */
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { closeSessions, deploy, openSessions, promote, rollback, rollbackSessions, type HostSpec, type Logger } from '@agent-loop/shared';
import { startLab } from '../test/lab/index';
import { sendTraffic } from '../test/lab/traffic';
import { deploySettings, labHosts, promoteSettings, rollbackSettings } from '../test/support/deploy-settings';

const GOAL_MS = 1000;
const { values } = parseArgs({ options: { repeats: { type: 'string', default: '3' }, hosts: { type: 'string', default: '1,20' } } });
const repeats = Number(values.repeats);
const hostCounts = (values.hosts ?? '1,20').split(',').map(Number);

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
};

interface Row {
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
  const log: Logger = { info: (message) => void (message.startsWith('traffic restored') && (at = machineBusyMs())), warn: () => {}, group: (_title, body) => body() };
  return { log, busyAtRestore: () => at ?? machineBusyMs() };
};

const rows: Row[] = [];
let failures = 0;

for (const count of hostCounts) {
  const lab = await startLab({ hosts: count });
  try {
    const hosts: HostSpec[] = labHosts(lab);
    const settings = { maxParallel: 20 };
    const first = await deploy(hosts, { ...deploySettings(lab, 'v0'), ...settings });
    if (!first.ok) throw new Error(`first deploy failed: ${first.error}`);
    await lab.enableSite();
    const canary: Row = { hosts: count, situation: 'canary (monitor holds the hosts)', restored: [], perHost: [], runnerCpu: [], hostCpu: [] };
    const promoted: Row = { hosts: count, situation: 'after promote (restart the stopped color)', restored: [], perHost: [], runnerCpu: [], hostCpu: [] };
    for (let run = 1; run <= repeats; run++) {
      // Canary: the monitor's path — sessions already open when it decides.
      const version = `c${run}`;
      const deployed = await deploy(hosts, { ...deploySettings(lab, version, { smokeRequests: [] }), ...settings });
      if (!deployed.ok) throw new Error(`deploy ${version} failed: ${deployed.error}`);
      const base = rollbackSettings(lab, { kind: 'previous' }, { reason: 'bench' });
      const sessions = await openSessions(hosts, { ...base, ...settings }, { runId: 'bench', actor: 'bench', version, phase: 'monitor canary', time: new Date().toISOString() });
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
      const check = await sendTraffic({ url: lab.hosts[0]!.proxyUrl, maxRequests: 50 });
      if (Object.keys(check.byVersion).join() !== 'v0') throw new Error(`after the canary rollback h1 serves ${JSON.stringify(check.byVersion)}`);

      // After promote: a manual rollback restarts the stopped previous color, then switches.
      const next = `p${run}`;
      const canaryNext = await deploy(hosts, { ...deploySettings(lab, next, { smokeRequests: [] }), ...settings });
      const promotedNext = await promote(hosts, { ...promoteSettings(lab, next), ...settings });
      if (!canaryNext.ok || !promotedNext.ok) throw new Error(`deploy/promote ${next} failed: ${canaryNext.error ?? promotedNext.error}`);
      const started = Date.now();
      const cpu = process.cpuUsage();
      const busy = machineBusyMs();
      const watch = restoreWatch();
      const back = await rollback(hosts, { ...rollbackSettings(lab, { kind: 'version', version: 'v0' }), ...settings, log: watch.log }, started);
      const runner = cpuMs(process.cpuUsage(cpu));
      promoted.runnerCpu.push(runner);
      promoted.hostCpu.push(Math.max(0, watch.busyAtRestore() - busy - runner));
      for (const host of back.hosts) if (host.liveAt !== null) promoted.perHost.push(host.liveAt - started);
      if (!back.ok) throw new Error(`rollback after promote failed: ${back.error}`);
      promoted.restored.push(back.restoredMs ?? Number.NaN);
    }
    rows.push(canary, promoted);
  } catch (error) {
    failures++;
    console.error(`${count} host(s): ${(error as Error).message}`);
  } finally {
    await lab.stop();
  }
}

console.log(`\nrollback benchmark — ${new Date().toISOString()}; ${repeats} run(s) per row; node ${process.version}`);
console.log('decision → previous version serving 100% on every host (RollbackResult.restoredMs)\n');
const ms = (value: number): string => `${Math.round(value)} ms`.padStart(8);
console.log('hosts  situation                                    all hosts: median      max   per host: median   p90      max   runner CPU  host CPU per host  floor here  goal (canary, per host)  met');
console.log('-----  ------------------------------------------  ------------------  -------  -----------------  -------  -------  ----------  -----------------  ----------  -----------------------  ---');
for (const row of rows) {
  const perHost = [...row.perHost].sort((a, b) => a - b);
  const p90 = perHost[Math.min(perHost.length - 1, Math.floor(perHost.length * 0.9))] ?? Number.NaN;
  const goal = row.situation.startsWith('canary') ? `max ≤ ${GOAL_MS} ms` : '';
  const met = goal ? (Math.max(...perHost) <= GOAL_MS ? 'yes' : 'NO') : '';
  const hostCpu = median(row.hostCpu);
  console.log(`${String(row.hosts).padEnd(5)}  ${row.situation.padEnd(42)}  ${ms(median(row.restored)).padStart(18)}  ${ms(Math.max(...row.restored)).padStart(7)}  ${ms(median(perHost)).padStart(17)}  ${ms(p90).padStart(7)}  ${ms(Math.max(...perHost)).padStart(7)}  ${ms(median(row.runnerCpu)).padStart(10)}  ${ms(hostCpu / row.hosts).padStart(17)}  ${ms(hostCpu / cores).padStart(10)}  ${goal.padEnd(23)}  ${met}`);
}
console.log('\n"all hosts": decision → the last host serving the previous version; "per host": decision → each host\'s switch confirmed live.');
console.log('"runner CPU": this process\'s CPU time during the rollback. Every lab host runs its commands (sshd, sh, curl, the nginx reload) on');
console.log('this machine\'s cores too, so with 20 lab hosts the per-host figure measures 20 hosts\' host-side work queued on those cores.');
console.log(`"host CPU per host": the whole machine's CPU time from the decision until traffic was restored, less the runner's, per host. "floor here": all hosts'`);
console.log(`host-side CPU time spread over this machine's ${cores} core(s), the least time the lab can take whatever the tool does; on a fleet`);
console.log('each host runs its part on its own cores. Where the floor is over the goal, this machine cannot show the goal met.');
console.log('\nThe procedure allows 2 minutes (120 000 ms) from the trigger to the rollback.');
process.exit(failures > 0 ? 1 : 0);
