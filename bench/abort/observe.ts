// What the abort benchmark watches: nginx's weights, a host's lock, and the command lines it starts.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Lab, LabHost } from '../../test/lab/index';

export const root = path.join(import.meta.dirname, '..', '..');

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The weights nginx has loaded on a host, from its status server (null when it does not answer). */
export function served(lab: Lab, host: LabHost): Promise<{ blue: number; green: number } | null> {
  return new Promise((resolve) => {
    const request = http.get(
      {
        host: '127.0.0.1',
        port: host.statusPort,
        path: `/agent-loop/${lab.app}`,
        headers: { Host: `agent-loop-${lab.app}` },
        timeout: 1000,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          try {
            resolve((JSON.parse(body) as { weights: { blue: number; green: number } }).weights);
          } catch {
            resolve(null);
          }
        });
      },
    );
    request.on('error', () => resolve(null));
    request.on('timeout', () => request.destroy());
  });
}

/** The phase of the run that holds a host's lock ('' when nobody does). */
export function lockPhase(lab: Lab, host: LabHost): string {
  try {
    return (
      (JSON.parse(readFileSync(`${host.stateDir}/${lab.app}/lock/owner.json`, 'utf8')) as { phase?: string }).phase ??
      '?'
    );
  } catch {
    return existsSync(`${host.stateDir}/${lab.app}/lock`) ? '?' : '';
  }
}

/** A command line started with its output kept, each line with the time it came. */
export function started(argv: string[], env: Record<string, string>) {
  const [command, ...args] = argv as [string, ...string[]];
  const child: ChildProcess = spawn(command, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
  });
  const lines: Array<{ at: number; line: string }> = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push({ at: Date.now(), line });
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number; at: number }>((resolve) =>
    child.on('close', (code) => resolve({ code: code ?? -1, at: Date.now() })),
  );
  const seen = (pattern: RegExp) => lines.find((entry) => pattern.test(entry.line));
  return { child, lines, exited, seen, text: () => lines.map((entry) => entry.line).join('\n') };
}
