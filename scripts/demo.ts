// `npm run demo`: the blue-green procedure on this machine, as GitHub would run it.
// Starts the lab (real sshd and nginx on 127.0.0.1, app processes as the blue and green
// versions), then runs the bundled action under Node 24: v1 on blue, v2 as a 10% canary while
// traffic flows, promote. Prints each step summary and the traffic split observed over time.
import { startLab, type Lab } from '../test/lab/index';
import { runAction, type RunActionResult } from '../test/lab/run-action';
import { startTraffic, type TrafficResult } from '../test/lab/traffic';

const CANARY_HOLD_MS = 4000;

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

async function step(lab: Lab, title: string, extra: Record<string, string>): Promise<RunActionResult> {
  say(`▶ ${title}`);
  const started = Date.now();
  const result = await runAction({ action: 'blue-green', inputs: inputs(lab, extra), timeoutMs: 120_000 });
  console.log(`exit ${result.code} after ${Date.now() - started} ms; outputs: ${JSON.stringify({ ...result.outputs, report: result.outputs.report ? '(JSON, one entry per host)' : undefined })}`);
  console.log(`\n--- step summary ---\n${result.summary.trim()}\n--------------------`);
  if (result.code !== 0) {
    console.log(result.stdout);
    throw new Error(`${title} failed`);
  }
  return result;
}

/** One line per second: how many requests each version answered. */
export function splitOverTime(result: TrafficResult, bucketMs = 1000): string {
  const buckets = new Map<number, Record<string, number>>();
  for (const entry of result.timeline) {
    const bucket = Math.floor(entry.t / bucketMs);
    const counts = buckets.get(bucket) ?? {};
    counts[entry.version] = (counts[entry.version] ?? 0) + 1;
    buckets.set(bucket, counts);
  }
  const versions = [...new Set(result.timeline.map((entry) => entry.version))].sort();
  const lines = [`  second  ${versions.map((version) => version.padStart(8)).join('')}   share of newest`];
  for (const [bucket, counts] of [...buckets.entries()].sort((a, b) => a[0] - b[0])) {
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    const newest = counts[versions.at(-1) as string] ?? 0;
    const share = total ? newest / total : 0;
    lines.push(`  ${String(bucket).padStart(6)}  ${versions.map((version) => String(counts[version] ?? 0).padStart(8)).join('')}   ${'█'.repeat(Math.round(share * 30)).padEnd(30, '·')} ${(share * 100).toFixed(1)}%`);
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
    const traffic = lab.hosts.map((host) => startTraffic({ url: host.proxyUrl, concurrency: 4, durationMs: 55_000, ratePerSecond: 200 }));

    await new Promise((resolve) => setTimeout(resolve, 1500));
    await step(lab, 'deploy v2 as a 10% canary on green', { image: 'registry.example/agent-loop:v2', version: 'v2', 'canary-percent': '10' });
    say(`Holding the canary for ${CANARY_HOLD_MS / 1000} s (canary-monitor judges it here; see issue 3)`);
    await new Promise((resolve) => setTimeout(resolve, CANARY_HOLD_MS));
    await step(lab, 'promote v2: all traffic to green, blue drained and stopped', { phase: 'promote', version: 'v2' });
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const results = await Promise.all(traffic.map((t) => t.stop()));
    say('Traffic split observed through nginx, host h1 (requests per second by version)');
    console.log(splitOverTime(results[0] as TrafficResult));
    const total = results.reduce((sum, r) => sum + r.sent, 0);
    const non2xx = results.reduce((sum, r) => sum + r.non2xx, 0);
    const failed = results.reduce((sum, r) => sum + r.failed, 0);
    const resets = results.reduce((sum, r) => sum + r.resets, 0);
    say(`Requests: ${total} answered, ${non2xx} non-2xx, ${failed} failed, ${resets} connection resets retried (nginx closes idle keep-alive connections on reload)`);
    if (failed > 0 || non2xx > 0) process.exitCode = 1;
  } finally {
    await lab.stop();
  }
}

await main();
