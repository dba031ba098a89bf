// CPU time read from /proc: this machine's, and a lab host's sshd with everything under it.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { LabHost } from '../../test/lab/index';

export const cpuMs = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / 1000;
/** Busy CPU time of the whole machine so far (user, nice, system, irq, softirq), in ms. */
export const machineBusyMs = (): number => {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  return [0, 1, 2, 5, 6].reduce((sum, index) => sum + (fields[index] ?? 0), 0) * tick;
};

/** CPU (ms) of a lab host's sshd and every process under it, reaped ones included. */
export function sshdTreeCpuMs(host: LabHost): number {
  const tick = 100; // USER_HZ on Linux
  const listener = Number(readFileSync(path.join(host.dir, 'sshd.pid'), 'utf8').trim());
  const children = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const entry of readdirProc()) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const parent = Number(fields[1]);
      // utime, stime, cutime, cstime: fields 14–17 of stat, 12–15 after the name.
      cpu.set(
        entry,
        [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index]), 0),
      );
      children.set(parent, [...(children.get(parent) ?? []), entry]);
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const visit = (pid: number) => {
    total += cpu.get(pid) ?? 0;
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(listener);
  return (total * 1000) / tick;
}

export function readdirProc(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}
