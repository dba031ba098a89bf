/**
 * How exactly a load generator holds the asked rate, on the lab: autocannon with `overallRate`
 * against this repository's constant-arrival generator (runLoad, used by deploy-staging), each at
 * 500 and 6000 requests per minute for 10 s, POST /run-agent through a lab host's nginx. The rate is
 * counted where it matters, at the server: the lines nginx logged during the run. "Busiest 1 s"
 * is the most requests nginx saw in any one-second window (a constant rate gives rate / 60).
 * It prints figures; it is not a test.
 *
 *   npx tsx bench/load-rate.ts [--seconds 10] [--rates 500,6000]
 */
import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { deploy, runLoad } from '@agent-loop/shared';
import { startLab } from '../test/lab/index';
import { deploySettings, labHosts } from '../test/support/deploy-settings';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, rates: { type: 'string', default: '500,6000' } },
});
const seconds = Number(values.seconds);
const rates = (values.rates ?? '500,6000').split(',').map(Number);
const BODY = JSON.stringify({ instruction: 'Hello test', use_ollama: true });
const CONNECTIONS = 10;

interface Row {
  engine: string;
  asked: number;
  clientRate: number;
  serverCount: number;
  serverRate: number;
  busiestSecond: number;
  p95Ms: number | null;
}

/** Requests nginx logged after `offset`: their times (s) and the rate over the asked window. */
function serverSide(log: string, offset: number): { count: number; busiest: number } {
  const times = readFileSync(log, 'utf8')
    .slice(offset)
    .split('\n')
    .filter((line) => line.includes('"uri":"/run-agent"'))
    .map((line) => (JSON.parse(line) as { time: number }).time)
    .sort((a, b) => a - b);
  let busiest = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[i] as number) - (times[j] as number) >= 1) j++;
    busiest = Math.max(busiest, i - j + 1);
  }
  return { count: times.length, busiest };
}

const lab = await startLab({ hosts: 1 });
const rows: Row[] = [];
try {
  const hosts = labHosts(lab);
  const first = await deploy(hosts, { ...deploySettings(lab, 'v1'), canaryPercent: 100 });
  if (!first.ok) throw new Error(`deploy failed: ${first.error}`);
  await lab.enableSite();
  const host = lab.hosts[0]!;
  const url = `${host.proxyUrl}/run-agent`;
  const pause = () => new Promise((resolve) => setTimeout(resolve, 500));

  for (const asked of rates) {
    // autocannon: overallRate is requests per second, shared by the connections.
    let offset = statSync(host.accessLog).size;
    const cannon = await autocannon({
      url,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: BODY,
      overallRate: asked / 60,
      duration: seconds,
      connections: CONNECTIONS,
    });
    await pause();
    let server = serverSide(host.accessLog, offset);
    rows.push({
      engine: 'autocannon overallRate',
      asked,
      clientRate: (cannon.requests.total / cannon.duration) * 60,
      serverCount: server.count,
      serverRate: (server.count / seconds) * 60,
      busiestSecond: server.busiest,
      p95Ms: cannon.latency.p97_5,
    });

    offset = statSync(host.accessLog).size;
    const own = await runLoad({
      url,
      method: 'POST',
      body: BODY,
      ratePerMinute: asked,
      durationSeconds: seconds,
      connections: CONNECTIONS,
      timeoutMs: 30_000,
    });
    await pause();
    server = serverSide(host.accessLog, offset);
    rows.push({
      engine: 'constant arrival (runLoad)',
      asked,
      clientRate: own.achievedRatePerMinute,
      serverCount: server.count,
      serverRate: (server.count / seconds) * 60,
      busiestSecond: server.busiest,
      p95Ms: own.latencyMs?.p95 ?? null,
    });
  }
} finally {
  await lab.stop();
}

const fixed = (value: number) => value.toFixed(0);
console.log(
  `\nPOST /run-agent through nginx for ${seconds} s, ${CONNECTIONS} connections (autocannon's P95 column is its p97.5)\n`,
);
console.log(
  '| generator | asked /min | reported /min | nginx saw | nginx /min | error vs asked | busiest 1 s (ideal) | P95 ms |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const row of rows) {
  const error = ((row.serverRate - row.asked) / row.asked) * 100;
  console.log(
    `| ${row.engine} | ${row.asked} | ${fixed(row.clientRate)} | ${row.serverCount} | ${fixed(row.serverRate)} | ` +
      `${error >= 0 ? '+' : ''}${error.toFixed(1)}% | ${row.busiestSecond} (${(row.asked / 60).toFixed(1)}) | ${row.p95Ms ?? '—'} |`,
  );
}
