import os from 'node:os';
import type { LabHost } from '../../test/lab/index';

/** Goals (ms): the monitor notices within 1 s (p90); typed → stable on every host, quiet machine and at load 8. */
export const GOALS = { noticed: 1000, quiet: 3000, loaded: 5000 };
export const stats = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return { median: at(0.5), p90: at(0.9), max: sorted.at(-1) ?? Number.NaN };
};

/** From the moment abort was typed, per run; `released`, `taken` and `serving` per host. */
export interface Marks {
  asked: number[];
  noticed: number[];
  noticedAfterAsked: number[];
  released: number[][];
  taken: number[][];
  serving: number[][];
  everyHost: number[];
  done: number[];
}

/** The figures against their goals, and the host-side cost of each way of watching. */
export function printReport(run: {
  marks: Marks;
  ordered: LabHost[];
  loads: number[];
  costs: Record<string, number>;
  sent: number;
  failed: number;
  repeats: number;
  abortFromSource: boolean;
  costSeconds: number;
}): void {
  const { marks, ordered, loads, costs, sent, failed, repeats, abortFromSource, costSeconds } = run;
  const ms = (value: number) => `${Math.round(value)} ms`.padStart(8);
  const row = (label: string, xs: number[], goal = '') => {
    const { median, p90, max } = stats(xs);
    console.log(`${label.padEnd(56)} ${ms(median)} ${ms(p90)} ${ms(max)}  ${goal}`);
  };
  const load = `load average (1 min) when abort was typed: ${loads.map((l) => l.toFixed(1)).join(', ')}`;
  console.log(
    `\nabort end to end — ${new Date().toISOString()}; ${repeats} run(s); 2 lab hosts, 20 req/s each through nginx; ` +
      `abort from ${abortFromSource ? 'cli/src (tsx)' : 'bin/agent-loop (cli/dist)'}, monitor from cli/src (tsx); ` +
      `node ${process.version}`,
  );
  console.log(`${load}; ${os.cpus().length} cores`);
  console.log(`${'from abort typed (ms)'.padEnd(56)}   median      p90      max  goal`);
  row('→ abort request written on a host', marks.asked);
  row('→ monitor noticed', marks.noticed);
  row('  abort request → monitor noticed', marks.noticedAfterAsked, `≤ ${GOALS.noticed} ms (p90)`);
  ordered.forEach((host, index) => row(`→ monitor's lock released on ${host.name}`, marks.released[index]!));
  ordered.forEach((host, index) => row(`→ the abort's lock taken on ${host.name}`, marks.taken[index]!));
  ordered.forEach((host, index) => row(`→ stable serving 100% on ${host.name}`, marks.serving[index]!));
  const loaded = Math.max(...loads) > 4;
  row(
    '→ stable serving 100% on every host',
    marks.everyHost,
    `≤ ${GOALS.quiet} ms quiet, ≤ ${GOALS.loaded} ms at load 8 (here: ${loaded ? 'loaded' : 'quiet'})`,
  );
  row('→ abort command exited', marks.done);
  const notice = stats(marks.noticedAfterAsked).p90;
  const every = stats(marks.everyHost).max;
  console.log(
    `goals met: notice ${notice <= GOALS.noticed ? 'yes' : 'NO'}; ` +
      `end to end ${every <= (loaded ? GOALS.loaded : GOALS.quiet) ? 'yes' : 'NO'} (max, against the ${loaded ? 'load-8' : 'quiet'} goal)`,
  );
  console.log(`requests: ${sent} sent, ${failed} failed or non-2xx`);
  console.log(
    `\nhost-side CPU of watching for an abort, one idle connection, ${costSeconds} s each (sshd and its children):`,
  );
  for (const [way, cost] of Object.entries(costs))
    console.log(`  ${way.padEnd(12)} ${cost.toFixed(1)} ms of CPU per second`);
  console.log(`\ncommand: npx tsx bench/abort.ts --repeats ${repeats}${abortFromSource ? ' --abort-from source' : ''}`);
}
