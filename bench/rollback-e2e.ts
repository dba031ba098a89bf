/**
 * Rollback as a person lives it, on one lab host with traffic flowing through nginx:
 *  - rollback action: from the moment the bundle is started (as the runner starts it) until the
 *    stable version serves 100% (goal ≤ 2 s);
 *  - abort: a rollback started while canary-monitor holds the lock, from that moment until the
 *    stable version serves 100% (goal ≤ 5 s).
 * "Serves" is read from nginx's own status server (the weights it has loaded), polled every 20 ms,
 * and checked against the traffic: no request may fail. Prints each figure next to its goal; it is
 * not a test.
 *
 *   npx tsx bench/rollback-e2e.ts [--repeats 3]
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startLab, type Lab } from '../test/lab/index';
import { runAction, startAction } from '../test/lab/run-action';
import { startTraffic } from '../test/lab/traffic';
import { labActionInputs } from '../test/support/deploy-settings';

const { values } = parseArgs({ options: { repeats: { type: 'string', default: '3' } } });
const repeats = Number(values.repeats);
const GOALS = { rollback: 2000, abort: 5000 };

function weights(lab: Lab): { blue: number; green: number } | null {
  const host = lab.hosts[0]!;
  try {
    const body = execFileSync(
      'curl',
      [
        '-s',
        '-f',
        '--max-time',
        '1',
        '-H',
        `Host: agent-loop-${lab.app}`,
        `http://127.0.0.1:${host.statusPort}/agent-loop/${lab.app}`,
      ],
      { encoding: 'utf8' },
    );
    return (JSON.parse(body) as { weights: { blue: number; green: number } }).weights;
  } catch {
    return null;
  }
}

async function until(lab: Lab, color: 'blue' | 'green', since: number, timeoutMs = 60_000): Promise<number> {
  while (Date.now() - since < timeoutMs) {
    if (weights(lab)?.[color] === 100) return Date.now() - since;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${color} never served 100% within ${timeoutMs} ms`);
}

const inputs = (lab: Lab, extra: Record<string, string>): Record<string, string> => ({
  ...labActionInputs(lab),
  'split-key': '$request_id',
  'min-free-disk-mb': '1',
  'min-free-memory-mb': '1',
  'drain-seconds': '0',
  ...extra,
});

const lab = await startLab({ hosts: 1 });
const figures = { rollback: [] as number[], abort: [] as number[] };
let failedRequests = 0;
let sent = 0;
try {
  const first = await runAction({
    action: 'blue-green',
    inputs: inputs(lab, { phase: 'deploy', image: 'registry.example/agent-loop:v0', version: 'v0' }),
  });
  if (first.code !== 0) throw new Error(`first deploy failed:\n${first.stdout.slice(-2000)}`);
  await lab.enableSite();
  for (let run = 1; run <= repeats; run++) {
    const traffic = startTraffic({
      url: lab.hosts[0]!.proxyUrl,
      concurrency: 4,
      ratePerSecond: 50,
      durationMs: 55_000,
    });
    // 1. A canary, then the rollback action.
    const canary = await runAction({
      action: 'blue-green',
      inputs: inputs(lab, { phase: 'deploy', image: `registry.example/agent-loop:r${run}`, version: `r${run}` }),
    });
    if (canary.code !== 0) throw new Error(`deploy r${run} failed:\n${canary.stdout.slice(-2000)}`);
    const stable = weights(lab)!.blue > 50 ? 'blue' : 'green';
    let started = Date.now();
    const rolledBack = runAction({
      action: 'rollback',
      inputs: inputs(lab, { method: 'nginx', 'create-incident': 'false' }),
    });
    figures.rollback.push(await until(lab, stable, started));
    if ((await rolledBack).code !== 0) throw new Error('rollback failed');

    // 2. A canary watched by canary-monitor; a rollback asks it to stop.
    const watched = await runAction({
      action: 'blue-green',
      inputs: inputs(lab, { phase: 'deploy', image: `registry.example/agent-loop:a${run}`, version: `a${run}` }),
    });
    if (watched.code !== 0) throw new Error(`deploy a${run} failed`);
    const monitor = await startAction({
      action: 'canary-monitor',
      inputs: { ...labActionInputs(lab), duration: '600', interval: '2', memory: 'none', sources: 'host' },
      env: { GITHUB_RUN_ID: `9${run}` },
      timeoutMs: 120_000,
    });
    const deadline = Date.now() + 30_000;
    while (!/requests|t=\d+s/.test(monitor.output()) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    started = Date.now();
    const abort = runAction({
      action: 'rollback',
      inputs: inputs(lab, { method: 'nginx', 'create-incident': 'false', reason: 'bench abort' }),
    });
    figures.abort.push(await until(lab, stable, started));
    if ((await abort).code !== 0) throw new Error('abort rollback failed');
    await monitor.result;
    const seen = await traffic.stop();
    failedRequests += seen.failed + seen.non2xx;
    sent += seen.sent;
  }
} finally {
  await lab.stop();
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? Number.NaN;
console.log(
  `\nrollback end to end — ${new Date().toISOString()}; ${repeats} run(s); 1 lab host, 50 req/s through nginx; node ${process.version}`,
);
console.log('what                                             median      max    goal      met');
for (const [name, label] of [
  ['rollback', 'rollback action started → stable serving 100%'],
  ['abort', 'abort during analysis → stable serving 100%'],
] as const) {
  const xs = figures[name];
  const max = Math.max(...xs);
  const met = max <= GOALS[name] ? 'yes' : 'NO';
  console.log(
    `${label.padEnd(48)} ${`${median(xs)} ms`.padStart(8)} ${`${max} ms`.padStart(8)}  ≤ ${GOALS[name]} ms  ${met}`,
  );
}
console.log(`requests: ${sent} sent, ${failedRequests} failed or non-2xx`);
console.log('\ncommand: npx tsx bench/rollback-e2e.ts --repeats 3');
