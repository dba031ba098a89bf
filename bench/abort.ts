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
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { deploy, type AppState } from '@agent-loop/shared';
import { connect, script, type Remote } from '@agent-loop/shared/hosts';
import { abortWaitCommand } from '@agent-loop/shared/procedures';
import { startLab, type Lab, type LabHost } from '../test/lab/index';
import { startTraffic } from '../test/lab/traffic';
import { deploySettings, labHosts } from '../test/support/deploy-settings';

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
const root = path.join(import.meta.dirname, '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const fromSource = [tsx, path.join(root, 'cli', 'src', 'index.ts')];
const built = [path.join(root, 'bin', 'agent-loop')];
/** Goals (ms): the monitor notices within 1 s (p90); typed → stable on every host, quiet machine and at load 8. */
const GOALS = { noticed: 1000, quiet: 3000, loaded: 5000 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The weights nginx has loaded on a host, from its status server (null when it does not answer). */
function served(lab: Lab, host: LabHost): Promise<{ blue: number; green: number } | null> {
  return new Promise((resolve) => {
    const request = http.get(
      {
        host: '127.0.0.1',
        port: host.statusPort,
        path: `/agent-loop/${lab.app}`,
        headers: { Host: `agent-loop-${lab.app}` },
        timeout: 1000,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          try {
            resolve((JSON.parse(body) as { weights: { blue: number; green: number } }).weights);
          } catch {
            resolve(null);
          }
        });
      },
    );
    request.on('error', () => resolve(null));
    request.on('timeout', () => request.destroy());
  });
}

/** The phase of the run that holds a host's lock ('' when nobody does). */
function lockPhase(lab: Lab, host: LabHost): string {
  try {
    return (
      (JSON.parse(readFileSync(`${host.stateDir}/${lab.app}/lock/owner.json`, 'utf8')) as { phase?: string }).phase ??
      '?'
    );
  } catch {
    return existsSync(`${host.stateDir}/${lab.app}/lock`) ? '?' : '';
  }
}

/** A command line started with its output kept, each line with the time it came. */
function started(argv: string[], env: Record<string, string>) {
  const [command, ...args] = argv as [string, ...string[]];
  const child: ChildProcess = spawn(command, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
  });
  const lines: Array<{ at: number; line: string }> = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push({ at: Date.now(), line });
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number; at: number }>((resolve) =>
    child.on('close', (code) => resolve({ code: code ?? -1, at: Date.now() })),
  );
  const seen = (pattern: RegExp) => lines.find((entry) => pattern.test(entry.line));
  return { child, lines, exited, seen, text: () => lines.map((entry) => entry.line).join('\n') };
}

/** CPU (ms) of a lab host's sshd and every process under it, reaped ones included. */
function sshdTreeCpuMs(host: LabHost): number {
  const tick = 100; // USER_HZ on Linux
  const listener = Number(readFileSync(path.join(host.dir, 'sshd.pid'), 'utf8').trim());
  const children = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const entry of readdirProc()) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const parent = Number(fields[1]);
      // utime, stime, cutime, cstime: fields 14–17 of stat, 12–15 after the name.
      cpu.set(
        entry,
        [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index]), 0),
      );
      children.set(parent, [...(children.get(parent) ?? []), entry]);
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const visit = (pid: number) => {
    total += cpu.get(pid) ?? 0;
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(listener);
  return (total * 1000) / tick;
}

function readdirProc(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** Host-side CPU per second of one way of watching for an abort, over one connection, for `seconds`. */
async function watchCost(host: LabHost, remote: Remote, abortPath: string, way: string): Promise<number> {
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

const stats = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return { median: at(0.5), p90: at(0.9), max: sorted.at(-1) ?? Number.NaN };
};

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
const marks = {
  asked: [] as number[],
  noticed: [] as number[],
  noticedAfterAsked: [] as number[],
  released: [[], []] as number[][],
  taken: [[], []] as number[][],
  serving: [[], []] as number[][],
  everyHost: [] as number[],
  done: [] as number[],
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
    for (const way of ['wait', 'poll 1 s', 'poll 0.2 s']) costs[way] = await watchCost(host, remote, abortPath, way);
  } finally {
    remote.close();
  }
} finally {
  await lab.stop();
}

const ms = (value: number) => `${Math.round(value)} ms`.padStart(8);
const row = (label: string, xs: number[], goal = '') => {
  const { median, p90, max } = stats(xs);
  console.log(`${label.padEnd(56)} ${ms(median)} ${ms(p90)} ${ms(max)}  ${goal}`);
};
const load = `load average (1 min) when abort was typed: ${loads.map((l) => l.toFixed(1)).join(', ')}`;
console.log(
  `\nabort end to end — ${new Date().toISOString()}; ${repeats} run(s); 2 lab hosts, 20 req/s each through nginx; ` +
    `abort from ${abortFromSource ? 'cli/src (tsx)' : 'bin/agent-loop (cli/dist)'}, monitor from cli/src (tsx); ` +
    `node ${process.version}`,
);
console.log(`${load}; ${os.cpus().length} cores`);
console.log(`${'from abort typed (ms)'.padEnd(56)}   median      p90      max  goal`);
row('→ abort request written on a host', marks.asked);
row('→ monitor noticed', marks.noticed);
row('  abort request → monitor noticed', marks.noticedAfterAsked, `≤ ${GOALS.noticed} ms (p90)`);
ordered.forEach((host, index) => row(`→ monitor's lock released on ${host.name}`, marks.released[index]!));
ordered.forEach((host, index) => row(`→ the abort's lock taken on ${host.name}`, marks.taken[index]!));
ordered.forEach((host, index) => row(`→ stable serving 100% on ${host.name}`, marks.serving[index]!));
const loaded = Math.max(...loads) > 4;
row(
  '→ stable serving 100% on every host',
  marks.everyHost,
  `≤ ${GOALS.quiet} ms quiet, ≤ ${GOALS.loaded} ms at load 8 (here: ${loaded ? 'loaded' : 'quiet'})`,
);
row('→ abort command exited', marks.done);
const notice = stats(marks.noticedAfterAsked).p90;
const every = stats(marks.everyHost).max;
console.log(
  `goals met: notice ${notice <= GOALS.noticed ? 'yes' : 'NO'}; ` +
    `end to end ${every <= (loaded ? GOALS.loaded : GOALS.quiet) ? 'yes' : 'NO'} (max, against the ${loaded ? 'load-8' : 'quiet'} goal)`,
);
console.log(`requests: ${sent} sent, ${failed} failed or non-2xx`);
console.log(
  `\nhost-side CPU of watching for an abort, one idle connection, ${costSeconds} s each (sshd and its children):`,
);
for (const [way, cost] of Object.entries(costs))
  console.log(`  ${way.padEnd(12)} ${cost.toFixed(1)} ms of CPU per second`);
console.log(`\ncommand: npx tsx bench/abort.ts --repeats ${repeats}${abortFromSource ? ' --abort-from source' : ''}`);
