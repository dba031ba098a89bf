// What every section of the blue-green benchmark uses: statistics, tables, a lab, a deploy, timings in a host.
import { deploy, script, type HostSpec, type PhaseResult, type Remote } from '@agent-loop/shared';
import { startLab, type Lab } from '../../test/lab/index';
import { percentile } from '../../test/lab/traffic';
import { deploySettings, labHosts } from '../../test/support/deploy-settings';
import { CANARY_PERCENT, MAX_PARALLEL, RUN, type Stats } from './plan';

/** Median and p90 are nearest-rank (the lab's `percentile`): always one of the measured values. */
export function stats(values: readonly number[]): Stats {
  if (values.length === 0) return { n: 0, median: Number.NaN, p90: Number.NaN, min: Number.NaN, max: Number.NaN };
  const copy = [...values];
  // reduce, not Math.min(...): a traffic run can give more values than a call takes arguments.
  const min = copy.reduce((low, value) => Math.min(low, value), Infinity);
  const max = copy.reduce((high, value) => Math.max(high, value), -Infinity);
  return { n: copy.length, median: percentile(copy, 50), p90: percentile(copy, 90), min, max };
}

/** Milliseconds since `start` (a performance.now() reading), to 0.1 ms. */
export const elapsedMs = (start: number): number => Math.round((performance.now() - start) * 10) / 10;

export function progress(message: string): void {
  process.stderr.write(`… ${message}\n`);
}

// ------------------------------------------------------------------------------------ output

export function ms(value: number): string {
  if (!Number.isFinite(value)) return '—';
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

export function metCell(met: boolean | null): string {
  return met === null ? 'n/a' : met ? 'yes' : 'NO';
}

/** A plain-text table: the first column left-aligned, the others right-aligned unless told. */
export function printTable(
  title: string,
  header: string[],
  rows: string[][],
  options: { leftColumns?: number[]; notes?: string[] } = {},
): void {
  const left = new Set([0, ...(options.leftColumns ?? [])]);
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => (left.has(column) ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  console.log(`\n${title}`);
  console.log(`  ${line(header)}`);
  console.log(`  ${widths.map((width) => '-'.repeat(width)).join('  ')}`);
  for (const row of rows) console.log(`  ${line(row)}`);
  for (const note of options.notes ?? []) console.log(`  ${note}`);
}

export function statsRow(label: string, values: Stats, goal = '', met?: boolean | null): string[] {
  return [
    label,
    ms(values.median),
    ms(values.p90),
    ms(values.min),
    ms(values.max),
    goal,
    met === undefined ? '' : metCell(met),
  ];
}

export const STATS_HEADER = ['figure', 'median', 'p90', 'min', 'max', 'goal', 'met'];

// ------------------------------------------------------------------------------------ helpers

export async function withLab<T>(
  hosts: number,
  body: (lab: Lab, specs: HostSpec[], labStartMs: number) => Promise<T>,
): Promise<T> {
  const start = performance.now();
  const lab = await startLab({ hosts });
  try {
    return await body(lab, labHosts(lab), elapsedMs(start));
  } finally {
    await lab.stop();
  }
}

export function checkPhase(result: PhaseResult, what: string): PhaseResult {
  if (!result.ok) throw new Error(`${what} failed: ${result.error ?? 'no error given'}`);
  return result;
}

export async function deployVersion(lab: Lab, hosts: HostSpec[], version: string): Promise<PhaseResult> {
  return checkPhase(
    await deploy(
      hosts,
      deploySettings(lab, version, { maxParallel: MAX_PARALLEL, canaryPercent: CANARY_PERCENT, run: RUN }),
    ),
    `deploy ${version} on ${hosts.length} host(s)`,
  );
}

/** Runs `argv` in the host's shell and returns how long it took there, in ms (from `date +%s%N`). */
export async function timeInHost(remote: Remote, what: string, argv: readonly string[]): Promise<number> {
  const timed = script(
    'bench-time',
    's=$(date +%s%N); "$@" >/dev/null 2>&1 || exit 1; echo $(( ($(date +%s%N) - s) / 1000 ))',
    argv,
  );
  const result = await remote.run(timed);
  if (result.code !== 0)
    throw new Error(`${what} failed on ${remote.label} (exit ${result.code}): ${result.stderr.trim()}`);
  return Number(result.stdout.trim()) / 1000;
}

export async function repeat(times: number, body: () => Promise<number>): Promise<number[]> {
  const values: number[] = [];
  for (let i = 0; i < times; i++) values.push(await body());
  return values;
}
