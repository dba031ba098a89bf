import { describe, expect, it } from 'vitest';
import { ProbeSource } from '../../src/analysis/sources';
import { latencyBucket } from '../../src/analysis';
import type { ExecResult, Remote } from '../../src/hosts';
import { parseProbeOutput, probeRequestsCommand } from '../../src/analysis/sources/probe';

describe('probeRequestsCommand', () => {
  it('is a constant script with the count, timeout and color/URL pairs as arguments', () => {
    const argv = probeRequestsCommand(
      [
        { color: 'blue', port: 8001 },
        { color: 'green', port: 8002 },
      ],
      '/run?x=1',
      5,
      10,
    );
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv.slice(3)).toEqual([
      'al-probe',
      '5',
      '10',
      'blue',
      'http://127.0.0.1:8001/run?x=1',
      'green',
      'http://127.0.0.1:8002/run?x=1',
    ]);
  });

  it('rejects a path that is not a path, and counts that are not counts', () => {
    expect(() => probeRequestsCommand([{ color: 'blue', port: 1 }], 'health', 1, 1)).toThrow(/invalid probe path/);
    expect(() => probeRequestsCommand([{ color: 'blue', port: 1 }], '/h ealth', 1, 1)).toThrow(/invalid probe path/);
    expect(() => probeRequestsCommand([{ color: 'blue', port: 1 }], '/health', 0, 1)).toThrow(/positive integer/);
    expect(() => probeRequestsCommand([{ color: 'blue', port: 1 }], '/health', 1, 0)).toThrow(/timeout/);
  });
});

describe('parseProbeOutput', () => {
  it('counts 5xx and no answer as errors, and every request in the histogram', () => {
    const colors = parseProbeOutput(
      ['blue 200 0.004', 'blue 503 0.030', 'green 000 0.000210', 'green 404 1.5', 'noise', ''].join('\n'),
    );
    expect(colors.blue).toMatchObject({ requests: 2, errors: 1 });
    expect(colors.green).toMatchObject({ requests: 2, errors: 1 });
    expect(colors.blue?.latency[latencyBucket(4)]).toBe(1);
    expect(colors.blue?.latency[latencyBucket(30)]).toBe(1);
    expect(colors.green?.latency[latencyBucket(1500)]).toBe(1);
  });
});

describe('ProbeSource', () => {
  const remote = (result: ExecResult): Remote => ({ label: 'h1', run: async () => result, close() {} });

  it('throws when the probe cannot run or prints too few results', async () => {
    const options = { ports: { blue: 1, green: 2 }, colors: ['blue'] as const, path: '/', requestsPerSample: 2 };
    await expect(
      new ProbeSource({ ...options, remote: remote({ code: 127, stdout: '', stderr: 'sh: curl: not found' }) }).sample({
        start: 0,
        end: 1,
      }),
    ).rejects.toThrow(/h1: probing blue failed \(exit 127\): sh: curl: not found/);
    await expect(
      new ProbeSource({ ...options, remote: remote({ code: 0, stdout: 'blue 200 0.1\n', stderr: '' }) }).sample({
        start: 0,
        end: 1,
      }),
    ).rejects.toThrow(/printed 1 results for 2 requests/);
    const sample = await new ProbeSource({
      ...options,
      remote: remote({ code: 0, stdout: 'blue 200 0.1\nblue 500 0.2\n', stderr: '' }),
    }).sample({ start: 0, end: 1 });
    expect(sample).toMatchObject({ start: 0, end: 1, colors: { blue: { requests: 2, errors: 1 } } });
  });
});
