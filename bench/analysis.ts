/**
 * Simulation of the canary analysis (packages/shared/src/analysis) under the default policy. It
 * prints figures next to their goals; it is not a test and never fails because a goal is missed.
 *
 *   npm run bench:analysis                      # 2000 runs per case, seed 20240601 (~20 s)
 *   npx tsx bench/analysis.ts --runs 5000 --seed 7
 *   npx tsx bench/analysis.ts --tune            # also the grid the defaults were chosen from (~1–2 min)
 *
 * Traffic: 500 requests per minute, 10 % to the canary (50/min, about 4 per 5-s interval), Poisson
 * arrivals per interval; each request fails with the case's error rate and takes a latency drawn
 * from the case's model. Every run has its own random stream, and the same runs are also judged by
 * the procedure's plain rules (error rate > 1 % over 30 s for 2 min, P95 > 5 s for 1 min, and its
 * gates read literally at 300 s) for comparison.
 *
 * Defaults chosen with --tune (seeds 20240601 and 1):
 * - sprt alpha 0.01: the chance of failing a canary exactly at the limit, early or at the end.
 *   0.05 halves the median detection of a 20 % canary (20 → 10 s) but fails 4–5 % of canaries at
 *   0.9 % errors (healthy by the procedure) instead of under 1 %, and leaves no margin for errors
 *   that come in bursts, which the simulation does not model.
 * - error-multiplier 10 (p1 = 10 % errors): at the ceiling for a 20 % canary with 3 errors (87 %
 *   caught within 30 s of a possible 87.5 %); 5 is slower for 20 % (75 %), 20 never catches 5 %
 *   early.
 * - min-failures 3: free at alpha 0.01 (the ratio needs about 3 errors anyway) and a guard against
 *   two errors in a row from one client, or a low p0 under compare: stable.
 * - latency-multiplier 4 (p1 = 20 % slow for P95): the best share of 20 %-slow canaries caught
 *   within 60 s; 10 (the error multiplier) would hardly ever decide early, since 20 % slow is
 *   closer to 5 % than to 50 % in likelihood.
 * - interval 5 s: 2 s gains about 2 s of median and nothing within 30 s (the errors have to
 *   happen first); 10 s loses a little. 5 s keeps the sampling load on the hosts low.
 * - beta 0.01: the analysis never acts on the test's pass, so beta only shapes the figures shown.
 */
import { parseArgs } from 'node:util';
import { CanaryAnalysis, emptyColorSample, LATENCY_BOUNDS_MS, latencyBucket, parsePolicy, SeededRandom, type ColorSample, type Policy, type Sample } from '../packages/shared/src/analysis/index';

const REQUESTS_PER_MINUTE = 500;
const CANARY_SHARE = 0.1;
const STABLE_ERROR_RATE = 0.002;

type Goal = { kind: 'detect'; withinSeconds: number; quantile: number } | { kind: 'no-abort'; maxShare: number } | { kind: 'report' };

interface Case {
  name: string;
  errorRate: number;
  /** Probability of each latency bucket (LATENCY_BOUNDS_MS), cumulated. */
  latency: number[];
  goal: Goal;
}

/** Φ(x) via erf (Abramowitz–Stegun 7.1.26, error below 1.5e-7: plenty for a simulation). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** Bucket probabilities of a lognormal latency with median `medianMs`. */
function lognormal(medianMs: number, sigma: number): number[] {
  const below = [...LATENCY_BOUNDS_MS.map((bound) => normalCdf((Math.log(bound) - Math.log(medianMs)) / sigma)), 1];
  return below.map((cdf, index) => cdf - (below[index - 1] ?? 0));
}

/** A lognormal with a given P95: median = p95 / e^(1.645 σ). */
const lognormalWithP95 = (p95: number, sigma: number): number[] => lognormal(p95 / Math.exp(1.645 * sigma), sigma);

function mixture(parts: Array<[weight: number, buckets: number[]]>): number[] {
  return LATENCY_BOUNDS_MS.map((_, index) => index)
    .concat(LATENCY_BOUNDS_MS.length)
    .map((index) => parts.reduce((sum, [weight, buckets]) => sum + weight * (buckets[index] ?? 0), 0));
}

function cumulative(buckets: number[]): number[] {
  let sum = 0;
  return buckets.map((probability) => (sum += probability));
}

const HEALTHY = lognormalWithP95(300, 0.6);
const healthyLatency = cumulative(HEALTHY);
/** 20 % of requests around 3 s, the rest healthy: P95 ≈ 4.4 s by the histogram, under the 5-s trigger. */
const slowLatency = cumulative(mixture([[0.2, lognormal(3000, 0.08)], [0.8, HEALTHY]]));

const CASES: Case[] = [
  { name: '1 errors 20%', errorRate: 0.2, latency: healthyLatency, goal: { kind: 'detect', withinSeconds: 30, quantile: 0.5 } },
  { name: '2 errors 5%', errorRate: 0.05, latency: healthyLatency, goal: { kind: 'report' } },
  { name: '3 errors 2%', errorRate: 0.02, latency: healthyLatency, goal: { kind: 'report' } },
  { name: '4 healthy 0.5% errors', errorRate: 0.005, latency: healthyLatency, goal: { kind: 'no-abort', maxShare: 0.01 } },
  { name: '4b healthy 0.9% errors', errorRate: 0.009, latency: healthyLatency, goal: { kind: 'report' } },
  { name: '5 healthy 0% errors', errorRate: 0, latency: healthyLatency, goal: { kind: 'no-abort', maxShare: 0.01 } },
  { name: '6 slow: 20% at 3 s', errorRate: 0, latency: slowLatency, goal: { kind: 'report' } },
  { name: '7 healthy P95 300 ms', errorRate: 0, latency: healthyLatency, goal: { kind: 'no-abort', maxShare: 0.01 } },
  { name: '7b healthy P95 1.5 s', errorRate: 0, latency: cumulative(lognormalWithP95(1500, 0.8)), goal: { kind: 'no-abort', maxShare: 0.01 } },
];

// ------------------------------------------------------------------------------------ simulation

/** Draws a latency bucket from cumulative probabilities, through a guide table (one or two comparisons a draw). */
class BucketSampler {
  private readonly guide: Uint8Array;
  constructor(private readonly cumulative: readonly number[]) {
    this.guide = new Uint8Array(1024);
    let bucket = 0;
    for (let slot = 0; slot < 1024; slot++) {
      while (bucket < cumulative.length - 1 && slot / 1024 >= (cumulative[bucket] ?? 1)) bucket++;
      this.guide[slot] = bucket;
    }
  }
  draw(random: SeededRandom): number {
    const u = random.next();
    let bucket = this.guide[Math.floor(u * 1024)] ?? 0;
    while (bucket < this.cumulative.length - 1 && u >= (this.cumulative[bucket] ?? 1)) bucket++;
    return bucket;
  }
}

const samplers = new Map<readonly number[], BucketSampler>();
const samplerFor = (cumulativeBuckets: readonly number[]): BucketSampler => {
  let sampler = samplers.get(cumulativeBuckets);
  if (!sampler) samplers.set(cumulativeBuckets, (sampler = new BucketSampler(cumulativeBuckets)));
  return sampler;
};

function colorSample(random: SeededRandom, requests: number, errorRate: number, latency: readonly number[]): ColorSample {
  const sample = emptyColorSample();
  const sampler = samplerFor(latency);
  sample.requests = requests;
  sample.errors = random.binomial(requests, errorRate);
  for (let index = 0; index < requests; index++) {
    const bucket = sampler.draw(random);
    sample.latency[bucket] = (sample.latency[bucket] ?? 0) + 1;
  }
  return sample;
}

/** One run's samples, generated as far as an analysis reads them; each run has its own random stream, so every policy sees the same runs. */
class Run {
  private readonly samples: Sample[] = [];
  private readonly random: SeededRandom;
  constructor(
    seed: number,
    private readonly scenario: Case,
    private readonly intervalSeconds: number,
  ) {
    this.random = new SeededRandom(seed);
  }
  sample(index: number): Sample {
    const perInterval = (REQUESTS_PER_MINUTE / 60) * this.intervalSeconds;
    while (this.samples.length <= index) {
      const at = this.samples.length * this.intervalSeconds * 1000;
      this.samples.push({
        start: at,
        end: at + this.intervalSeconds * 1000,
        colors: {
          green: colorSample(this.random, this.random.poisson(perInterval * CANARY_SHARE), this.scenario.errorRate, this.scenario.latency),
          blue: colorSample(this.random, this.random.poisson(perInterval * (1 - CANARY_SHARE)), STABLE_ERROR_RATE, healthyLatency),
        },
      });
    }
    return this.samples[index] as Sample;
  }
}

/** A 32-bit seed per (seed, case, run). */
function runSeed(seed: number, caseIndex: number, run: number): number {
  let hash = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  hash = Math.imul(hash ^ (caseIndex + 0x632be5ab), 0xc2b2ae35) >>> 0;
  hash = Math.imul(hash ^ (run + 0x27d4eb2f), 0x165667b1) >>> 0;
  return (hash ^ (hash >>> 15)) >>> 0;
}

interface Outcome {
  verdict: string;
  /** Seconds from the start to the decision. */
  seconds: number;
  early: boolean;
  extended: boolean;
}

function analyse(policy: Policy, run: Run): Outcome {
  const analysis = new CanaryAnalysis(policy, { canary: 'green', stable: 'blue', start: 0 });
  for (let index = 0; index < 100_000; index++) {
    const result = analysis.add(run.sample(index));
    if (result) return { verdict: result.verdict, seconds: result.elapsedSeconds, early: result.earlyDecision, extended: result.warnings.some((warning) => warning.startsWith('extended')) };
  }
  throw new Error('the analysis did not decide');
}

/** The procedure's plain windowed triggers alone (no sequential test, no gates), over its 300 s. */
const PROCEDURE_TRIGGERS = parsePolicy({
  'replace-default-rules': true,
  'early-decision': false,
  'min-requests': 0,
  'max-extensions': 0,
  'on-inconclusive': 'pass',
  rules: [
    { name: 'error-rate-sustained', metric: 'error_rate', max: 0.01, window: 30, for: 120, kind: 'trigger' },
    { name: 'latency-p95-sustained', metric: 'p95_ms', max: 5000, window: 30, for: 60, kind: 'trigger' },
  ],
});

/** The procedure's gates read literally: canary error rate ≤ 1 % and P95 ≤ 2 s over the first 300 s, no statistics. */
function plainGatesFail(run: Run, intervalSeconds: number): boolean {
  let requests = 0;
  let errors = 0;
  let slow = 0;
  for (let index = 0; index < Math.round(300 / intervalSeconds); index++) {
    const canary = run.sample(index).colors.green as ColorSample;
    requests += canary.requests;
    errors += canary.errors;
    slow += canary.latency.slice(latencyBucket(2000) + 1).reduce((sum, n) => sum + n, 0);
  }
  return requests > 0 && (errors / requests > 0.01 || slow / requests > 0.05);
}

interface CaseFigures {
  scenario: Case;
  runs: number;
  failed: number;
  inconclusive: number;
  extended: number;
  early: number;
  detection: number[];
  triggersOnly: number[];
  procedure: number[];
}

function simulate(scenario: Case, caseIndex: number, policy: Policy, runs: number, seed: number, withProcedure: boolean): CaseFigures {
  const figures: CaseFigures = { scenario, runs, failed: 0, inconclusive: 0, extended: 0, early: 0, detection: [], triggersOnly: [], procedure: [] };
  for (let index = 0; index < runs; index++) {
    const run = new Run(runSeed(seed, caseIndex, index), scenario, policy.intervalSeconds);
    const outcome = analyse(policy, run);
    if (outcome.verdict === 'failure') figures.failed++;
    if (outcome.verdict === 'inconclusive') figures.inconclusive++;
    if (outcome.extended) figures.extended++;
    if (outcome.early) figures.early++;
    figures.detection.push(outcome.verdict === 'failure' ? outcome.seconds : Infinity);
    if (withProcedure) {
      const triggers = analyse(PROCEDURE_TRIGGERS, run);
      const triggerSeconds = triggers.verdict === 'failure' ? triggers.seconds : Infinity;
      figures.triggersOnly.push(triggerSeconds);
      figures.procedure.push(Number.isFinite(triggerSeconds) ? triggerSeconds : plainGatesFail(run, policy.intervalSeconds) ? 300 : Infinity);
    }
  }
  return figures;
}

// ------------------------------------------------------------------------------------ figures

/** Nearest-rank percentile; Infinity stands for "not caught". */
function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Infinity;
}

const share = (values: readonly number[], test: (value: number) => boolean): number => values.filter(test).length / Math.max(1, values.length);
const pct = (value: number): string => `${(value * 100).toFixed(1)}%`;
const secs = (value: number): string => (Number.isFinite(value) ? `${Math.round(value)} s` : '–');

function goalText(goal: Goal): string {
  if (goal.kind === 'detect') return `${goal.quantile === 0.5 ? 'median' : `p${goal.quantile * 100}`} ≤${goal.withinSeconds} s`;
  if (goal.kind === 'no-abort') return `aborts ≤${pct(goal.maxShare).replace('.0', '')}`;
  return '–';
}

function goalMet(figures: CaseFigures): string {
  const { goal } = figures.scenario;
  if (goal.kind === 'detect') return percentile(figures.detection, goal.quantile) <= goal.withinSeconds ? 'yes' : 'NO';
  if (goal.kind === 'no-abort') return figures.failed / figures.runs <= goal.maxShare ? 'yes' : 'NO';
  return '';
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]): string => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  ');
  return [line(headers), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

function mainTable(all: CaseFigures[]): string {
  return table(
    ['case', 'runs', 'aborted', 'inconcl.', 'extended', 'early', 'median', 'p90', 'p99', '≤30 s', 'goal', 'met'],
    all.map((figures) => [
      figures.scenario.name,
      String(figures.runs),
      pct(figures.failed / figures.runs),
      pct(figures.inconclusive / figures.runs),
      pct(figures.extended / figures.runs),
      pct(figures.early / figures.runs),
      secs(percentile(figures.detection, 0.5)),
      secs(percentile(figures.detection, 0.9)),
      secs(percentile(figures.detection, 0.99)),
      pct(share(figures.detection, (s) => s <= 30)),
      goalText(figures.scenario.goal),
      goalMet(figures),
    ]),
  );
}

function procedureTable(all: CaseFigures[]): string {
  return table(
    ['case', 'triggers: aborted', 'median', 'p90', '≤30 s', 'with 300-s plain gate: aborted', 'median', 'p90'],
    all.map((figures) => [
      figures.scenario.name,
      pct(share(figures.triggersOnly, Number.isFinite)),
      secs(percentile(figures.triggersOnly, 0.5)),
      secs(percentile(figures.triggersOnly, 0.9)),
      pct(share(figures.triggersOnly, (s) => s <= 30)),
      pct(share(figures.procedure, Number.isFinite)),
      secs(percentile(figures.procedure, 0.5)),
      secs(percentile(figures.procedure, 0.9)),
    ]),
  );
}

/** The error-count ceiling: no rule that needs k canary errors can catch a 20 % canary in 30 s more often than P(Poisson ≥ k). */
function poissonAtLeast(k: number, mean: number): number {
  let term = Math.exp(-mean);
  let below = 0;
  for (let index = 0; index < k; index++) {
    below += term;
    term *= mean / (index + 1);
  }
  return 1 - below;
}

/** The grid the defaults were chosen from: each row is a policy, each cell a case under it. */
function tune(runs: number, seed: number): void {
  const caseIndex = (name: string): number => CASES.findIndex((scenario) => scenario.name.startsWith(name));
  const cell = (settings: Record<string, unknown>, name: string, figure: (figures: CaseFigures) => string): string => {
    const index = caseIndex(name);
    return figure(simulate(CASES[index] as Case, index, parsePolicy(settings), runs, seed, false));
  };
  const errorRows: string[][] = [];
  const settingsGrid: Array<[string, Record<string, unknown>]> = [];
  for (const alpha of [0.01, 0.05]) {
    for (const minFailures of [2, 3]) {
      for (const multiplier of [5, 10, 20]) settingsGrid.push([`α ${alpha}, min ${minFailures}, ×${multiplier}`, { sprt: { alpha, 'min-failures': minFailures, 'error-multiplier': multiplier } }]);
    }
  }
  settingsGrid.push(['defaults, interval 2 s', { interval: 2 }], ['defaults, interval 10 s', { interval: 10 }]);
  for (const [label, settings] of settingsGrid) {
    errorRows.push([
      label,
      cell(settings, '1 ', (f) => secs(percentile(f.detection, 0.5))),
      cell(settings, '1 ', (f) => pct(share(f.detection, (s) => s <= 30))),
      cell(settings, '2 ', (f) => secs(percentile(f.detection, 0.5))),
      cell(settings, '4 ', (f) => pct(f.failed / f.runs)),
      cell(settings, '4 ', (f) => pct(f.inconclusive / f.runs)),
      cell(settings, '4b', (f) => pct(f.failed / f.runs)),
    ]);
  }
  console.log(`\nTuning grid, errors (${runs} runs per cell; the same runs in every row of one interval):`);
  console.log(table(['settings', '20%: median', '≤30 s', '5%: median', '0.5%: aborted', 'inconcl.', '0.9%: aborted'], errorRows));
  const latencyRows = [2, 3, 4, 6, 10].map((multiplier) => {
    const settings = { sprt: { 'latency-multiplier': multiplier } };
    return [
      `latency ×${multiplier}`,
      cell(settings, '6 ', (f) => secs(percentile(f.detection, 0.5))),
      cell(settings, '6 ', (f) => secs(percentile(f.detection, 0.9))),
      cell(settings, '6 ', (f) => pct(share(f.detection, (s) => s <= 60))),
      cell(settings, '7b', (f) => pct(f.failed / f.runs)),
    ];
  });
  console.log(`\nTuning grid, latency (${runs} runs per cell, other settings default):`);
  console.log(table(['settings', 'slow: median', 'p90', '≤60 s', 'P95 1.5 s: aborted'], latencyRows));
}

function main(): void {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '2000' }, seed: { type: 'string', default: '20240601' }, tune: { type: 'boolean', default: false } } });
  const runs = Number(values.runs);
  const seed = Number(values.seed);
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) throw new Error('usage: bench/analysis.ts [--runs N] [--seed S] [--tune]');
  const started = performance.now();
  const policy = parsePolicy('');
  console.log(`Canary analysis simulation: seed ${seed}, ${runs} runs per case`);
  console.log(
    `Traffic ${REQUESTS_PER_MINUTE}/min, canary ${CANARY_SHARE * 100}% (≈${((REQUESTS_PER_MINUTE / 60) * policy.intervalSeconds * CANARY_SHARE).toFixed(1)} requests per ${policy.intervalSeconds}-s interval); default policy: duration ${policy.durationSeconds} s, min-requests ${policy.minRequests}, on-inconclusive ${policy.onInconclusive} ×${policy.maxExtensions}, sprt α ${policy.sprt.alpha} β ${policy.sprt.beta} error ×${policy.sprt.errorMultiplier} latency ×${policy.sprt.latencyMultiplier} min-failures ${policy.sprt.minFailures}`,
  );
  const all = CASES.map((scenario, index) => simulate(scenario, index, policy, runs, seed, true));
  console.log('\nThis engine (default policy). aborted = failure verdict (rollback); times are from the start to a failure, – = not failed by then.');
  console.log(mainTable(all));
  console.log('\nThe procedure on the same runs: its windowed triggers alone (error rate > 1% over 30 s for 2 min; P95 > 5 s for 1 min), then with its gates read literally at 300 s.');
  console.log(procedureTable(all));
  const meanErrorsIn30s = (REQUESTS_PER_MINUTE / 60) * CANARY_SHARE * 30 * 0.2;
  console.log(
    `\nCeiling for case 1: a 20% canary makes ${meanErrorsIn30s.toFixed(1)} errors in 30 s on average, so a rule needing k errors can catch it within 30 s at most: k=2 ${pct(poissonAtLeast(2, meanErrorsIn30s))}, k=3 ${pct(poissonAtLeast(3, meanErrorsIn30s))}, k=4 ${pct(poissonAtLeast(4, meanErrorsIn30s))}.`,
  );
  if (values.tune) tune(Math.max(200, Math.round(runs / 2)), seed);
  console.log(`\n${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main();
