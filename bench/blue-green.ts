/**
 * Benchmark of the blue-green procedure against the test lab (real sshd, nginx and app processes
 * on 127.0.0.1). It prints figures next to their goals; it is not a test. It exits non-zero only
 * when something it measures fails outright (a deploy that does not succeed, a bundle that crashes
 * before reading its inputs), never because a goal is missed.
 *
 *   npx tsx bench/blue-green.ts            # full run (~2–3 minutes on 2 cores)
 *   npx tsx bench/blue-green.ts --quick    # fewer repetitions, 1 and 5 hosts only
 *   npx tsx bench/blue-green.ts --json out.json
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { errorMessage } from '@agent-loop/shared';
import { NODE24, REPO_ROOT } from '../test/lab/run-action';
import { benchColdStart, printColdStart, timeSpawn } from './blue-green/cold-start';
import { elapsedMs, metCell, printTable } from './blue-green/common';
import { FULL, QUICK, type Report } from './blue-green/plan';
import { benchPromote, printPromote } from './blue-green/promote';
import { benchSwitch, printSwitch } from './blue-green/switch';
import { benchUnderLoad, printUnderLoad } from './blue-green/under-load';

// ------------------------------------------------------------------------------------ main

function machine(node24: string): Report['machine'] {
  const cpus = os.cpus();
  return {
    nproc: os.availableParallelism(),
    cpu: cpus[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
    node: process.version,
    node24,
    platform: `${os.platform()} ${os.release()}`,
  };
}

async function section(report: Report, name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    report.errors.push({ section: name, error: errorMessage(error) });
    console.log(`\n${name} FAILED: ${errorMessage(error)}`);
  }
}

async function main(): Promise<number> {
  const { values: options } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      only: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (options.help) {
    console.log(
      'usage: npx tsx bench/blue-green.ts [--quick] [--only switch|promote|cold-start|under-load] [--json FILE]',
    );
    return 0;
  }
  const wanted = (name: string): boolean => !options.only || options.only === name;
  const plan = options.quick ? QUICK : FULL;
  const node24 = fs.existsSync(NODE24)
    ? (await timeSpawn(NODE24, ['--version'], process.env, REPO_ROOT)).stdout.trim()
    : 'not installed';
  const started = performance.now();
  const report: Report = {
    machine: machine(node24),
    mode: options.quick ? 'quick' : 'full',
    startedAt: new Date().toISOString(),
    promote: [],
    goals: [],
    errors: [],
  };

  const { machine: host } = report;
  console.log(`blue-green benchmark (${report.mode}) — ${report.startedAt}`);
  console.log(
    `machine: ${host.nproc} CPUs (${host.cpu}), ${host.memoryGb} GB, load average ${host.loadAverage.join(' ')}; ${host.platform}`,
  );
  console.log(`node ${host.node} runs the benchmark and the lab; Node 24 for the bundles: ${host.node24}`);

  if (wanted('switch'))
    await section(report, '(a) switch', async () => {
      report.switch = await benchSwitch(plan);
      printSwitch(report.switch, report);
    });
  if (wanted('promote'))
    await section(report, '(b) promote', async () => {
      for (const hostCount of plan.promoteHostCounts) report.promote.push(await benchPromote(hostCount, plan));
    });
  if (report.promote.length > 0) printPromote(report.promote, plan, report);
  if (wanted('cold-start'))
    await section(report, '(c) cold start', async () => {
      report.coldStart = await benchColdStart(plan);
      printColdStart(report.coldStart, report);
    });
  if (wanted('under-load'))
    await section(report, '(d) under load', async () => {
      report.underLoad = await benchUnderLoad(plan);
      printUnderLoad(report.underLoad, plan, report);
    });

  report.totalMs = elapsedMs(started);
  printTable(
    'Goals',
    ['section', 'figure', 'value', 'goal', 'met'],
    report.goals.map((goal) => [goal.section, goal.figure, goal.value, goal.goal, metCell(goal.met)]),
    { leftColumns: [1, 3, 4] },
  );
  const missed = report.goals.filter((goal) => goal.met === false).length;
  report.loadAverageAtEnd = os.loadavg().map((load) => Math.round(load * 100) / 100);
  console.log(
    `\n${report.goals.length} goal(s), ${missed} missed; ${report.errors.length} section(s) failed; ` +
      `total ${(report.totalMs / 1000).toFixed(1)} s; load average now ${report.loadAverageAtEnd.join(' ')}`,
  );

  if (options.json) {
    await fsp.writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`figures written to ${options.json}`);
  }
  return report.errors.length > 0 ? 1 : 0;
}

// Ctrl-C: exit through process.exit so the lab's exit hook still stops its processes.
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
