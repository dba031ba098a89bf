import { connect, deploy, type HostSpec, type Weights } from '@agent-loop/shared';
import type { Lab } from '../../test/lab/index';
import { startTraffic } from '../../test/lab/traffic';
import { deploySettings, sessionSettings } from '../../test/support/deploy-settings';
import { SWITCH_CYCLE } from '../support/switch-cycle';
import { routerFor, type RouterName } from './routers';

/** One switch on one host, cycled, with no traffic and then under keep-alive load: per router. */
export interface SwitchRow {
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

export async function benchSwitch(
  lab: Lab,
  hosts: readonly HostSpec[],
  name: RouterName,
  switchCount: number,
): Promise<SwitchRow> {
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
