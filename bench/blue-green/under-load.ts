import { promote } from '@agent-loop/shared';
import { startTraffic, type TrafficResult } from '../../test/lab/traffic';
import { promoteSettings } from '../../test/support/deploy-settings';
import { checkPhase, deployVersion, elapsedMs, metCell, ms, printTable, progress, stats, withLab } from './common';
import { CANARY_PERCENT, RUN, TRAFFIC_CONCURRENCY, type LoadFigures, type Plan, type Report } from './plan';

// ------------------------------------------------------------------------------------ (d) under load

export function addCounts(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [key, count] of Object.entries(from)) into[key] = (into[key] ?? 0) + count;
  return into;
}

export async function benchUnderLoad(plan: Plan): Promise<LoadFigures> {
  progress('(d) starting a 2-host lab for deploy → promote under load');
  return withLab(2, async (lab, hosts) => {
    await deployVersion(lab, hosts, 'v1');
    await lab.enableSite();
    const trafficStart = performance.now();
    const traffic = lab.hosts.map((host) => ({
      host,
      run: startTraffic({ url: host.proxyUrl, concurrency: TRAFFIC_CONCURRENCY, durationMs: 60_000 }),
    }));
    let results: TrafficResult[] = [];
    let deployMs = Number.NaN;
    let promoteMs = Number.NaN;
    try {
      await new Promise((resolve) => setTimeout(resolve, plan.loadMarginMs));
      progress(`(d) deploy v2 as a ${CANARY_PERCENT}% canary under load`);
      deployMs = (await deployVersion(lab, hosts, 'v2')).durationMs;
      progress('(d) promote v2 (drainSeconds 1) under load');
      const promoted = await promote(hosts, promoteSettings(lab, 'v2', { drainSeconds: 1, run: RUN }));
      promoteMs = checkPhase(promoted, 'promote v2 on 2 hosts under load').durationMs;
      await new Promise((resolve) => setTimeout(resolve, plan.loadMarginMs));
    } finally {
      results = await Promise.all(traffic.map((entry) => entry.run.stop()));
    }
    const trafficMs = elapsedMs(trafficStart);
    const sum = (pick: (result: TrafficResult) => number): number =>
      results.reduce((total, result) => total + pick(result), 0);
    return {
      deployMs,
      promoteMs,
      trafficMs,
      requests: sum((result) => result.sent),
      ok: sum((result) => result.ok),
      non2xx: sum((result) => result.non2xx),
      resets: sum((result) => result.resets),
      retried: sum((result) => result.retried),
      failed: sum((result) => result.failed),
      byVersion: results.reduce<Record<string, number>>((counts, result) => addCounts(counts, result.byVersion), {}),
      perHost: results.map((result, index) => ({
        host: traffic[index]?.host.name ?? `h${index + 1}`,
        requests: result.sent,
        byVersion: result.byVersion,
        resets: result.resets,
        failed: result.failed,
        non2xx: result.non2xx,
      })),
      latencyMs: stats(results.flatMap((result) => result.latenciesMs)),
    };
  });
}

export function printUnderLoad(figures: LoadFigures, plan: Plan, report: Report): void {
  const failedMet = figures.failed === 0;
  const non2xxMet = figures.non2xx === 0;
  report.goals.push({
    section: '(d)',
    figure: 'failed requests during deploy → promote',
    value: String(figures.failed),
    goal: '0',
    met: failedMet,
  });
  report.goals.push({
    section: '(d)',
    figure: 'non-2xx answers during deploy → promote',
    value: String(figures.non2xx),
    goal: '0',
    met: non2xxMet,
  });
  const versions = (counts: Record<string, number>): string =>
    Object.entries(counts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([version, count]) => `${version} ${count}`)
      .join(', ');
  printTable(
    `(d) 2 hosts, ${TRAFFIC_CONCURRENCY} keep-alive connections per host: deploy v2 (${CANARY_PERCENT}% canary) then promote (drainSeconds 1)`,
    ['figure', 'value', 'goal', 'met'],
    [
      ["requests (through both hosts' nginx)", String(figures.requests), '', ''],
      ['2xx', String(figures.ok), '', ''],
      ['non-2xx', String(figures.non2xx), '0', metCell(non2xxMet)],
      ['connection resets (each retried once)', `${figures.resets} (${figures.retried} retried)`, '', ''],
      ['failed (no answer after the retry)', String(figures.failed), '0', metCell(failedMet)],
      ['answers per version', versions(figures.byVersion), '', ''],
      ...figures.perHost.map((host) => [
        `  ${host.host}`,
        `${host.requests} requests: ${versions(host.byVersion)}; ${host.resets} resets`,
        '',
        '',
      ]),
      [
        'request latency median / p90 / max',
        `${ms(figures.latencyMs.median)} / ${ms(figures.latencyMs.p90)} / ${ms(figures.latencyMs.max)}`,
        '',
        '',
      ],
      ['deploy / promote duration under load', `${ms(figures.deployMs)} / ${ms(figures.promoteMs)}`, '', ''],
      ['traffic ran for', ms(figures.trafficMs), '', ''],
    ],
    {
      leftColumns: [1, 2, 3],
      notes: [
        `Traffic starts ${plan.loadMarginMs} ms before the deploy and stops ${plan.loadMarginMs} ms after the promote. A GET whose connection`,
        'was reset is retried once (lab traffic generator); "failed" counts requests that got no answer even then.',
      ],
    },
  );
}
