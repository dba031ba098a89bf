/**
 * `agent-loop abort` as an operator types it, against a canary that a canary-monitor watches on 2
 * lab hosts with traffic flowing through nginx. Each run deploys a new canary, starts the monitor
 * (the command line's `monitor`, from source through tsx, so that it is the monitor of this tree),
 * waits for its first sample, then starts `bin/agent-loop abort` (the built command line; with
 * `--abort-from source`, cli/src through tsx) and marks, from that moment:
 *  - asked: the abort request appears on the host the abort waits on (read from the lab's disk);
 *  - noticed: the monitor says it stopped ("analysis stopped: aborted by …");
 *  - released: the monitor's lock is gone from each host (read from the lab's disk);
 *  - taken: the abort's own lock is on each host;
 *  - serving: nginx serves the stable version at 100% on each host (its status server, every 20 ms);
 *  - done: the abort command exits.
 * Then the host-side cost of watching for an abort: the CPU the lab host's sshd and everything it
 * starts use in 10 s over one idle connection, for the monitor's wait and for polls every 1 s and
 * every 0.2 s. Prints each figure next to its goal, with the load average; it is not a test.
 *
 *   npx tsx bench/abort.ts [--repeats 5] [--abort-from dist|source] [--cost-seconds 10] [--timeline]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { deploy, type AppState } from '@agent-loop/shared';
import { connect } from '@agent-loop/shared/hosts';
import { startLab } from '../test/lab/index';
import { startTraffic } from '../test/lab/traffic';
import { deploySettings, labHosts } from '../test/support/deploy-settings';
import { watchCost } from './abort/cost';
import { lockPhase, root, served, sleep, started } from './abort/observe';
import { printReport, type Marks } from './abort/print';

const { values } = parseArgs({
  options: {
    repeats: { type: 'string', default: '5' },
    'abort-from': { type: 'string', default: 'dist' },
    'cost-seconds': { type: 'string', default: '10' },
    timeline: { type: 'boolean', default: false },
  },
});
const repeats = Number(values.repeats);
const abortFromSource = values['abort-from'] === 'source';
const costSeconds = Number(values['cost-seconds']);
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const fromSource = [tsx, path.join(root, 'cli', 'src', 'index.ts')];
const built = [path.join(root, 'bin', 'agent-loop')];

const lab = await startLab({ hosts: 2 });
const hosts = labHosts(lab);
const knownHostsFile = path.join(lab.dir, 'operator_known_hosts');
writeFileSync(knownHostsFile, lab.knownHosts);
const env = {
  AGENT_LOOP_HOSTS: lab.hostsInput,
  AGENT_LOOP_APP: lab.app,
  AGENT_LOOP_SSH_PRIVATE_KEY_FILE: lab.clientKeyPath,
  AGENT_LOOP_SSH_KNOWN_HOSTS_FILE: knownHostsFile,
  AGENT_LOOP_RUNTIME: 'command',
  AGENT_LOOP_START_COMMAND: lab.startCommand,
  AGENT_LOOP_STOP_COMMAND: lab.stopCommand,
  AGENT_LOOP_SPLIT_KEY: '$request_id',
};
// Both hosts, sorted as a run locks them: the abort waits on the first.
const ordered = [...hosts]
  .sort((a, b) => (a.target.label < b.target.label ? -1 : a.target.label > b.target.label ? 1 : 0))
  .map((spec) => lab.hosts.find((host) => host.sshPort === spec.target.port)!);
const marks: Marks = {
  asked: [],
  noticed: [],
  noticedAfterAsked: [],
  released: [[], []],
  taken: [[], []],
  serving: [[], []],
  everyHost: [],
  done: [],
};
const loads: number[] = [];
const costs: Record<string, number> = {};
let sent = 0;
let failed = 0;
try {
  const first = await deploy(hosts, deploySettings(lab, 'v0', { smokeRequests: [] }));
  if (!first.ok) throw new Error(`first deploy failed: ${first.error}`);
  await lab.enableSite();
  for (let run = 1; run <= repeats; run++) {
    const canary = await deploy(
      hosts,
      deploySettings(lab, `a${run}`, { splitKey: '$request_id', smokeRequests: [], canaryPercent: 10 }),
    );
    if (!canary.ok) throw new Error(`deploy a${run} failed: ${canary.error}`);
    const state = JSON.parse(readFileSync(`${ordered[0]!.stateDir}/${lab.app}/state.json`, 'utf8')) as AppState;
    const stable = state.canary?.color === 'blue' ? 'green' : 'blue';
    const traffic = lab.hosts.map((host) =>
      startTraffic({ url: host.proxyUrl, concurrency: 2, durationMs: 120_000, ratePerSecond: 20 }),
    );
    const watching = started(
      [...fromSource, 'monitor', '--duration', '300', '--interval', '1', '--memory', 'none'],
      env,
    );
    const deadline = Date.now() + 60_000;
    while (!watching.seen(/^t=\d+s/) && Date.now() < deadline) await sleep(50);
    if (!watching.seen(/^t=\d+s/)) throw new Error(`the monitor never sampled:\n${watching.text()}`);
    loads.push(os.loadavg()[0]!);
    const typed = Date.now();
    const aborting = started([...(abortFromSource ? fromSource : built), 'abort', '--reason', 'bench abort'], env);
    const at: { asked?: number; released: Array<number | undefined>; serving: Array<number | undefined> } & {
      taken: Array<number | undefined>;
    } = { released: [], taken: [], serving: [] };
    let finished = false;
    void aborting.exited.then(() => (finished = true));
    while (Date.now() - typed < 60_000) {
      const now = Date.now();
      if (at.asked === undefined && ordered.some((host) => existsSync(`${host.stateDir}/${lab.app}/abort`)))
        at.asked = now;
      const weights = await Promise.all(ordered.map((host) => served(lab, host)));
      ordered.forEach((host, index) => {
        const phase = lockPhase(lab, host);
        if (at.released[index] === undefined && !phase.startsWith('monitor')) at.released[index] = now;
        if (at.taken[index] === undefined && phase === 'rollback') at.taken[index] = now;
        if (at.serving[index] === undefined && weights[index]?.[stable] === 100) at.serving[index] = Date.now();
      });
      if (finished && at.serving.filter(Boolean).length === ordered.length) break;
      await sleep(Math.max(0, now + 10 - Date.now()));
    }
    const done = await aborting.exited;
    const monitored = await watching.exited;
    const noticed = watching.seen(/analysis stopped: aborted by/)?.at;
    if (done.code !== 0 || noticed === undefined || at.serving.filter(Boolean).length !== ordered.length)
      throw new Error(`run ${run}: abort exit ${done.code}:\n${aborting.text()}\nmonitor:\n${watching.text()}`);
    if (!/^verdict: aborted/m.test(watching.text()) || monitored.code === 0)
      throw new Error(`run ${run}: the monitor did not end aborted:\n${watching.text()}`);
    if (at.asked !== undefined) {
      marks.asked.push(at.asked - typed);
      marks.noticedAfterAsked.push(noticed - at.asked);
    }
    marks.noticed.push(noticed - typed);
    ordered.forEach((_, index) => {
      marks.released[index]!.push((at.released[index] ?? Number.NaN) - typed);
      marks.taken[index]!.push((at.taken[index] ?? Number.NaN) - typed);
      marks.serving[index]!.push((at.serving[index] ?? Number.NaN) - typed);
    });
    marks.everyHost.push(Math.max(...(at.serving as number[])) - typed);
    marks.done.push(done.at - typed);
    const seen = await Promise.all(traffic.map((t) => t.stop()));
    for (const result of seen) {
      sent += result.sent;
      failed += result.failed + result.non2xx;
    }
    console.log(`run ${run}: every host on ${stable} ${marks.everyHost.at(-1)} ms after abort was typed`);
    if (values.timeline) {
      const said = [
        ...aborting.lines.map((entry) => ({ ...entry, who: 'abort' })),
        ...watching.lines.filter((entry) => entry.at >= typed).map((entry) => ({ ...entry, who: 'monitor' })),
      ];
      for (const entry of said.sort((a, b) => a.at - b.at))
        console.log(`  ${String(entry.at - typed).padStart(6)} ms ${entry.who.padEnd(7)} ${entry.line.slice(0, 140)}`);
    }
  }
  // The host-side cost of watching: one idle connection to the first host, nothing else on it.
  const host = ordered[0]!;
  const remote = await connect(hosts.find((spec) => spec.target.port === host.sshPort)!.target, {
    privateKey: lab.clientKey,
    knownHosts: lab.knownHosts,
    insecureSkipHostKeyCheck: false,
    connectTimeoutMs: 10_000,
  });
  try {
    const abortPath = `${host.stateDir}/${lab.app}/abort`;
    for (const way of ['wait', 'poll 1 s', 'poll 0.2 s'])
      costs[way] = await watchCost(host, remote, abortPath, way, costSeconds);
  } finally {
    remote.close();
  }
} finally {
  await lab.stop();
}

printReport({ marks, ordered, loads, costs, sent, failed, repeats, abortFromSource, costSeconds });
