import { describe, expect, it } from 'vitest';
import {
  composeContainersCommand,
  dockerStatsCommand,
  healthChecksCommand,
  HostSource,
  meminfoCommand,
  parseDockerMemPerc,
  parseHealthOutput,
  parseMeminfo,
} from '../../src/analysis/sources/host';
import type { Argv } from '../../src/shell';
import type { ExecResult, Remote } from '../../src/ssh';

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

  it("finds a color's compose containers and asks docker stats for their memory", () => {
    expect(composeContainersCommand('agent-loop', 'green')).toEqual(['docker', 'ps', '--quiet', '--filter', 'label=com.docker.compose.project=agent-loop-green']);
    expect(dockerStatsCommand(['3f4e5a6b7c8d', 'agent-loop-green-api-1'])).toEqual(['docker', 'stats', '--no-stream', '--format', '{{.MemPerc}}', '3f4e5a6b7c8d', 'agent-loop-green-api-1']);
    expect(() => dockerStatsCommand([])).toThrow(/at least one/);
    expect(() => dockerStatsCommand(['--all'])).toThrow(/invalid container/);
  });

  it('takes the largest MemPerc', () => {
    expect(parseDockerMemPerc('12.50%\n97.00%\n--\n')).toBeCloseTo(0.97, 9);
    expect(parseDockerMemPerc('--\n')).toBeUndefined();
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
    expect(argv.slice(3)).toEqual(['al-health', '5', 'blue', 'http://127.0.0.1:8001/health', 'green', 'http://127.0.0.1:8002/health']);
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
    const remote = fakeHost((argv) => (argv[0] === 'cat' ? { code: 0, stdout: MEMINFO, stderr: '' } : { code: 0, stdout: `blue 200\ngreen ${greenStatus}\n`, stderr: '' }));
    const source = new HostSource({ remote, ports: { blue: 1, green: 2 }, colors: ['blue', 'green'] });
    const rows: Array<[number | undefined, number | undefined]> = [];
    for (const status of ['500', '000', '503', '200', '500']) {
      greenStatus = status;
      const sample = await source.sample({ start: 0, end: 1 });
      rows.push([sample.colors.blue?.healthFailuresInRow, sample.colors.green?.healthFailuresInRow]);
      expect(sample.colors.green).toMatchObject({ requests: 0, errors: 0, latency: [], memoryRatio: 0.75 });
    }
    expect(rows).toEqual([[0, 1], [0, 2], [0, 3], [0, 0], [0, 1]]);
  });

  it('reads compose memory per color, leaving out a color without containers', async () => {
    const remote = fakeHost((argv) => {
      if (argv[1] === 'ps') return { code: 0, stdout: argv[4]?.endsWith('-green') ? 'abc123def456\n' : '', stderr: '' };
      if (argv[1] === 'stats') return { code: 0, stdout: '41.5%\n', stderr: '' };
      return { code: 0, stdout: 'blue 200\ngreen 200\n', stderr: '' };
    });
    const source = new HostSource({ remote, ports: { blue: 1, green: 2 }, colors: ['blue', 'green'], memory: { kind: 'compose', app: 'agent-loop' } });
    const sample = await source.sample({ start: 0, end: 1 });
    expect(sample.colors.green?.memoryRatio).toBeCloseTo(0.415, 9);
    expect(sample.colors.blue?.memoryRatio).toBeUndefined();
    expect(remote.ran).toContainEqual(['docker', 'stats', '--no-stream', '--format', '{{.MemPerc}}', 'abc123def456']);
  });

  it('throws when the host cannot be read', async () => {
    const remote = fakeHost((argv) => (argv[0] === 'cat' ? { code: 1, stdout: '', stderr: 'cat: /proc/meminfo: No such file or directory' } : { code: 0, stdout: 'blue 200\n', stderr: '' }));
    const source = new HostSource({ remote, ports: { blue: 1, green: 2 }, colors: ['blue'] });
    await expect(source.sample({ start: 0, end: 1 })).rejects.toThrow(/h1: reading \/proc\/meminfo failed/);
    const silent = new HostSource({ remote: fakeHost(() => ({ code: 0, stdout: '', stderr: '' })), ports: { blue: 1, green: 2 }, colors: ['green'], memory: { kind: 'none' } });
    await expect(silent.sample({ start: 0, end: 1 })).rejects.toThrow(/health check of green printed no status/);
  });
});
