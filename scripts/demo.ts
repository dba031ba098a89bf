// `npm run demo`: the blue-green procedure on this machine, as GitHub would run it.
// Starts the lab (real sshd and nginx on 127.0.0.1, app processes as the blue and green
// versions), then runs the bundled action under Node 24: v1 on blue, v2 as a 10% canary while
// traffic flows, promote; then v3, whose canary answers 20% errors: canary-monitor catches it and
// rolls back on its own. Prints each step summary, the timings and the traffic split over time.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { startLab, type Lab } from '../test/lab/index';
import { runAction, type RunActionResult } from '../test/lab/run-action';
import { startTraffic, type TrafficResult } from '../test/lab/traffic';

const CANARY_WATCH_SECONDS = 10;

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m${text}\x1b[0m\n`);
}

function inputs(lab: Lab, extra: Record<string, string>): Record<string, string> {
  return {
    hosts: lab.hostsInput,
    'ssh-private-key': lab.clientKey,
    'ssh-known-hosts': lab.knownHosts,
    app: lab.app,
    runtime: 'command',
    'start-command': lab.startCommand,
    'stop-command': lab.stopCommand,
    // Every demo request comes from 127.0.0.1: split per request, not per client address.
    'split-key': '$request_id',
    'min-free-disk-mb': '1',
    'min-free-memory-mb': '1',
    'drain-seconds': '2',
    environment: 'demo',
    ...extra,
  };
}

async function step(lab: Lab, title: string, extra: Record<string, string>, action = 'blue-green', expectCode = 0): Promise<RunActionResult> {
  say(`▶ ${title}`);
  const started = Date.now();
  // Like the runner, pass only the inputs the action declares.
  const declared = Object.keys((parse(readFileSync(new URL(`../actions/${action}/action.yml`, import.meta.url), 'utf8')) as { inputs: Record<string, unknown> }).inputs);
  const given = Object.fromEntries(Object.entries(inputs(lab, extra)).filter(([name]) => declared.includes(name)));
  const result = await runAction({ action, inputs: given, timeoutMs: 120_000 });
  const shown = Object.fromEntries(Object.entries(result.outputs).map(([name, value]) => [name, value.length > 80 ? `(${value.length} characters of JSON)` : value]));
  console.log(`exit ${result.code} after ${Date.now() - started} ms; outputs: ${JSON.stringify(shown)}`);
  console.log(`\n--- step summary ---\n${result.summary.trim()}\n--------------------`);
  if (result.code !== expectCode) {
    console.log(result.stdout);
    throw new Error(`${title}: exit ${result.code}, expected ${expectCode}`);
  }
  return result;
}

/** One line per second: how many requests each version answered, and its share. */
export function splitOverTime(result: TrafficResult, bucketMs = 1000): string {
  const buckets = new Map<number, Record<string, number>>();
  for (const entry of result.timeline) {
    const bucket = Math.floor(entry.t / bucketMs);
    const counts = buckets.get(bucket) ?? {};
    counts[entry.version] = (counts[entry.version] ?? 0) + 1;
    buckets.set(bucket, counts);
  }
  const versions = [...new Set(result.timeline.map((entry) => entry.version))].sort();
  const lines = [`  second  ${versions.map((version) => `${version.padStart(6)}      `).join('')}`];
  for (const [bucket, counts] of [...buckets.entries()].sort((a, b) => a[0] - b[0])) {
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    const cells = versions.map((version) => {
      const n = counts[version] ?? 0;
      return `${String(n).padStart(6)} ${total ? `${Math.round((n / total) * 100)}%`.padStart(4) : '    '} `;
    });
    lines.push(`  ${String(bucket).padStart(6)}  ${cells.join('')}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  say('Starting the lab: 2 hosts, each with its own sshd, nginx and room for the blue and green app');
  const lab = await startLab({ hosts: 2 });
  try {
    for (const host of lab.hosts) console.log(`  ${host.name}: ssh ${host.target}, nginx on ${host.proxyUrl}, blue :${host.bluePort}, green :${host.greenPort}`);

    await step(lab, 'deploy v1 (first deploy: blue takes all traffic)', { image: 'registry.example/agent-loop:v1', version: 'v1' });
    await lab.enableSite();
    say('Traffic starts flowing through both hosts\' nginx');
    const traffic = lab.hosts.map((host) => startTraffic({ url: host.proxyUrl, concurrency: 4, durationMs: 58_000, ratePerSecond: 100 }));

    await new Promise((resolve) => setTimeout(resolve, 1500));
    await step(lab, 'deploy v2 as a 10% canary on green', { image: 'registry.example/agent-loop:v2', version: 'v2', 'canary-percent': '10' });
    await step(lab, `canary-monitor watches v2 for ${CANARY_WATCH_SECONDS} s (healthy: it passes)`, { duration: String(CANARY_WATCH_SECONDS), interval: '1', memory: 'none' }, 'canary-monitor');
    await step(lab, 'promote v2: all traffic to green, blue drained and stopped', { phase: 'promote', version: 'v2' });
    await new Promise((resolve) => setTimeout(resolve, 1000));

    await lab.setKnobs('v3', { errorRate: 0.2 });
    await step(lab, 'deploy v3 as a 10% canary on blue (v3 answers 20% of requests with a 500, but its smoke test passes)', { image: 'registry.example/agent-loop:v3', version: 'v3', 'canary-percent': '10', 'smoke-requests': '[]' });
    const watched = await step(lab, 'canary-monitor watches v3: the sequential test fails it early, and it rolls back on its own', { duration: '120', interval: '1', memory: 'none' }, 'canary-monitor', 1);
    say(`Decision after ${watched.outputs['detect-seconds']} s; traffic back on v2 ${watched.outputs['rollback-ms']} ms after the decision (the procedure allows 2 minutes).`);
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const results = await Promise.all(traffic.map((t) => t.stop()));
    say('Traffic split observed through nginx, host h1 (requests per second by version)');
    console.log(splitOverTime(results[0] as TrafficResult));
    const total = results.reduce((sum, r) => sum + r.sent, 0);
    const failed = results.reduce((sum, r) => sum + r.failed, 0);
    const resets = results.reduce((sum, r) => sum + r.resets, 0);
    const errorsBy: Record<string, number> = {};
    for (const r of results) for (const entry of r.timeline) if (entry.status < 200 || entry.status >= 300) errorsBy[entry.version] = (errorsBy[entry.version] ?? 0) + 1;
    say(`Requests: ${total} answered, ${failed} failed, ${resets} connection resets retried (nginx closes idle keep-alive connections on reload)`);
    say(`Non-2xx answers by version: ${JSON.stringify(errorsBy)} (only the bad v3 canary should have any: its 20% errors during the seconds before the rollback)`);
    const unexpected = Object.entries(errorsBy).filter(([version]) => version !== 'v3');
    if (failed > 0 || unexpected.length > 0) process.exitCode = 1;
  } finally {
    await lab.stop();
  }
}

await main();
