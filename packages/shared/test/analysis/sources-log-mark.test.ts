import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analysisStart, readLogMarks } from '../../src/analysis/sources';
import { localRemote, tempDir } from '../support/local-remote';
import { AccessLogFollower } from '../../src/analysis/sources/access-log';
import { nginxLog } from '../../src/analysis/sources/nginx-log';
import { markCommand, parseMark } from '../../src/analysis/sources/log-mark';

const line = (color: 'blue' | 'green'): string =>
  `${JSON.stringify({
    time: 1,
    status: 200,
    request_time: 0.01,
    upstream: `agent_loop_app_${color}`,
    upstream_addr: '127.0.0.1:1',
    upstream_status: '200',
    upstream_time: '0.010',
    method: 'GET',
    uri: '/',
  })}\n`;
const lines = (color: 'blue' | 'green', n: number): string => line(color).repeat(n);

describe('markCommand and parseMark', () => {
  it('is a constant script with the path as its argument, and parses inode and size', () => {
    const argv = markCommand('/var/log/nginx/my app.log');
    expect(argv.at(-1)).toBe('/var/log/nginx/my app.log');
    expect(argv.slice(0, -1).join(' ')).not.toContain('my app');
    expect(parseMark('/l', '1234 5678\n')).toEqual({ path: '/l', inode: '1234', offset: 5678 });
    expect(parseMark('/l', 'missing\n')).toBeNull();
    expect(() => parseMark('/l', 'stat: cannot stat')).toThrow(
      /unexpected answer when marking \/l: "stat: cannot stat"/,
    );
  });
});

describe('analysisStart', () => {
  const now = Date.parse('2026-01-01T00:01:00Z');
  const mark = { path: '/a.log', inode: '1', offset: 0 };
  it('starts at the switch when every host has a mark on the log it reads', () => {
    expect(
      analysisStart(
        [
          { since: '2026-01-01T00:00:50Z', logMark: mark, accessLog: '/a.log' },
          { since: '2026-01-01T00:00:49Z', logMark: mark, accessLog: '/a.log' },
        ],
        now,
        300,
      ),
    ).toBe(now - 11_000);
  });
  it('starts now without a mark on every host, on another log, with a switch in the future or older than one duration', () => {
    expect(
      analysisStart(
        [
          { since: '2026-01-01T00:00:50Z', logMark: mark, accessLog: '/a.log' },
          { since: '2026-01-01T00:00:50Z', accessLog: '/a.log' },
        ],
        now,
        300,
      ),
    ).toBe(now);
    expect(analysisStart([{ since: '2026-01-01T00:00:50Z', logMark: mark, accessLog: '/b.log' }], now, 300)).toBe(now);
    expect(analysisStart([{ since: '2026-01-01T00:01:10Z', logMark: mark, accessLog: '/a.log' }], now, 300)).toBe(now);
    expect(analysisStart([{ since: '2025-12-31T23:50:00Z', logMark: mark, accessLog: '/a.log' }], now, 300)).toBe(now);
    expect(analysisStart([], now, 300)).toBe(now);
  });
});

describe('the follower from a mark, on local files', () => {
  let dir: string;
  const remote = localRemote('local');
  const count = (tally: { colors: { blue?: { requests: number }; green?: { requests: number } } }) => ({
    blue: tally.colors.blue?.requests ?? 0,
    green: tally.colors.green?.requests ?? 0,
  });

  beforeAll(async () => {
    dir = await tempDir('log-mark');
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('counts every line after the mark from the first read, and none before it', async () => {
    const log = path.join(dir, 'a.log');
    await fs.writeFile(log, lines('blue', 7));
    const [mark] = await readLogMarks([{ remote, path: log }], 4, () => {});
    expect(mark).toMatchObject({ path: log, offset: line('blue').length * 7 });
    // The switch, then 5 canary lines before the monitor's first read.
    await fs.appendFile(log, lines('green', 5) + lines('blue', 2));
    const follower = new AccessLogFollower(nginxLog({ remote, accessLog: log, app: 'app', mark: mark ?? undefined }));
    expect(count(await follower.read())).toEqual({ blue: 2, green: 5 });
    await fs.appendFile(log, lines('green', 1));
    expect(count(await follower.read())).toEqual({ blue: 0, green: 1 });
    // Without the mark the same file's first read counts nothing: the old behaviour.
    expect(count(await new AccessLogFollower(nginxLog({ remote, accessLog: log, app: 'app' })).read())).toEqual({
      blue: 0,
      green: 0,
    });
  });

  it('rotated since the switch: the rest of the marked file from <path>.1, then the new file', async () => {
    const log = path.join(dir, 'b.log');
    await fs.writeFile(log, lines('blue', 3));
    const [mark] = await readLogMarks([{ remote, path: log }], 4, () => {});
    await fs.appendFile(log, lines('green', 4));
    await fs.rename(log, `${log}.1`);
    await fs.writeFile(log, lines('green', 2));
    const follower = new AccessLogFollower(nginxLog({ remote, accessLog: log, app: 'app', mark: mark ?? undefined }));
    expect(count(await follower.read())).toEqual({ blue: 0, green: 6 });
    expect(follower.rotations).toBe(1);
  });

  it('a mark on another path is ignored; a missing log gives no mark and no warning; a failed mark warns', async () => {
    const log = path.join(dir, 'c.log');
    await fs.writeFile(log, lines('blue', 3));
    const follower = new AccessLogFollower(
      nginxLog({
        remote,
        accessLog: log,
        app: 'app',
        mark: { path: '/elsewhere.log', inode: '1', offset: 0 },
      }),
    );
    expect(count(await follower.read())).toEqual({ blue: 0, green: 0 });
    const warnings: string[] = [];
    const failing = {
      ...remote,
      run: () => Promise.resolve({ code: 1, stdout: '', stderr: 'Permission denied' }),
    } as unknown as typeof remote;
    const marks = await readLogMarks(
      [
        { remote, path: path.join(dir, 'none.log') },
        { remote: failing, path: log },
      ],
      4,
      (message) => warnings.push(message),
    );
    expect(marks).toEqual([null, null]);
    expect(warnings).toEqual([
      expect.stringMatching(/could not mark the access log .*c\.log before the switch \(exit 1: Permission denied\)/),
    ]);
  });
});
