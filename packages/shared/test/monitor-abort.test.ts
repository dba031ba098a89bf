import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/action';
import { abortWaitCommand, watchAbortRequest } from '../src/procedures/monitor-requests';
import { localRemote } from './support/local-remote';

/**
 * How a monitor learns of an abort request: the wait it keeps on the host (run here on this
 * machine, with perl and without), and the watch around it, which falls back to asking when the
 * wait cannot run.
 */

const dir = mkdtempSync(path.join(os.tmpdir(), 'al-abort-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A PATH with only sh, sleep and head: a host without perl. */
function withoutPerl(): NodeJS.ProcessEnv {
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const tool of ['sh', 'sleep', 'head']) {
    const found = ['/usr/bin', '/bin'].map((folder) => path.join(folder, tool)).find((file) => existsSync(file));
    if (!found) throw new Error(`no ${tool} here`);
    if (!existsSync(path.join(bin, tool))) symlinkSync(found, path.join(bin, tool));
  }
  return { PATH: bin };
}

describe('the wait on the host', () => {
  for (const [name, env] of [
    ['with perl', undefined],
    ['without perl', 'no-perl'],
  ] as const) {
    it(`returns the request as soon as it appears, and nothing after its time (${name})`, async () => {
      const remote = localRemote('host', env ? withoutPerl() : undefined);
      const file = path.join(dir, `abort-${env ?? 'perl'}`);
      const request = JSON.stringify({ runId: '7', actor: 'ops', reason: 'paged' });
      let started = Date.now();
      setTimeout(() => writeFileSync(file, request), 300);
      const answered = await remote.run(abortWaitCommand(file, 10));
      expect(answered.stdout).toBe(`abort ${request}`);
      expect(Date.now() - started).toBeLessThan(2000);
      rmSync(file);
      started = Date.now();
      const none = await remote.run(abortWaitCommand(file, 1));
      expect(none).toMatchObject({ code: 0, stdout: '' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    });
  }
});

describe('the watch', () => {
  it('tells the request once, through the wait', async () => {
    const file = path.join(dir, 'abort-watch');
    const session = { remote: localRemote('host'), paths: { abort: file }, abortRequest: () => Promise.resolve(null) };
    const told: string[] = [];
    const watch = watchAbortRequest(session as never, systemClock, (request) => told.push(request));
    setTimeout(() => writeFileSync(file, '{"runId":"8"}'), 200);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    watch.stop();
    expect(told).toEqual(['{"runId":"8"}']);
  });

  it('asks instead, about once a second, when the wait cannot run on the host', async () => {
    let asked = 0;
    const session = {
      remote: { label: 'host', run: () => Promise.reject(new Error('no channel')), close: () => undefined },
      paths: { abort: '/nonexistent/abort' },
      abortRequest: () => Promise.resolve(++asked === 3 ? '{"runId":"9"}' : null),
    };
    const told: string[] = [];
    const started = Date.now();
    const watch = watchAbortRequest(session as never, systemClock, (request) => told.push(request));
    while (told.length === 0 && Date.now() - started < 8000) await new Promise((resolve) => setTimeout(resolve, 50));
    watch.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(asked).toBe(3);
    expect(told).toEqual(['{"runId":"9"}']);
  });
});
