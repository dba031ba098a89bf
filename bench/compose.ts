/**
 * The compose runtime on a real Docker Engine next to the command runtime, on one lab host under
 * steady load through nginx (100 requests/s, 4 connections):
 *  - deploy → promote: the whole phase pair, and requests that failed or were not 2xx;
 *  - switch: weights written → live in nginx (the deploy's switchMs);
 *  - start of the new color: compose pulls, creates and waits on the image's HEALTHCHECK (up --wait);
 *  - rollback after promote: the stopped previous color restarted, then switched (decision → serving);
 *  - rollback to a color kept running (keep-previous, keep-failed): checked, then switched.
 * It prints each figure next to its goal; it is not a test, and exits non-zero only when a phase fails.
 *
 *   npx tsx bench/compose.ts [--repeats 3]
 */
import { parseArgs } from 'node:util';
import {
  commandRuntime,
  composeRuntime,
  deploy,
  promote,
  rollback,
  type HostSpec,
  type Runtime,
} from '@agent-loop/shared';
import { startContainerLab } from '../test/lab/containers';
import { startLab, type Lab } from '../test/lab/index';
import { startTraffic } from '../test/lab/traffic';
import { deploySettings, labHosts, promoteSettings, rollbackSettings } from '../test/support/deploy-settings';

const { values } = parseArgs({ options: { repeats: { type: 'string', default: '3' } } });
const repeats = Number(values.repeats);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? Number.NaN;

interface Figures {
  runtime: string;
  deployPromoteMs: number[];
  switchMs: number[];
  startMs: number[];
  rollbackMs: number[];
  /** Rollback to a color that still runs (kept with keep-previous or keep-failed): decision → serving. */
  standbyMs: number[];
  requests: number;
  bad: number;
}

async function measure(
  label: string,
  lab: Lab,
  runtime: Runtime,
  imageOf: (version: string) => string,
): Promise<Figures> {
  const hosts: HostSpec[] = labHosts(lab);
  const figures: Figures = {
    runtime: label,
    deployPromoteMs: [],
    switchMs: [],
    startMs: [],
    rollbackMs: [],
    standbyMs: [],
    requests: 0,
    bad: 0,
  };
  const common = { runtime, healthTimeoutSeconds: 30 };
  const first = await deploy(hosts, deploySettings(lab, 'v0', { ...common, image: imageOf('v0') }));
  if (!first.ok) throw new Error(`${label}: first deploy failed: ${first.error}`);
  await lab.enableSite();
  for (let run = 1; run <= repeats; run++) {
    const version = `v${run}`;
    const traffic = startTraffic({
      url: lab.hosts[0]!.proxyUrl,
      durationMs: 59_000,
      concurrency: 4,
      ratePerSecond: 100,
    });
    const started = Date.now();
    const deployed = await deploy(hosts, deploySettings(lab, version, { ...common, image: imageOf(version) }));
    const promoted = await promote(hosts, promoteSettings(lab, version, common));
    figures.deployPromoteMs.push(Date.now() - started);
    const decision = Date.now();
    const back = await rollback(hosts, rollbackSettings(lab, { kind: 'previous' }, common), decision);
    const served = await traffic.stop();
    if (!deployed.ok || !promoted.ok || !back.ok)
      throw new Error(`${label} run ${run}: ${deployed.error ?? promoted.error ?? back.error}`);
    figures.requests += served.sent;
    figures.bad += served.failed + served.non2xx;
    if (deployed.switchMs !== null) figures.switchMs.push(deployed.switchMs);
    const start = deployed.hosts[0]?.steps.find((step) => step.step.startsWith('start '));
    if (start) figures.startMs.push(start.ms);
    figures.rollbackMs.push(back.restoredMs ?? Number.NaN);
    // Back to the version this run deployed, so the next run deploys on the other color again.
    const forward = await rollback(hosts, rollbackSettings(lab, { kind: 'version', version }, common));
    if (!forward.ok) throw new Error(`${label} run ${run}: ${forward.error}`);
  }
  // The standby: rolling back between two colors that both keep running (keep-failed leaves the
  // color rolled back from running, as keep-previous does after a promote), under the same load.
  const traffic = startTraffic({ url: lab.hosts[0]!.proxyUrl, durationMs: 59_000, concurrency: 4, ratePerSecond: 100 });
  const kept = { ...common, keepFailed: true };
  const targets = [`v${repeats - 1}`, `v${repeats}`];
  const warm = await rollback(hosts, rollbackSettings(lab, { kind: 'version', version: targets[0]! }, kept));
  if (!warm.ok) throw new Error(`${label} standby: ${warm.error}`);
  for (let run = 1; run <= repeats; run++) {
    const decision = Date.now();
    const back = await rollback(
      hosts,
      rollbackSettings(lab, { kind: 'version', version: targets[run % 2]! }, kept),
      decision,
    );
    if (!back.ok) throw new Error(`${label} standby run ${run}: ${back.error}`);
    figures.standbyMs.push(back.restoredMs ?? Number.NaN);
  }
  const served = await traffic.stop();
  figures.requests += served.sent;
  figures.bad += served.failed + served.non2xx;
  return figures;
}

const results: Figures[] = [];
let failed = false;
const ct = await startContainerLab({ hosts: 1 });
try {
  const images: Record<string, string> = {};
  for (let run = 0; run <= repeats; run++) images[`v${run}`] = await ct.buildImage(`v${run}`);
  results.push(
    await measure(
      'compose (real engine, registry, up --wait)',
      ct.lab,
      composeRuntime(ct.composeFile, { waitTimeoutSeconds: 30 }),
      (version) => images[version]!,
    ),
  );
} catch (error) {
  failed = true;
  console.error((error as Error).message);
} finally {
  await ct.stop();
}
const lab = await startLab({ hosts: 1 });
try {
  results.push(
    await measure(
      'command (app process)',
      lab,
      commandRuntime(lab.startCommand, lab.stopCommand),
      (version) => `registry.example/agent-loop:${version}`,
    ),
  );
} catch (error) {
  failed = true;
  console.error((error as Error).message);
} finally {
  await lab.stop();
}

const ms = (xs: number[]) =>
  xs.length ? `median ${Math.round(median(xs))} ms (${xs.map(Math.round).join(', ')})` : 'n/a';
console.log(
  `\ncompose vs command on one lab host, ${repeats} run(s) each, 100 req/s through nginx   (npx tsx bench/compose.ts --repeats ${repeats})\n`,
);
console.log(
  '| runtime | deploy → promote | switch (goal ≤ 100 ms) | start of the new color | ' +
    'rollback after promote (stopped color restarted), decision → serving | ' +
    'rollback to a color kept running, decision → serving (goal: as fast as command) | ' +
    'requests, failed or non-2xx (goal 0) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const row of results)
  console.log(
    `| ${row.runtime} | ${ms(row.deployPromoteMs)} | ${ms(row.switchMs)} | ${ms(row.startMs)} | ` +
      `${ms(row.rollbackMs)} | ${ms(row.standbyMs)} | ${row.requests}, ${row.bad} |`,
  );
process.exit(failed ? 1 : 0);
