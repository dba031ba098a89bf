// One lab's rollbacks, timed from the decision: a canary the monitor holds, and after a promote.
import {
  closeSessions,
  deploy,
  openSessions,
  promote,
  rollback,
  rollbackSessions,
  type HostSpec,
  type Logger,
} from '@agent-loop/shared';
import type { Lab } from '../../test/lab/index';
import { sendTraffic } from '../../test/lab/traffic';
import { deploySettings, labHosts, promoteSettings, rollbackSettings } from '../../test/support/deploy-settings';
import { cpuMs, machineBusyMs } from '../support/proc';
import { mirror, useRouter, type RouterName } from './routers';

export interface Row {
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

/**
 * A logger that notes the machine's busy time when the rollback says traffic is restored, so that
 * the host-side CPU counted is the part up to that moment (stopping the failed color comes after).
 */
export const restoreWatch = () => {
  let at: number | null = null;
  const log: Logger = {
    info: (message) => void (message.startsWith('traffic restored') && (at = machineBusyMs())),
    warn: () => {},
    group: (_title, body) => body(),
  };
  return { log, busyAtRestore: () => at ?? machineBusyMs() };
};

/** Rolls back `repeats` times on a lab with v0 deployed first; the rows of the table, and the hosts for the switch bench. */
export async function measureLab(
  lab: Lab,
  count: number,
  routerName: RouterName,
  repeats: number,
): Promise<{ hosts: HostSpec[]; rows: Row[] }> {
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
      throw new Error(`after the canary rollback h1 serves ${JSON.stringify(check.byVersion)} through ${routerName}`);
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
  return { hosts, rows: [canary, ...(promoted.restored.length > 0 ? [promoted] : [])] };
}
