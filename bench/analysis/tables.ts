// The tables the simulation prints, and the tuning grid the defaults were chosen from.
import { parsePolicy } from '../../packages/shared/src/analysis';
import { CASES, type Case } from './cases';
import { goalMet, goalText, pct, percentile, secs, share, simulate, table, type CaseFigures } from './figures';
import { COMPARE_SECONDS } from './other-tools';

export function mainTable(all: CaseFigures[]): string {
  return table(
    [
      'case',
      'runs',
      'rolled back',
      'inconcl.',
      'passed undecided',
      'extended',
      'early',
      'median',
      'p90',
      '≤30 s',
      '≤60 s',
      '≤300 s',
      'goal',
      'met',
    ],
    all.map((figures) => [
      figures.scenario.name,
      String(figures.runs),
      pct(figures.rolledBack / figures.runs),
      pct(figures.inconclusive / figures.runs),
      pct(figures.passedUndecided / figures.runs),
      pct(figures.extended / figures.runs),
      pct(figures.early / figures.runs),
      secs(percentile(figures.detection, 0.5)),
      secs(percentile(figures.detection, 0.9)),
      pct(share(figures.detection, (s) => s <= 30)),
      pct(share(figures.detection, (s) => s <= 60)),
      pct(share(figures.detection, (s) => s <= 300)),
      goalText(figures.scenario.goal),
      goalMet(figures),
    ]),
  );
}

/** One row per case: ours, the floor, ours without the mark, the procedure's triggers, and each other tool's rule: median / p90 / rolled back within 300 s. */
export function sideBySide(all: CaseFigures[]): string {
  const labels = [...(all[0]?.others.keys() ?? [])];
  const cell = (values: readonly number[]): string =>
    `${secs(percentile(values, 0.5))} / ${secs(percentile(values, 0.9))} / ${pct(share(values, (s) => s <= COMPARE_SECONDS))}`;
  return table(
    ['case', 'ours', 'floor (3rd error)', 'fixed test at 300 s', 'ours, no mark', 'procedure triggers', ...labels],
    all.map((figures) => [
      figures.scenario.name,
      cell(figures.detection),
      cell(figures.floor),
      cell(figures.fixedTest),
      cell(figures.noMark),
      cell(figures.triggersOnly),
      ...labels.map((label) => cell(figures.others.get(label) ?? [])),
    ]),
  );
}

/** Ours against each other rule, where both roll back: median and p90 detection ratios (ours / theirs). */
export function ratios(all: CaseFigures[]): string {
  const labels = [...(all[0]?.others.keys() ?? [])];
  const detecting = all.filter(
    (figures) => figures.scenario.goal.kind === 'detect' || figures.scenario.errorRate >= 0.02,
  );
  const ratio = (ours: number, theirs: number): string =>
    Number.isFinite(ours) && Number.isFinite(theirs)
      ? (ours / theirs).toFixed(2)
      : Number.isFinite(ours)
        ? '0 (never)'
        : '–';
  return table(
    ['case', ...labels.map((label) => `÷ ${label}: median, p90`)],
    detecting.map((figures) => [
      figures.scenario.name,
      ...labels.map((label) => {
        const theirs = figures.others.get(label) ?? [];
        return `${ratio(percentile(figures.detection, 0.5), percentile(theirs, 0.5))}, ${ratio(percentile(figures.detection, 0.9), percentile(theirs, 0.9))}`;
      }),
    ]),
  );
}

/** The error-count ceiling: no rule that needs k canary errors can catch a 20 % canary in 30 s more often than P(Poisson ≥ k). */
export function poissonAtLeast(k: number, mean: number): number {
  let term = Math.exp(-mean);
  let below = 0;
  for (let index = 0; index < k; index++) {
    below += term;
    term *= mean / (index + 1);
  }
  return 1 - below;
}

/** The grid the defaults were chosen from: each row is a policy, each cell a case under it. */
export function tune(runs: number, seed: number, startDelay: number): void {
  const caseIndex = (name: string): number => CASES.findIndex((scenario) => scenario.name.startsWith(name));
  const cell = (settings: Record<string, unknown>, name: string, figure: (figures: CaseFigures) => string): string => {
    const index = caseIndex(name);
    return figure(simulate(CASES[index] as Case, index, parsePolicy(settings), runs, seed, startDelay, false));
  };
  const rolled = (f: CaseFigures): string => pct(f.rolledBack / f.runs);
  const errorRows: string[][] = [];
  const settingsGrid: Array<[string, Record<string, unknown>]> = [];
  for (const alpha of [0.005, 0.01, 0.02]) {
    for (const multiplier of [5, 10])
      settingsGrid.push([`α ${alpha}, ×${multiplier}`, { sprt: { alpha, 'error-multiplier': multiplier } }]);
  }
  for (const [end, extension] of [
    [0.01, 0.01],
    [0.015, 0.015],
    [0.015, 0.005],
    [0.02, 0.005],
  ] as const) {
    settingsGrid.push([
      `end-alpha ${end}, extension-alpha ${extension}`,
      { sprt: { 'end-alpha': end, 'extension-alpha': extension } },
    ]);
  }
  settingsGrid.push(
    ['defaults, interval 2 s', { interval: 2 }],
    ['defaults, interval 10 s', { interval: 10 }],
    ['defaults, on-undecided: inconclusive', { 'on-undecided': 'inconclusive' }],
  );
  for (const [label, settings] of settingsGrid) {
    errorRows.push([
      label,
      cell(settings, '1 ', (f) => secs(percentile(f.detection, 0.5))),
      cell(settings, '1 ', (f) => pct(share(f.detection, (s) => s <= 30))),
      cell(settings, '2 ', (f) => pct(share(f.detection, (s) => s <= 300))),
      cell(settings, '4 ', rolled),
      cell(settings, '4b', rolled),
    ]);
  }
  console.log(`\nTuning grid, errors (${runs} runs per cell; the same runs in every row):`);
  console.log(
    table(['settings', '20%: median', '≤30 s', '5%: ≤300 s', '0.5%: rolled back', '0.9%: rolled back'], errorRows),
  );
  const latencyRows = [2, 3, 4, 6].map((multiplier) => {
    const settings = { sprt: { 'latency-multiplier': multiplier } };
    return [
      `latency ×${multiplier}`,
      cell(settings, '6 ', (f) => secs(percentile(f.detection, 0.5))),
      cell(settings, '6 ', (f) => pct(share(f.detection, (s) => s <= 60))),
      cell(settings, '7b', rolled),
      cell(settings, '7c', rolled),
    ];
  });
  console.log(`\nTuning grid, latency (${runs} runs per cell, other settings default):`);
  console.log(
    table(['settings', 'P95 4 s: median', '≤60 s', 'P95 1.8 s: rolled back', 'P95 1.9 s: rolled back'], latencyRows),
  );
}
