import fsp from 'node:fs/promises';
import { NodeSSH } from 'node-ssh';
import {
  connect,
  formatWeights,
  helperFile,
  NginxRouter,
  parseKnownHosts,
  verifyHostKey,
  type HostSpec,
  type Weights,
} from '@agent-loop/shared';
import type { Lab } from '../../test/lab/index';
import { sessionSettings } from '../../test/support/deploy-settings';
import { SWITCH_CYCLE } from '../support/switch-cycle';
import {
  elapsedMs,
  ms,
  printTable,
  progress,
  repeat,
  stats,
  STATS_HEADER,
  statsRow,
  timeInHost,
  withLab,
} from './common';
import { GOALS, type Plan, type Report, type SwitchFigures } from './plan';

// ------------------------------------------------------------------------------------ (a) switch

/**
 * Round trips of `true` over a node-ssh connection like the one `connect()` makes, but with Nagle's
 * algorithm off on its socket: the difference to the plain round trip is what Nagle costs.
 */
export async function noDelayRoundTrips(lab: Lab, host: HostSpec, count: number): Promise<number[]> {
  const knownHosts = parseKnownHosts(lab.knownHosts);
  const ssh = new NodeSSH();
  await ssh.connect({
    host: host.target.host,
    port: host.target.port,
    username: host.target.user,
    privateKey: lab.clientKey,
    readyTimeout: 10_000,
    hostVerifier: (key: Buffer) => verifyHostKey(knownHosts, host.target.host, host.target.port, key).ok,
  });
  try {
    ssh.connection?.setNoDelay(true);
    return await repeat(count, async () => {
      const start = performance.now();
      const result = await ssh.execCommand('true');
      if (result.code !== 0) throw new Error(`\`true\` over SSH (TCP_NODELAY) exited ${result.code}`);
      return elapsedMs(start);
    });
  } finally {
    ssh.dispose();
  }
}

export async function benchSwitch(plan: Plan): Promise<SwitchFigures> {
  progress('(a) starting a 1-host lab for the switch time');
  return withLab(1, async (lab, [host]) => {
    if (!host) throw new Error('the lab has no host');
    const settings = sessionSettings(lab);
    const remote = await connect(host.target, settings.connect);
    try {
      const site = {
        app: lab.app,
        bluePort: host.bluePort,
        greenPort: host.greenPort,
        statusPort: host.nginxStatusPort,
        splitKey: settings.splitKey,
      };
      const router = new NginxRouter(remote, site, host.nginxConfDir, host.nginxCommand);
      // Warm-up, not measured: the first write creates the include file and nginx's first reload with it.
      await router.setWeights({ blue: 100, green: 0 });

      const live: number[] = [];
      const settled: number[] = [];
      const wall: number[] = [];
      for (let i = 0; i < plan.switches; i++) {
        const weights = SWITCH_CYCLE[i % SWITCH_CYCLE.length] as Weights;
        const start = performance.now();
        const result = await router.setWeights(weights);
        wall.push(elapsedMs(start));
        if (!Number.isFinite(result.liveMs))
          throw new Error(`setWeights(${formatWeights(weights)}) reported no live time`);
        live.push(result.liveMs);
        settled.push(result.settledMs);
      }

      // The deploy user's path: the helper installed as root's file, run through sudo (here by root,
      // which sudo still checks against its policy and its PAM session, as for any user).
      const helperPath = `/usr/local/sbin/agent-loop-nginx-bench-${process.pid}`;
      const helperLive: number[] = [];
      const helperWall: number[] = [];
      const [nginxProgram, ...nginxArgs] = host.nginxCommand;
      const absolute = (await remote.run(['sh', '-c', 'command -v "$1"', 'sh', nginxProgram ?? 'nginx'])).stdout.trim();
      await fsp.writeFile(helperPath, helperFile({ includeDir: host.nginxConfDir, nginx: [absolute, ...nginxArgs] }), {
        mode: 0o755,
      });
      try {
        const viaSudo = new NginxRouter(remote, site, host.nginxConfDir, ['sudo', '-n', helperPath]);
        for (let i = 0; i < plan.switches; i++) {
          const weights = SWITCH_CYCLE[i % SWITCH_CYCLE.length] as Weights;
          const start = performance.now();
          const result = await viaSudo.setWeights(weights);
          helperWall.push(elapsedMs(start));
          helperLive.push(result.liveMs);
        }
      } finally {
        await fsp.rm(helperPath, { force: true });
      }

      const roundTrips = await repeat(plan.sshRoundTrips, async () => {
        const start = performance.now();
        const result = await remote.run(['true']);
        if (result.code !== 0) throw new Error(`\`true\` over SSH exited ${result.code}`);
        return elapsedMs(start);
      });

      const roundTripsNoDelay = await noDelayRoundTrips(lab, host, plan.sshRoundTrips);

      const statusUrl = `http://127.0.0.1:${host.nginxStatusPort}/agent-loop/${lab.app}`;
      const inHost = {
        nginxTestMs: stats(
          await repeat(plan.hostStepRuns, () => timeInHost(remote, 'nginx -t', [...host.nginxCommand, '-t'])),
        ),
        nginxReloadCommandMs: stats(
          await repeat(plan.hostStepRuns, () =>
            timeInHost(remote, 'nginx -s reload', [...host.nginxCommand, '-s', 'reload']),
          ),
        ),
        statusCurlMs: stats(
          await repeat(plan.hostStepRuns, () =>
            timeInHost(remote, 'curl of the status server', [
              'curl',
              '-s',
              '-f',
              '--max-time',
              '2',
              '-H',
              `Host: agent-loop-${lab.app}`,
              statusUrl,
            ]),
          ),
        ),
      };
      return {
        liveMs: stats(live),
        settledMs: stats(settled),
        setWeightsWallMs: stats(wall),
        helperLiveMs: stats(helperLive),
        helperWallMs: stats(helperWall),
        sshRoundTripMs: stats(roundTrips),
        sshRoundTripNoDelayMs: stats(roundTripsNoDelay),
        inHost,
      };
    } finally {
      remote.close();
    }
  });
}

export function printSwitch(figures: SwitchFigures, report: Report): void {
  const met = figures.liveMs.p90 <= GOALS.switchLiveMs;
  report.goals.push({
    section: '(a)',
    figure: 'per-host switch, weights written → live (p90)',
    value: ms(figures.liveMs.p90),
    goal: `≤ ${GOALS.switchLiveMs} ms`,
    met,
  });
  report.goals.push({
    section: '(a)',
    figure: 'the same through the switch helper and sudo (p90)',
    value: ms(figures.helperLiveMs.p90),
    goal: `≤ ${GOALS.switchLiveMs} ms`,
    met: figures.helperLiveMs.p90 <= GOALS.switchLiveMs,
  });
  const { inHost } = figures;
  printTable(
    `(a) Per-host switch on one lab host: ${figures.liveMs.n} switches cycling ${SWITCH_CYCLE.map(formatWeights).join(' → ')}`,
    STATS_HEADER,
    [
      statsRow('weights written → live (SwitchResult.liveMs)', figures.liveMs, `p90 ≤ ${GOALS.switchLiveMs} ms`, met),
      statsRow('  → no worker of the previous configuration takes a request', figures.settledMs),
      statsRow('whole setWeights call (incl. SSH exec)', figures.setWeightsWallMs),
      statsRow(
        'through the installed helper and sudo: written → live',
        figures.helperLiveMs,
        `p90 ≤ ${GOALS.switchLiveMs} ms`,
        figures.helperLiveMs.p90 <= GOALS.switchLiveMs,
      ),
      statsRow('  whole setWeights call through sudo (incl. SSH exec)', figures.helperWallMs),
      statsRow(`bare SSH round trip (remote.run true, ${figures.sshRoundTripMs.n}×)`, figures.sshRoundTripMs),
      statsRow('  same, socket with TCP_NODELAY (diagnostic)', figures.sshRoundTripNoDelayMs),
      statsRow('  in host: nginx -t', inHost.nginxTestMs),
      statsRow('  in host: nginx -s reload (command only)', inHost.nginxReloadCommandMs),
      statsRow('  in host: one curl of the status server', inHost.statusCurlMs),
    ],
    {
      leftColumns: [5, 6],
      notes: [
        'liveMs counts from the new include file being moved into place until the status server serves the new generation;',
        'the switch returns once no worker of the previous configuration takes a request ' +
          "(exited, or draining with no listening socket): nginx's master lets the old workers accept for 100 ms " +
          'after it starts the new ones;',
        'the "in host" rows time single steps of that script inside the host\'s shell (no SSH), for where the time goes.',
        "The TCP_NODELAY row uses its own node-ssh connection with Nagle's algorithm off; connect() leaves it on.",
      ],
    },
  );
}
