import { describe, expect, it } from 'vitest';
import { HostSource } from '../../src/analysis/sources';
import type { Argv, ExecResult, Remote } from '../../src/hosts';
import {
  composeMemoryCommand,
  healthChecksCommand,
  meminfoCommand,
  parseComposeMemory,
  parseHealthOutput,
  parseMeminfo,
} from '../../src/analysis/sources/host';

const MEMINFO = `MemTotal:        8000000 kB
MemFree:          500000 kB
MemAvailable:    2000000 kB
Buffers:          100000 kB
`;

describe('memory commands', () => {
  it('reads the host memory from /proc/meminfo', () => {
    expect(meminfoCommand()).toEqual(['cat', '/proc/meminfo']);
    expect(parseMeminfo(MEMINFO)).toBeCloseTo(0.75, 9);
    expect(() => parseMeminfo('MemTotal: 1 kB\n')).toThrow(/MemAvailable/);
  });

  it("reads every color's compose memory in one command, the largest MemPerc per color", () => {
    const argv = composeMemoryCommand('agent-loop', ['blue', 'green']);
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv.slice(3)).toEqual(['al-compose-memory', 'agent-loop', 'blue', 'green']);
    const read = parseComposeMemory('green 12.50%\ngreen 97.00%\ngreen --\nblue 3.1%\n');
    expect(Object.keys(read).sort()).toEqual(['blue', 'green']);
    expect(read.green).toBeCloseTo(0.97, 9);
    expect(read.blue).toBeCloseTo(0.031, 9);
    expect(parseComposeMemory('green --\n')).toEqual({});
  });
});

describe('health commands', () => {
  it('checks each color on its own port', () => {
    const argv = healthChecksCommand(
      [
        { color: 'blue', port: 8001 },
        { color: 'green', port: 8002 },
      ],
      '/health',
      5,
    );
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv.slice(3)).toEqual([
      'al-health',
      '5',
      'blue',
      'http://127.0.0.1:8001/health',
      'green',
      'http://127.0.0.1:8002/health',
    ]);
    expect(() => healthChecksCommand([{ color: 'blue', port: 1 }], 'health', 5)).toThrow(/invalid health path/);
    expect(parseHealthOutput('blue 200\ngreen 000\nxx\n')).toEqual({ blue: 200, green: 0 });
  });
});

describe('HostSource', () => {
  /** A host whose answers the test sets; records the commands it was asked to run. */
  function fakeHost(answer: (argv: Argv) => ExecResult): Remote & { ran: Argv[] } {
    const ran: Argv[] = [];
    return { label: 'h1', ran, run: async (argv) => (ran.push(argv), answer(argv)), close() {} };
  }

  it('counts failed health checks in a row and resets on a success', async () => {
    let greenStatus = '500';
    const remote = fakeHost((argv) =>
      argv[0] === 'cat'
        ? { code: 0, stdout: MEMINFO, stderr: '' }
        : { code: 0, stdout: `blue 200\ngreen ${greenStatus}\n`, stderr: '' },
    );
    const source = new HostSource({ remote, ports: { blue: 1, green: 2 }, colors: ['blue', 'green'] });
    const rows: Array<[number | undefined, number | undefined]> = [];
    for (const status of ['500', '000', '503', '200', '500']) {
      greenStatus = status;
      const sample = await source.sample({ start: 0, end: 1 });
      rows.push([sample.colors.blue?.healthFailuresInRow, sample.colors.green?.healthFailuresInRow]);
      expect(sample.colors.green).toMatchObject({ requests: 0, errors: 0, latency: [], memoryRatio: 0.75 });
    }
    expect(rows).toEqual([
      [0, 1],
      [0, 2],
      [0, 3],
      [0, 0],
      [0, 1],
    ]);
  });

  it('throws when the host cannot be read', async () => {
    const remote = fakeHost((argv) =>
      argv[0] === 'cat'
        ? { code: 1, stdout: '', stderr: 'cat: /proc/meminfo: No such file or directory' }
        : { code: 0, stdout: 'blue 200\n', stderr: '' },
    );
    const source = new HostSource({ remote, ports: { blue: 1, green: 2 }, colors: ['blue'] });
    await expect(source.sample({ start: 0, end: 1 })).rejects.toThrow(/h1: reading \/proc\/meminfo failed/);
    const silent = new HostSource({
      remote: fakeHost(() => ({ code: 0, stdout: '', stderr: '' })),
      ports: { blue: 1, green: 2 },
      colors: ['green'],
      memory: { kind: 'none' },
    });
    await expect(silent.sample({ start: 0, end: 1 })).rejects.toThrow(/health check of green printed no status/);
  });
});
