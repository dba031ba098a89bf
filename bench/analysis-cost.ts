/**
 * What the canary monitor costs per sampling interval, measured on the test lab (real OpenSSH
 * sshd and nginx per host on 127.0.0.1): SSH commands and bytes over SSH per interval with the
 * default sources (nginx-log + host: the access-log read, the health checks of both colors and
 * memory), for 1, 5 and 20 hosts, at 500 and 50 000 requests per minute per host. It prints the
 * figures next to the goal; it is not a test.
 *
 *   npx tsx bench/analysis-cost.ts            # 1, 5 and 20 hosts (~3–6 minutes on 2 cores)
 *   npx tsx bench/analysis-cost.ts --quick    # 1 and 5 hosts
 *
 * How: the lab deploys a stable and a 10% canary on every host, one real request through nginx
 * gives a real access line in the README's format, and before each interval the bench appends to
 * every host's access log the lines that rate would write in one interval (10% of them the
 * canary's). The lines are written by the bench, not by nginx serving that many requests: a
 * 2-core machine cannot serve 20 × 50 000 requests a minute, and what the monitor pays depends
 * only on the lines in the log. Then the monitor's own sources (as buildSources makes them: one
 * batched remote per host, max-parallel 10) take a sample, and the bench counts what went over SSH.
 */
import fsp from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  CombinedSource,
  HostSource,
  NginxLogSource,
  batchRemotes,
  connect,
  deploy,
  type BatchedRemote,
  type Remote,
} from '@agent-loop/shared';
import { startLab } from '../test/lab/index';
import { sendTraffic } from '../test/lab/traffic';
import { deploySettings, labHosts, sessionSettings } from '../test/support/deploy-settings';

const INTERVAL_SECONDS = 5; // the policy's default interval
const MAX_PARALLEL = 10; // the max-parallel input's default
const RATES = [500, 50_000]; // requests per minute, per host
const INTERVALS = 3;
const GOAL = 'one SSH command per host per interval for all host-side figures, at most max-parallel hosts at once';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const HOST_COUNTS = args.quick ? [1, 5] : [1, 5, 20];

interface Row {
  hosts: number;
  rate: number;
  linesPerHost: number;
  sshPerInterval: number;
  commandsPerInterval: number;
  kbPerHost: number;
  kbTotal: number;
  sampleMs: number;
  counted: boolean;
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

async function measure(count: number): Promise<Row[]> {
  const lab = await startLab({ hosts: count });
  const remotes: Remote[] = [];
  try {
    const hosts = labHosts(lab);
    for (const version of ['v1', 'v2']) {
      const result = await deploy(
        hosts,
        deploySettings(lab, version, {
          maxParallel: MAX_PARALLEL,
          canaryPercent: 10,
          splitKey: '$request_id',
          smokeRequests: [],
        }),
      );
      if (!result.ok)
        throw new Error(`deploy ${version} on ${count} host(s) failed: ${result.error ?? 'see the host reports'}`);
    }
    await lab.enableSite();
    const first = lab.hosts[0]!;
    await sendTraffic({ url: first.proxyUrl, maxRequests: 5 });
    const lines = (await fsp.readFile(first.accessLog, 'utf8')).trim().split('\n');
    const real = lines[lines.length - 1]!;
    const entry = JSON.parse(real) as { upstream: string };
    const lineOf = (color: 'blue' | 'green'): string =>
      `${JSON.stringify({ ...entry, upstream: `${entry.upstream.replace(/_(blue|green)$/, '')}_${color}` })}\n`;

    const settings = sessionSettings(lab);
    for (const host of hosts) remotes.push(await connect(host.target, settings.connect));
    const batched = batchRemotes(remotes, MAX_PARALLEL);
    const remoteOf = (index: number): BatchedRemote => batched.get(remotes[index]!)!;
    const source = new CombinedSource([
      new NginxLogSource(
        hosts.map((host, index) => ({ remote: remoteOf(index), accessLog: host.accessLog, app: lab.app })),
      ),
      ...hosts.map(
        (host, index) =>
          new HostSource({
            remote: remoteOf(index),
            ports: { blue: host.bluePort, green: host.greenPort },
            colors: ['blue', 'green'],
          }),
      ),
    ]);
    const totals = () =>
      [...batched.values()].reduce(
        (sum, remote) => ({
          ssh: sum.ssh + remote.counts.sshCommands,
          commands: sum.commands + remote.counts.commands,
          bytes: sum.bytes + remote.counts.bytesReceived + remote.counts.bytesSent,
        }),
        { ssh: 0, commands: 0, bytes: 0 },
      );
    let at = Date.now();
    await source.sample({ start: at, end: at + 1 }); // the first read only finds where each log ends

    const rows: Row[] = [];
    for (const rate of RATES) {
      const perHost = Math.round((rate * INTERVAL_SECONDS) / 60);
      const canary = Math.round(perHost / 10);
      const chunk = lineOf('green').repeat(canary) + lineOf('blue').repeat(perHost - canary);
      const ssh: number[] = [];
      const commands: number[] = [];
      const bytes: number[] = [];
      const ms: number[] = [];
      let counted = true;
      for (let interval = 0; interval < INTERVALS; interval++) {
        await Promise.all(lab.hosts.map((host) => fsp.appendFile(host.accessLog, chunk)));
        const before = totals();
        const started = performance.now();
        const sample = await source.sample({ start: at, end: at + INTERVAL_SECONDS * 1000 });
        ms.push(performance.now() - started);
        at += INTERVAL_SECONDS * 1000;
        const after = totals();
        ssh.push(after.ssh - before.ssh);
        commands.push(after.commands - before.commands);
        bytes.push(after.bytes - before.bytes);
        const requests = (sample.colors.blue?.requests ?? 0) + (sample.colors.green?.requests ?? 0);
        if (requests !== perHost * count || sample.colors.green?.requests !== canary * count) counted = false;
      }
      rows.push({
        hosts: count,
        rate,
        linesPerHost: perHost,
        sshPerInterval: median(ssh),
        commandsPerInterval: median(commands),
        kbPerHost: median(bytes) / count / 1024,
        kbTotal: median(bytes) / 1024,
        sampleMs: median(ms),
        counted,
      });
    }
    await source.close();
    return rows;
  } finally {
    for (const remote of remotes) remote.close();
    await lab.stop();
  }
}

const rows: Row[] = [];
for (const count of HOST_COUNTS) rows.push(...(await measure(count)));

console.log(
  `\nCanary monitor: cost per ${INTERVAL_SECONDS} s interval, sources nginx-log + host, max-parallel ${MAX_PARALLEL}, a per-app access log`,
);
console.log(`command: npx tsx bench/analysis-cost.ts${args.quick ? ' --quick' : ''}`);
console.log(`goal: ${GOAL}\n`);
console.log(
  '| hosts | req/min per host | log lines per host | SSH commands | commands they carry | ' +
    'KiB over SSH per host | KiB total | sample took | every line counted | goal |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
let failed = false;
for (const row of rows) {
  const met = row.sshPerInterval <= row.hosts;
  if (!row.counted) failed = true;
  console.log(
    `| ${row.hosts} | ${row.rate.toLocaleString('en-US')} | ${row.linesPerHost} | ${row.sshPerInterval} | ` +
      `${row.commandsPerInterval} | ${row.kbPerHost.toFixed(1)} | ${row.kbTotal.toFixed(1)} | ` +
      `${(row.sampleMs / 1000).toFixed(2)} s | ${row.counted ? 'yes' : 'NO'} | ${met ? 'met' : 'missed'} (≤ ${row.hosts}) |`,
  );
}
console.log(
  `\n"commands they carry": what the sources asked for (the log read, the health checks, memory); without batching each would be its own SSH command.`,
);
console.log(
  "The bytes are the access lines (base64, 4/3 of their size) plus the scripts sent; with a shared access log, every other site's lines are shipped too.",
);
if (failed) {
  console.error("some interval did not count every line written: the figures above are not the monitor's");
  process.exit(1);
}
