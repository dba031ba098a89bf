import { promote, type PhaseResult } from '@agent-loop/shared';
import { promoteSettings } from '../../test/support/deploy-settings';
import { checkPhase, deployVersion, metCell, ms, printTable, progress, stats, withLab } from './common';
import {
  CANARY_PERCENT,
  GOALS,
  PROMOTE_DEFAULTS,
  RUN,
  type Plan,
  type PromoteFigures,
  type PromoteRun,
  type Report,
} from './plan';

// ------------------------------------------------------------------------------------ (b) promote

/** Step names carry colors and versions; group them by what they do. */
export function stepKind(step: string): string {
  if (/^check (blue|green) is healthy$/.test(step)) return 'check canary healthy';
  if (/^stop (blue|green) \(/.test(step)) return 'stop previous color';
  return step;
}

export function slowestSteps(result: PhaseResult): Record<string, number> {
  const slowest: Record<string, number> = {};
  for (const host of result.hosts) {
    for (const record of host.steps) {
      const kind = stepKind(record.step);
      slowest[kind] = Math.max(slowest[kind] ?? 0, record.ms);
    }
  }
  return slowest;
}

export async function benchPromote(hostCount: number, plan: Plan): Promise<PromoteFigures> {
  progress(`(b) starting a ${hostCount}-host lab for promote`);
  return withLab(hostCount, async (lab, hosts, labStartMs) => {
    progress(`(b) ${hostCount} host(s): deploy v1 to all hosts`);
    const firstDeploy = await deployVersion(lab, hosts, 'v1');
    await lab.enableSite();
    const runs: PromoteRun[] = [];
    for (let repetition = 0; repetition < plan.promoteRepeats; repetition++) {
      const version = `v${repetition + 2}`;
      progress(`(b) ${hostCount} host(s): deploy ${version} as a ${CANARY_PERCENT}% canary, then promote it`);
      const deployed = await deployVersion(lab, hosts, version);
      const promoted = checkPhase(
        // With the actions' defaults, as a user runs it: max-parallel 10, drain-seconds 10.
        await promote(
          hosts,
          promoteSettings(lab, version, {
            maxParallel: PROMOTE_DEFAULTS.maxParallel,
            drainSeconds: PROMOTE_DEFAULTS.drainSeconds,
            run: RUN,
          }),
        ),
        `promote ${version} on ${hostCount} host(s)`,
      );
      if (promoted.switchMs === null)
        throw new Error(`promote ${version} on ${hostCount} host(s) reported no switch time`);
      runs.push({
        version,
        durationMs: promoted.durationMs,
        switchMs: promoted.switchMs,
        stepsMs: slowestSteps(promoted),
        deployMs: deployed.durationMs,
      });
    }
    return {
      hosts: hostCount,
      labStartMs,
      firstDeployMs: firstDeploy.durationMs,
      runs,
      durationMs: stats(runs.map((run) => run.durationMs)),
      switchMs: stats(runs.map((run) => run.switchMs)),
    };
  });
}

export function printPromote(all: PromoteFigures[], plan: Plan, report: Report): void {
  const one = all.find((figures) => figures.hosts === 1);
  const twenty = all.find((figures) => figures.hosts === 20);
  const scaleMet = one && twenty ? twenty.durationMs.median <= GOALS.promoteScale * one.durationMs.median : null;
  report.goals.push({
    section: '(b)',
    figure: 'promote on 20 hosts vs 1 host (median durationMs)',
    value: one && twenty ? `${(twenty.durationMs.median / one.durationMs.median).toFixed(2)}×` : 'not measured',
    goal: `≤ ${GOALS.promoteScale}×`,
    met: scaleMet,
  });

  const rows = all.map((figures) => {
    const ratio = one ? `${(figures.durationMs.median / one.durationMs.median).toFixed(2)}×` : '—';
    const isTwenty = figures.hosts === 20;
    return [
      String(figures.hosts),
      String(figures.runs.length),
      ms(figures.durationMs.median),
      ms(figures.durationMs.min),
      ms(figures.durationMs.max),
      ms(figures.switchMs.median),
      ratio,
      isTwenty ? `≤ ${GOALS.promoteScale}× (1 host)` : '',
      isTwenty ? metCell(scaleMet) : '',
    ];
  });
  printTable(
    `(b) promote() with the blue-green action's defaults (drain-seconds ${PROMOTE_DEFAULTS.drainSeconds}, ` +
      `max-parallel ${PROMOTE_DEFAULTS.maxParallel}); median of ${plan.promoteRepeats} deploy → promote cycle(s) per lab`,
    ['hosts', 'runs', 'duration median', 'min', 'max', 'slowest switch median', 'vs 1 host', 'goal', 'met'],
    rows,
    { leftColumns: [7, 8], notes: twenty ? [] : ['20 hosts not measured (--quick): the scaling goal is not judged.'] },
  );

  // Where the time goes: for each kind of step, the slowest host, median over the runs.
  const kinds = [...new Set(all.flatMap((figures) => figures.runs.flatMap((run) => Object.keys(run.stepsMs))))];
  const stepRows = kinds.map((kind) => [
    kind,
    ...all.map((figures) => ms(stats(figures.runs.map((run) => run.stepsMs[kind] ?? 0)).median)),
  ]);
  stepRows.push([
    'rest: connect, lock, state, audit log, unlock',
    ...all.map((figures) =>
      ms(
        stats(
          figures.runs.map((run) => run.durationMs - Object.values(run.stepsMs).reduce((sum, value) => sum + value, 0)),
        ).median,
      ),
    ),
  ]);
  stepRows.push(['(lab start, not in promote)', ...all.map((figures) => ms(figures.labStartMs))]);
  stepRows.push([
    '(deploy of the canary, not in promote)',
    ...all.map((figures) => ms(stats(figures.runs.map((run) => run.deployMs)).median)),
  ]);
  printTable(
    "    where promote's time goes: slowest host per step (median over runs)",
    ['step', ...all.map((figures) => `${figures.hosts} host${figures.hosts === 1 ? '' : 's'}`)],
    stepRows,
    {
      notes: ['"rest" is the duration minus the per-step maxima: an estimate of the work outside the recorded steps.'],
    },
  );
}
