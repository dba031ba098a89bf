import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchedRemote,
  batchRemotes,
  CombinedSource,
  HostGate,
  HostSource,
  NginxLogSource,
} from '../../src/analysis/sources';
import type { Argv, ExecResult, Remote, RunOptions } from '../../src/hosts';
import { localRemote, tempDir } from '../support/local-remote';
import { batchCommand, batchMarker, parseBatchOutput } from '../../src/analysis/sources/batch';

/** A local remote that records each command it was given. */
function countingRemote(label = 'h1'): Remote & { ran: Argv[] } {
  const inner = localRemote(label);
  const remote = {
    label,
    ran: [] as Argv[],
    run(argv: Argv, options?: RunOptions): Promise<ExecResult> {
      remote.ran.push(argv);
      return inner.run(argv, options);
    },
    close() {},
  };
  return remote;
}

const line = (color: 'blue' | 'green', status = 200): string =>
  `${JSON.stringify({
    time: 1,
    status,
    request_time: 3.5,
    upstream: `agent_loop_app_${color}`,
    upstream_addr: '127.0.0.1:1',
    upstream_status: String(status),
    upstream_time: '0.020',
    method: 'GET',
    uri: '/',
  })}\n`;

describe('batchCommand and parseBatchOutput', () => {
  it('runs several commands as one, each with its own exit code, stdout and stderr, whatever they print', async () => {
    const marker = batchMarker();
    const commands: Argv[] = [
      ['printf', '%s', 'no newline at the end'],
      ['sh', '-c', 'echo "to stderr: $1" >&2; exit 7', 'x', "it's quoted; $(not run)"],
      ['printf', ''],
      ['sh', '-c', 'printf "a\\n\\nb\\n"; printf "warn\\n" >&2'],
    ];
    const argv = batchCommand(commands, marker);
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    const result = await localRemote().run(argv);
    expect(result.code).toBe(0);
    expect(parseBatchOutput(result.stdout, marker, 4)).toEqual([
      { code: 0, stdout: 'no newline at the end', stderr: '' },
      { code: 7, stdout: '', stderr: "to stderr: it's quoted; $(not run)\n" },
      { code: 0, stdout: '', stderr: '' },
      { code: 0, stdout: 'a\n\nb\n', stderr: 'warn\n' },
    ]);
  });

  it('refuses an answer cut short, and a bad marker', () => {
    const marker = batchMarker();
    expect(() => parseBatchOutput(`${marker} 1 0\nhalf`, marker, 1)).toThrow(/stops in the output of command 1/);
    expect(() => parseBatchOutput(`${marker} 1 0\nok\n${marker} e\n\n`, marker, 1)).toThrow(
      /stops in the errors of command 1/,
    );
    expect(() => parseBatchOutput(`${marker} 1 0\nok\n${marker} e\n\n${marker} 2 0\n`, marker, 1)).toThrow(
      /did not finish/,
    );
    expect(parseBatchOutput(`${marker} 1 0\nok\n${marker} e\n\n${marker} end\n`, marker, 1)).toEqual([
      { code: 0, stdout: 'ok', stderr: '' },
    ]);
    expect(() => parseBatchOutput('', marker, 1)).toThrow(/no result for command 1 of 1/);
    expect(() => batchCommand([['true']], 'x; rm -rf /')).toThrow(/invalid batch marker/);
  });
});

describe('BatchedRemote', () => {
  let dir: string;
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    dir = await tempDir('batch');
    server = http.createServer((request, response) =>
      response.writeHead(request.url === '/health' ? 200 : 404).end('ok'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('sends the log read, the health checks and memory of one interval as one SSH command per host', async () => {
    const logs = await Promise.all(
      [1, 2, 3].map(async (n) => {
        const file = path.join(dir, `access-${n}.log`);
        await fs.writeFile(file, line('blue'));
        return file;
      }),
    );
    const raw = logs.map((_, index) => countingRemote(`h${index + 1}`));
    const batched = batchRemotes(raw, 2);
    const remotes = raw.map((remote) => batched.get(remote) as BatchedRemote);
    const source = new CombinedSource([
      new NginxLogSource(logs.map((accessLog, index) => ({ remote: remotes[index] as Remote, accessLog, app: 'app' }))),
      ...remotes.map(
        (remote) => new HostSource({ remote, ports: { blue: port, green: port }, colors: ['blue', 'green'] }),
      ),
    ]);

    const first = await source.sample({ start: 0, end: 1 });
    expect(first.colors.green?.healthFailuresInRow).toBe(0);
    for (const file of logs) await fs.appendFile(file, line('green').repeat(3) + line('green', 503) + line('blue'));
    const second = await source.sample({ start: 1, end: 2 });
    // Every figure arrived: 3 hosts × (3 + 1) green requests, one 5xx per host; health and memory per color.
    expect(second.colors.green).toMatchObject({ requests: 12, errors: 3, healthFailuresInRow: 0 });
    expect(second.colors.blue?.requests).toBe(3);
    expect(second.colors.blue?.memoryRatio).toBeGreaterThan(0);
    // Two intervals: exactly two SSH commands per host, each carrying the three sources' commands.
    for (const remote of raw) expect(remote.ran).toHaveLength(2);
    for (const remote of remotes) expect(remote.counts).toMatchObject({ sshCommands: 2, commands: 6 });
  });

  it('lets at most max-parallel hosts run at once', async () => {
    const gate = new HostGate(2);
    let running = 0;
    let peak = 0;
    const slow: Remote = {
      label: 'slow',
      async run() {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 20));
        running--;
        return { code: 0, stdout: '', stderr: '' };
      },
      close() {},
    };
    const remotes = Array.from({ length: 5 }, () => new BatchedRemote(slow, gate));
    await Promise.all(remotes.map((remote) => remote.run(['true'])));
    expect(peak).toBe(2);
    expect(() => new HostGate(0)).toThrow(/positive integer/);
  });

  it('fails every command of a batch that does not come back whole, naming the host', async () => {
    const broken: Remote = {
      label: 'h9',
      run: () => Promise.resolve({ code: 137, stdout: '', stderr: 'Killed' }),
      close() {},
    };
    const remote = new BatchedRemote(broken, new HostGate(1));
    const results = await Promise.allSettled([remote.run(['true']), remote.run(['false'])]);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect(String((result as PromiseRejectedResult).reason)).toMatch(
        /h9: the sampling commands failed to run \(exit 137\).*Killed/,
      );
    }
    // A command alone is sent as it is, and its own failure is its own.
    expect(await new BatchedRemote(localRemote(), new HostGate(1)).run(['sh', '-c', 'exit 3'])).toMatchObject({
      code: 3,
    });
  });
});
