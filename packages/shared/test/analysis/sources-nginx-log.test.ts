import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NginxLogSource, parseAccessLines } from '../../src/analysis/sources';
import { latencyBucket } from '../../src/analysis';
import { localRemote, tempDir } from '../support/local-remote';
import { AccessLogFollower } from '../../src/analysis/sources/access-log';
import { parseLogRead, readLogCommand, splitLogLines } from '../../src/analysis/sources/log-read';
import { nginxLog } from '../../src/analysis/sources/nginx-log';

const line = (upstream: string, status: number, requestTime: number): string =>
  JSON.stringify({
    time: 1700000000.123,
    status,
    request_time: requestTime,
    upstream,
    upstream_addr: '127.0.0.1:1',
    upstream_status: String(status),
    upstream_time: String(requestTime),
    method: 'GET',
    uri: '/',
  });

describe('readLogCommand', () => {
  it('is a constant script with the path, inode, offset and cap as arguments', () => {
    const argv = readLogCommand('/var/log/nginx/x.log', '1234', 100, 16 * 1024 * 1024);
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv.slice(3)).toEqual(['al-log-read', '/var/log/nginx/x.log', '1234', '100', '16777216']);
    expect(readLogCommand('/a b/$(x).log', '', 0, 0).slice(3)).toEqual(['al-log-read', '/a b/$(x).log', '', '0', '0']);
  });

  it('rejects offsets and inodes that are not plain numbers', () => {
    expect(() => readLogCommand('/x', '', -1, 10)).toThrow(/offset/);
    expect(() => readLogCommand('/x', '1; rm', 0, 10)).toThrow(/inode/);
    expect(() => readLogCommand('/x', '', 1.5, 10)).toThrow(/offset/);
  });
});

describe('parseLogRead', () => {
  it('reads the stat line and the base64 bytes', () => {
    const bytes = Buffer.from('héllo\nwor');
    const read = parseLogRead(`42 1000\n${bytes.toString('base64').replace(/(.{4})/g, '$1\n')}`);
    expect(read).toEqual({ missing: false, inode: '42', size: 1000, bytes });
    expect(parseLogRead('42 0\n')).toEqual({ missing: false, inode: '42', size: 0, bytes: Buffer.alloc(0) });
    expect(parseLogRead('missing\n')).toEqual({ missing: true });
    expect(() => parseLogRead('stat: oops\n')).toThrow(/unexpected answer/);
  });
});

describe('splitLogLines', () => {
  it('keeps a partial last line for the next read', () => {
    const first = splitLogLines(Buffer.alloc(0), Buffer.from('a\nb\nhal'));
    expect(first.lines).toEqual(['a', 'b']);
    expect(first.rest.toString()).toBe('hal');
    const second = splitLogLines(first.rest, Buffer.from('f\n'));
    expect(second.lines).toEqual(['half']);
    expect(second.rest.length).toBe(0);
    expect(splitLogLines(Buffer.from('x'), Buffer.from('y')).lines).toEqual([]);
  });

  it('joins a UTF-8 character split between two reads', () => {
    const bytes = Buffer.from('é\n');
    const first = splitLogLines(Buffer.alloc(0), bytes.subarray(0, 1));
    expect(splitLogLines(first.rest, bytes.subarray(1)).lines).toEqual(['é']);
  });
});

describe('parseAccessLines', () => {
  it('counts per color: 5xx (nginx 502/504 included) as errors, the upstream time as latency', () => {
    const tally = parseAccessLines(
      [
        line('agent_loop_my_app_blue', 200, 0.004),
        line('agent_loop_my_app_blue', 500, 0.03),
        line('agent_loop_my_app_green', 502, 0),
        line('agent_loop_my_app_green', 504, 60.001),
        line('agent_loop_my_app_green', 404, 1.5),
        '',
      ],
      'my-app',
    );
    expect(tally.skipped).toBe(0);
    expect(tally.colors.blue).toMatchObject({ requests: 2, errors: 1 });
    expect(tally.colors.green).toMatchObject({ requests: 3, errors: 2 });
    expect(tally.colors.blue?.latency[latencyBucket(4)]).toBe(1);
    expect(tally.colors.blue?.latency[latencyBucket(30)]).toBe(1);
    expect(tally.colors.green?.latency[latencyBucket(1500)]).toBe(1);
    expect(tally.colors.green?.latency.at(-1)).toBe(1);
    expect(tally.colors.green?.latency.reduce((a, b) => a + b, 0)).toBe(3);
  });

  it('skips other apps, unproxied requests and lines it cannot read', () => {
    const tally = parseAccessLines(
      [
        line('agent_loop_other_blue', 200, 0.1),
        line('agent_loop_my_app_purple', 200, 0.1),
        line('', 404, 0),
        line('agent_loop_my_app', 200, 0.1),
        'not json',
        '{"status":"200","request_time":0.1,"upstream":"agent_loop_my_app_blue"}',
        'null',
      ],
      'my-app',
    );
    // Three of them are not in the agent_loop format at all; the others are other apps' requests.
    expect(tally).toEqual({ colors: {}, skipped: 7, unformatted: 3 });
  });

  it("counts nginx's combined format, what an access_log line without a format name writes, as not in the agent_loop format", () => {
    const combined = '127.0.0.1 - - [01/Jul/2026:10:00:00 +0000] "GET /run-agent HTTP/1.1" 200 12 "-" "curl/7.88.1"';
    expect(parseAccessLines([combined, combined, line('agent_loop_my_app_blue', 200, 0.1)], 'my-app')).toMatchObject({
      skipped: 2,
      unformatted: 2,
    });
  });
});

describe('AccessLogFollower on local files', () => {
  let dir: string;
  let log: string;
  const remote = localRemote('local');
  const append = (text: string) => fs.appendFile(log, text);
  const blue = (n: number) => Array.from({ length: n }, () => `${line('agent_loop_app_blue', 200, 0.01)}\n`).join('');
  const requests = (tally: { colors: { blue?: { requests: number } } }) => tally.colors.blue?.requests ?? 0;

  beforeAll(async () => {
    dir = await tempDir('nginx-log');
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('starts at the end of the file, reads only new lines, completes a partial line', async () => {
    log = path.join(dir, 'a.log');
    await fs.writeFile(log, blue(5));
    const follower = new AccessLogFollower(nginxLog({ remote, accessLog: log, app: 'app' }));
    expect(requests(await follower.read())).toBe(0);
    const one = blue(1);
    await append(blue(3) + one.slice(0, 40));
    expect(requests(await follower.read())).toBe(3);
    await append(one.slice(40));
    expect(requests(await follower.read())).toBe(1);
    expect(requests(await follower.read())).toBe(0);
  });

  it('reads from the start when told, in capped reads', async () => {
    log = path.join(dir, 'b.log');
    const text = blue(10);
    await fs.writeFile(log, text);
    const follower = new AccessLogFollower(nginxLog({ remote, accessLog: log, app: 'app' }), {
      fromStart: true,
      maxReadBytes: Math.ceil(text.length / 3),
    });
    const counts = [
      requests(await follower.read()),
      requests(await follower.read()),
      requests(await follower.read()),
      requests(await follower.read()),
    ];
    expect(counts.reduce((a, b) => a + b, 0)).toBe(10);
    expect(counts[0]).toBeLessThan(10);
  });

  it('finishes the rotated file at .1, follows it while the path is missing, then reads the new file', async () => {
    log = path.join(dir, 'c.log');
    await fs.writeFile(log, blue(2));
    const follower = new AccessLogFollower(nginxLog({ remote, accessLog: log, app: 'app' }));
    await follower.read();
    await append(blue(3));
    await fs.rename(log, `${log}.1`);
    await fs.appendFile(`${log}.1`, blue(1)); // still written before nginx reopens
    expect(requests(await follower.read())).toBe(4);
    await fs.appendFile(`${log}.1`, blue(2));
    await fs.writeFile(log, blue(7));
    expect(requests(await follower.read())).toBe(9);
    expect(follower.rotations).toBe(1);
    await append(blue(1));
    expect(requests(await follower.read())).toBe(1);
  });

  it('counts a rotation whose old file is gone as lost, and starts the new file at 0', async () => {
    log = path.join(dir, 'd.log');
    await fs.writeFile(log, blue(2));
    const follower = new AccessLogFollower(nginxLog({ remote, accessLog: log, app: 'app' }));
    await follower.read();
    await append(blue(3));
    // Replaced by a new file (rename over it, so the new file cannot reuse the old inode).
    await fs.writeFile(`${log}.new`, blue(4));
    await fs.rename(`${log}.new`, log);
    expect(requests(await follower.read())).toBe(4);
    expect(follower.lostRotations).toBe(1);
  });

  it('starts over after a truncation in place', async () => {
    log = path.join(dir, 'e.log');
    await fs.writeFile(log, blue(5));
    const follower = new AccessLogFollower(nginxLog({ remote, accessLog: log, app: 'app' }));
    await follower.read();
    await fs.truncate(log, 0);
    await append(blue(2));
    expect(requests(await follower.read())).toBe(2);
    expect(follower.truncations).toBe(1);
  });

  it('throws a clear error when the log does not exist', async () => {
    const source = new NginxLogSource([{ remote, accessLog: path.join(dir, 'nope.log'), app: 'app' }]);
    await expect(source.sample({ start: 0, end: 1 })).rejects.toThrow(/nope\.log does not exist/);
  });

  it('keeps what one host read when another fails, for the next sample', async () => {
    log = path.join(dir, 'f.log');
    await fs.writeFile(log, '');
    const missing = path.join(dir, 'f2.log');
    await fs.writeFile(missing, '');
    const source = new NginxLogSource([
      { remote, accessLog: log, app: 'app' },
      { remote: localRemote('other'), accessLog: missing, app: 'app' },
    ]);
    await source.sample({ start: 0, end: 1 });
    await append(blue(3) + 'garbage\n');
    await fs.rm(missing);
    await expect(source.sample({ start: 1, end: 2 })).rejects.toThrow(/other: .*f2\.log is missing/);
    await fs.writeFile(missing, blue(1));
    const sample = await source.sample({ start: 2, end: 3 });
    expect(sample).toMatchObject({ start: 2, end: 3, colors: { blue: { requests: 4, errors: 0 } } });
    expect(source.skipped).toBe(1);
  });
});

describe('a color that failed behind its backup', () => {
  it('counts as an error of the chosen color even when the backup answered 200', async () => {
    const { parseAccessLines } = await import('../../src/analysis/sources');
    const line = (upstream: string, status: number, upstreamStatus: string): string =>
      JSON.stringify({
        time: 1,
        status,
        request_time: 0.01,
        upstream,
        upstream_addr: '127.0.0.1:8002, 127.0.0.1:8001',
        upstream_status: upstreamStatus,
        upstream_time: '0.001, 0.002',
        method: 'GET',
        uri: '/',
      });
    const tally = parseAccessLines(
      [
        line('agent_loop_app_green', 200, '502, 200'),
        line('agent_loop_app_green', 200, '200'),
        line('agent_loop_app_blue', 200, '200'),
      ],
      'app',
    );
    expect(tally.colors.green).toMatchObject({ requests: 2, errors: 1 });
    expect(tally.colors.blue).toMatchObject({ requests: 1, errors: 0 });
  });
});

describe('latency is the upstream time, never the client-driven request time', () => {
  it('reads the first upstream_time value (the color the line names), and no latency when the color never answered', async () => {
    const { parseAccessLines, upstreamMs } = await import('../../src/analysis/sources/nginx-log');
    const entry = (upstreamTime: string, requestTime: number, status = 200, upstreamStatus = '200'): string =>
      JSON.stringify({
        time: 1,
        status,
        request_time: requestTime,
        upstream: 'agent_loop_app_green',
        upstream_addr: '127.0.0.1:8002',
        upstream_status: upstreamStatus,
        upstream_time: upstreamTime,
        method: 'GET',
        uri: '/',
      });
    // A client that trickled its headers for 2.5 s: request_time 2.504, the app answered in 4 ms.
    const tally = parseAccessLines(
      [
        entry('0.004', 2.504),
        entry('3.000, 0.002', 3.01, 200, '504, 200'),
        entry('-', 0.001, 502, '-'),
        entry('0.040 : 0.020', 9),
      ],
      'app',
    );
    const green = tally.colors.green;
    expect(green).toMatchObject({ requests: 4, errors: 2 });
    expect(green?.latency[latencyBucket(4)]).toBe(1);
    expect(green?.latency[latencyBucket(3000)]).toBe(1);
    expect(green?.latency[latencyBucket(40)]).toBe(1);
    expect(green?.latency.reduce((a, b) => a + b, 0)).toBe(3);
    expect([
      upstreamMs('0.250'),
      upstreamMs(' 1.5 , 0.1'),
      upstreamMs('-'),
      upstreamMs(''),
      upstreamMs(undefined),
      upstreamMs(0.02),
      upstreamMs('abc'),
    ]).toEqual([250, 1500, null, null, null, 20, null]);
  });
});
