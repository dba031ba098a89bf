import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostError } from '../src/action';
import {
  LockHeld,
  acquireLock,
  commands,
  emptyState,
  readState,
  statePaths,
  withHistory,
  writeRemoteFile,
  writeStateAndAudit,
  type AppState,
  type HistoryEntry,
  type LockOwner,
} from '../src/hosts';
import { localRemote, tempDir } from './support/local-remote';
import { otherColor } from '../src/domain';
import { audit } from '../src/hosts/audit';
import type { LockOptions } from '../src/hosts/lock';
import { HISTORY_LIMIT } from '../src/hosts/state-changes';
import { readRemoteFile, writeState } from '../src/hosts/state-write';

const remote = localRemote('test-host');
let root: string;
let caseNumber = 0;

beforeAll(async () => {
  root = await tempDir('state');
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** A fresh directory per test, so tests never see each other's files. */
async function freshDir(): Promise<string> {
  caseNumber += 1;
  const dir = path.join(root, `case-${caseNumber}`);
  await fs.mkdir(dir);
  return dir;
}

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false,
  );

function owner(name: string): LockOwner {
  return {
    token: `token-${name}-${Math.random().toString(36).slice(2)}`,
    runId: `run-${name}`,
    actor: `actor-${name}`,
    version: '1.2.3',
    phase: 'deploy',
    time: '2026-01-01T00:00:00Z',
  };
}

function lockOptions(overrides: Partial<LockOptions> = {}): LockOptions & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    waitSeconds: 0,
    staleSeconds: 3600,
    breakStale: false,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: Date.now,
    warn: (message) => warnings.push(message),
    warnings,
    ...overrides,
  };
}

describe('pure helpers', () => {
  it('statePaths puts every file of an app under <state-dir>/<app>', () => {
    expect(statePaths('/var/lib/agent-loop//', 'shop')).toEqual({
      dir: '/var/lib/agent-loop/shop',
      state: '/var/lib/agent-loop/shop/state.json',
      lock: '/var/lib/agent-loop/shop/lock',
      audit: '/var/lib/agent-loop/shop/audit.log',
      abort: '/var/lib/agent-loop/shop/abort',
      hold: '/var/lib/agent-loop/shop/hold',
    });
    expect(statePaths('state', 'a').dir).toBe('state/a');
  });

  it('otherColor swaps', () => {
    expect(otherColor('blue')).toBe('green');
    expect(otherColor('green')).toBe('blue');
  });

  it('withHistory appends, keeps the last HISTORY_LIMIT entries and stamps updatedAt', () => {
    let state = emptyState('shop', '2026-01-01T00:00:00Z');
    for (let index = 0; index < HISTORY_LIMIT + 5; index++) {
      state = withHistory(state, {
        time: `t${index}`,
        runId: `r${index}`,
        actor: 'a',
        action: 'deploy',
        color: 'blue',
        version: `${index}`,
        image: 'img',
        outcome: 'success',
      });
    }
    expect(state.history).toHaveLength(HISTORY_LIMIT);
    expect(state.history[0]?.version).toBe('5');
    expect(state.history.at(-1)?.version).toBe(String(HISTORY_LIMIT + 4));
    expect(state.updatedAt).toBe(`t${HISTORY_LIMIT + 4}`);
  });

  it('commands pass paths as separate words, never inside the script text', () => {
    const hostile = "/srv/x'; rm -rf / #/state.json";
    for (const argv of [
      commands.readFile(hostile),
      commands.writeFileAtomic(hostile),
      commands.appendLine(hostile),
      commands.acquireLock(hostile),
      commands.breakLock(hostile, 30),
      commands.takeOverLock(hostile),
    ]) {
      expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
      expect(argv[4]).toBe(hostile);
      expect(argv[2]).not.toContain('/srv/x');
    }
    expect(commands.releaseLock('/l', 'tok').slice(-2)).toEqual(['/l', 'tok']);
  });
});

describe('files on the host', () => {
  it('writes atomically: creates parent folders, replaces content by rename, leaves no temporary file', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'deep', 'er', 'state.json');
    await writeRemoteFile(remote, file, 'first\n');
    expect(await fs.readFile(file, 'utf8')).toBe('first\n');
    const before = (await fs.stat(file)).ino;
    await writeRemoteFile(remote, file, 'second, no newline');
    expect(await fs.readFile(file, 'utf8')).toBe('second, no newline');
    // A new inode: the content was renamed into place, not rewritten in the old file.
    expect((await fs.stat(file)).ino).not.toBe(before);
    expect(await fs.readdir(path.dirname(file))).toEqual(['state.json']);
  });

  it('reads a file back exactly, tells an absent file (or a folder) from an empty one', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'f.txt');
    expect(await readRemoteFile(remote, file)).toBeNull();
    expect(await readRemoteFile(remote, dir)).toBeNull();
    await writeRemoteFile(remote, file, '');
    expect(await readRemoteFile(remote, file)).toBe('');
    const content = 'absent\npresent\n  spaced  \n\n$(id) `id` ✓\n';
    await writeRemoteFile(remote, file, content);
    expect(await readRemoteFile(remote, file)).toBe(content);
  });

  it('handles paths with spaces and shell syntax literally', async () => {
    const dir = await freshDir();
    const file = path.join(dir, "sub dir $(touch pwned) 'q'", 'state.json');
    await writeRemoteFile(remote, file, 'ok');
    expect(await fs.readFile(file, 'utf8')).toBe('ok');
    expect(await exists(path.join(process.cwd(), 'pwned'))).toBe(false);
    expect(await readRemoteFile(remote, file)).toBe('ok');
  });

  it('fails with a HostError carrying the stderr when the write is impossible', async () => {
    const dir = await freshDir();
    await fs.writeFile(path.join(dir, 'plain-file'), 'x');
    const error = await writeRemoteFile(remote, path.join(dir, 'plain-file', 'state.json'), 'x').catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(HostError);
    expect((error as HostError).message).toMatch(
      /^test-host: writing .*state\.json failed \(exit 1\): .*(Not a directory|File exists)/,
    );
  });

  it('audit appends one JSON line per record', async () => {
    const paths = statePaths(await freshDir(), 'shop');
    await audit(remote, paths, { time: 't1', runId: 'r1', actor: 'alice', step: 'preflight', ok: true });
    await audit(remote, paths, { time: 't2', runId: 'r1', actor: 'alice', step: 'switch', detail: 'multi\nline' });
    const lines = (await fs.readFile(paths.audit, 'utf8')).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0] as string)).toEqual({
      time: 't1',
      runId: 'r1',
      actor: 'alice',
      step: 'preflight',
      ok: true,
    });
    expect(JSON.parse(lines[1] as string)).toMatchObject({ step: 'switch', detail: 'multi\nline' });
  });
});

describe('several files in one command', () => {
  const state = (note: string): AppState =>
    withHistory(emptyState('shop', '2026-01-01T00:00:00Z'), {
      time: '2026-01-01T00:00:01Z',
      runId: 'r',
      actor: 'alice',
      action: 'deploy',
      color: 'blue',
      version: note,
      image: 'img:1',
      outcome: 'success',
    });

  it('replaces the state by rename with mode 644 and appends the audit lines, leaving no temporary file', async () => {
    const paths = statePaths(await freshDir(), 'shop');
    await writeRemoteFile(remote, paths.audit, '{"step":"earlier"}\n');
    const before = await exists(paths.state);
    expect(before).toBe(false);
    expect(await writeStateAndAudit(remote, paths, state('1'), '{"step":"a"}\n{"step":"b \'$(id)\'"}\n')).toBeNull();
    expect(await readState(remote, paths, 'shop', 'now')).toEqual(state('1'));
    expect(((await fs.stat(paths.state)).mode & 0o777).toString(8)).toBe('644');
    expect(await fs.readFile(paths.audit, 'utf8')).toBe('{"step":"earlier"}\n{"step":"a"}\n{"step":"b \'$(id)\'"}\n');
    const inode = (await fs.stat(paths.state)).ino;
    await writeStateAndAudit(remote, paths, state('2'), '');
    expect((await fs.stat(paths.state)).ino).not.toBe(inode);
    expect((await readState(remote, paths, 'shop', 'now')).history.at(-1)?.version).toBe('2');
    expect((await fs.readdir(paths.dir)).sort()).toEqual(['audit.log', 'state.json']);
  });

  it('writes the state but reports (does not throw) an audit log it cannot append to: a planted link is never written through', async () => {
    const paths = statePaths(await freshDir(), 'shop');
    await fs.mkdir(paths.dir, { recursive: true });
    const target = path.join(paths.dir, 'elsewhere');
    await fs.writeFile(target, 'untouched\n');
    await fs.symlink(target, paths.audit);
    const warning = await writeStateAndAudit(remote, paths, state('1'), '{"step":"a"}\n');
    expect(warning).toMatch(
      /could not append to the audit log: .*audit\.log is a symbolic link: refusing to write through it/,
    );
    expect(await fs.readFile(target, 'utf8')).toBe('untouched\n');
    expect(await readState(remote, paths, 'shop', 'now')).toEqual(state('1'));
  });

  it('fails with a HostError, changing nothing, when the state cannot be written', async () => {
    const dir = await freshDir();
    await fs.writeFile(path.join(dir, 'shop'), 'a file where the app folder should be');
    const paths = statePaths(dir, 'shop');
    await expect(writeStateAndAudit(remote, paths, state('1'), '{"step":"a"}\n')).rejects.toThrow(
      /^test-host: writing .*state\.json failed \(exit 1\)/,
    );
    expect(await fs.readFile(path.join(dir, 'shop'), 'utf8')).toBe('a file where the app folder should be');
  });

  it('sends contents too large for one command on stdin instead', async () => {
    expect(
      commands.writeFiles([{ path: '/x/state.json', content: 'x'.repeat(64 * 1024 + 1), mode: '644' }]),
    ).toBeNull();
    const paths = statePaths(await freshDir(), 'shop');
    const big = { ...state('1'), history: state('1').history, releases: [] };
    const lines = `${'{"step":"padding"}\n'.repeat(4000)}`;
    expect(Buffer.byteLength(lines)).toBeGreaterThan(64 * 1024);
    expect(await writeStateAndAudit(remote, paths, big, lines)).toBeNull();
    expect(await readState(remote, paths, 'shop', 'now')).toEqual(big);
    expect(await fs.readFile(paths.audit, 'utf8')).toBe(lines);
  });
});

describe('state file', () => {
  it('reads an empty state when there is no file, and reads back what was written', async () => {
    const paths = statePaths(await freshDir(), 'shop');
    expect(await readState(remote, paths, 'shop', 'now')).toEqual(emptyState('shop', 'now'));
    const entry: HistoryEntry = {
      time: '2026-01-01T00:00:01Z',
      runId: 'r',
      actor: 'a',
      action: 'deploy',
      color: 'green',
      version: '2',
      image: 'img:2',
      outcome: 'success',
    };
    const state: AppState = withHistory(
      {
        ...emptyState('shop', '2026-01-01T00:00:00Z'),
        active: 'green',
        colors: {
          green: { image: 'img:2', version: '2', port: 8002, status: 'running', since: '2026-01-01T00:00:01Z' },
        },
      },
      entry,
    );
    await writeState(remote, paths, state);
    expect(await readState(remote, paths, 'shop', 'now')).toEqual(state);
  });

  it('never replaces a file with content that arrived short (a run killed while sending it)', async () => {
    const paths = statePaths(await freshDir(), 'shop');
    await writeRemoteFile(remote, paths.state, 'the whole old content\n');
    // What a killed client leaves: the command's input closed after part of the content.
    const short = await remote.run(commands.writeFileAtomic(paths.state, '644', 1000), {
      stdin: '{"schema": 2, "app": "sh',
    });
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('the content arrived incomplete (24 of 1000 bytes)');
    expect(await fs.readFile(paths.state, 'utf8')).toBe('the whole old content\n');
    expect((await fs.readdir(path.dirname(paths.state))).filter((name) => name.startsWith('.agent-loop'))).toEqual([]);
  });

  it('refuses to write a state the next run could not read, and keeps the file it had', async () => {
    const paths = statePaths(await freshDir(), 'shop');
    const good = withHistory(emptyState('shop', '2026-01-01T00:00:00Z'), {
      time: '2026-01-01T00:00:01Z',
      runId: 'r',
      actor: 'alice',
      action: 'deploy',
      color: 'blue',
      version: '1',
      image: 'img:1',
      outcome: 'success',
    });
    await writeState(remote, paths, good);
    const bad = withHistory(good, {
      time: '2026-01-01T00:00:02Z',
      runId: 'r',
      actor: 'alice (command line)',
      action: 'rollback',
      color: 'blue',
      version: '1',
      image: 'img:1',
      outcome: 'success',
    });
    await expect(writeState(remote, paths, bad)).rejects.toThrow(
      /refusing to write a state the next run could not read: it is not an agent-loop state file: history\.1\.actor: a user name/,
    );
    expect(await readState(remote, paths, 'shop', 'now')).toEqual(good);
  });

  it('refuses a state file that is not JSON or not a state file', async () => {
    const paths = statePaths(await freshDir(), 'shop');
    await writeRemoteFile(remote, paths.state, '{ not json');
    await expect(readState(remote, paths, 'shop', 'now')).rejects.toThrow(
      /state\.json is not valid JSON \(torn or edited by hand\); re-run with repair-state: true/,
    );
    await writeRemoteFile(remote, paths.state, JSON.stringify({ ...emptyState('shop', 'x'), schema: 3 }));
    await expect(readState(remote, paths, 'shop', 'now')).rejects.toThrow(HostError);
    await writeRemoteFile(remote, paths.state, JSON.stringify({ ...emptyState('shop', 'x'), active: 'red' }));
    await expect(readState(remote, paths, 'shop', 'now')).rejects.toThrow(/is not an agent-loop state file/);
  });
});

describe('the deploy lock', () => {
  it('lets exactly one of two concurrent runs take it; the other learns who holds it', async () => {
    const paths = statePaths(await freshDir(), 'shop');
    const alice = owner('alice');
    const bob = owner('bob');
    const results = await Promise.allSettled([
      acquireLock(remote, paths, alice, lockOptions()),
      acquireLock(remote, paths, bob, lockOptions()),
    ]);
    const won = results.filter((result) => result.status === 'fulfilled');
    const lost = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const holder = JSON.parse(await fs.readFile(path.join(paths.lock, 'owner.json'), 'utf8')) as LockOwner;
    const error = lost[0]?.reason as LockHeld;
    expect(error).toBeInstanceOf(LockHeld);
    expect(error.stale).toBe(false);
    expect(error.owner).toEqual(holder);
    expect(error.message).toContain(
      `test-host: another deploy holds the lock: run ${holder.runId} by ${holder.actor} (deploy of 1.2.3`,
    );
    expect([alice.runId, bob.runId]).toContain(holder.runId);
  });

  it('is released only by its owner token', async () => {
    const paths = statePaths(await freshDir(), 'shop');
    const alice = owner('alice');
    const release = await acquireLock(remote, paths, alice, lockOptions());
    const stranger = await remote.run(commands.releaseLock(paths.lock, 'token-of-someone-else'));
    expect(stranger.code).toBe(0);
    expect(await exists(paths.lock)).toBe(true);
    await expect(acquireLock(remote, paths, owner('bob'), lockOptions())).rejects.toThrow(LockHeld);
    await release();
    expect(await exists(paths.lock)).toBe(false);
    const bobRelease = await acquireLock(remote, paths, owner('bob'), lockOptions());
    // Alice's release function, called again, must not remove Bob's lock.
    await release();
    expect(await exists(paths.lock)).toBe(true);
    await bobRelease();
    expect(await exists(paths.lock)).toBe(false);
  });

  it('reports a stale lock and breaks it only when asked', async () => {
    const paths = statePaths(await freshDir(), 'shop');
    const alice = owner('alice');
    await acquireLock(remote, paths, alice, lockOptions());
    execFileSync('touch', ['-d', '2 hours ago', paths.lock]);

    const error = (await acquireLock(remote, paths, owner('bob'), lockOptions({ waitSeconds: 30 })).catch(
      (caught: unknown) => caught,
    )) as LockHeld;
    expect(error).toBeInstanceOf(LockHeld);
    expect(error.stale).toBe(true);
    expect(error.ageSeconds).toBeGreaterThanOrEqual(7200);
    expect(error.ageSeconds).toBeLessThan(7300);
    expect(error.message).toContain(
      `a stale lock from run run-alice by actor-alice (deploy of 1.2.3, since 2026-01-01T00:00:00Z) is in the way: no sign of life for ${error.ageSeconds} s`,
    );
    expect(error.message).toContain('break-stale-lock: true');
    expect(JSON.parse(await fs.readFile(path.join(paths.lock, 'owner.json'), 'utf8'))).toMatchObject({
      runId: 'run-alice',
    });

    // Not yet stale by a 3-hour limit: held, not broken.
    await expect(
      acquireLock(remote, paths, owner('bob'), lockOptions({ staleSeconds: 3 * 3600, breakStale: true })),
    ).rejects.toMatchObject({ stale: false });

    const options = lockOptions({ breakStale: true });
    const bob = owner('bob');
    const release = await acquireLock(remote, paths, bob, options);
    expect(options.warnings).toEqual([
      expect.stringMatching(
        /^test-host: breaking a stale lock \(no sign of life for 72\d\d s\) held by run run-alice$/,
      ),
    ]);
    expect(JSON.parse(await fs.readFile(path.join(paths.lock, 'owner.json'), 'utf8'))).toEqual(bob);
    expect((await fs.readdir(paths.dir)).filter((name) => name.includes('broken'))).toEqual([]);
    await release();
  });

  it('never counts a lock as stale when its age cannot be read', async () => {
    // A host whose `stat` cannot date the lock (or a lock that vanished between mkdir and stat).
    const dir = await freshDir();
    const bin = path.join(dir, 'bin');
    await fs.mkdir(bin);
    await fs.writeFile(path.join(bin, 'stat'), '#!/bin/sh\necho "stat: cannot stat" >&2\nexit 1\n', { mode: 0o755 });
    const noStat = localRemote('no-stat-host', { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` });
    const paths = statePaths(dir, 'shop');
    const release = await acquireLock(noStat, paths, owner('alice'), lockOptions());
    const error = (await acquireLock(noStat, paths, owner('bob'), lockOptions({ breakStale: true })).catch(
      (caught: unknown) => caught,
    )) as LockHeld;
    expect(error).toBeInstanceOf(LockHeld);
    expect(error.stale).toBe(false);
    expect(error.ageSeconds).toBeLessThan(5);
    expect(JSON.parse(await fs.readFile(path.join(paths.lock, 'owner.json'), 'utf8'))).toMatchObject({
      runId: 'run-alice',
    });
    await release();
  });

  it('waits for a holder that releases within lock-wait-seconds', async () => {
    const paths = statePaths(await freshDir(), 'shop');
    const releaseAlice = await acquireLock(remote, paths, owner('alice'), lockOptions());
    const started = Date.now();
    setTimeout(() => void releaseAlice(), 300);
    const bob = owner('bob');
    // Real time, in short naps: the wait must notice the release, not a fixed delay.
    const nap = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.min(ms, 50)));
    const releaseBob = await acquireLock(remote, paths, bob, lockOptions({ waitSeconds: 10, sleep: nap }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(JSON.parse(await fs.readFile(path.join(paths.lock, 'owner.json'), 'utf8'))).toEqual(bob);
    await releaseBob();
  });

  it('gives up with LockHeld once the wait is over, having slept in between', async () => {
    const paths = statePaths(await freshDir(), 'shop');
    const releaseAlice = await acquireLock(remote, paths, owner('alice'), lockOptions());
    let clock = 1_000_000;
    const sleeps: number[] = [];
    const options = lockOptions({
      waitSeconds: 5,
      now: () => clock,
      sleep: async (ms) => void (sleeps.push(ms), (clock += ms)),
    });
    const error = await acquireLock(remote, paths, owner('bob'), options).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LockHeld);
    expect((error as LockHeld).stale).toBe(false);
    expect(sleeps).toEqual([2000, 2000, 1000]);
    await releaseAlice();
  });

  it('fails with a HostError when the lock folder cannot be made', async () => {
    const dir = await freshDir();
    await fs.writeFile(path.join(dir, 'file'), 'x');
    const paths = statePaths(path.join(dir, 'file'), 'shop');
    await expect(acquireLock(remote, paths, owner('alice'), lockOptions())).rejects.toThrow(
      /^test-host: could not take the lock in .*file\/shop\/lock/,
    );
  });

  it("reports an empty lock folder (an operator's mkdir lock) naming take-over-lock, never as stale; takes it over only when asked", async () => {
    const paths = statePaths(await freshDir(), 'shop');
    await fs.mkdir(paths.lock, { recursive: true });
    execFileSync('touch', ['-d', '2 hours ago', paths.lock]);
    // Even hours old and with break-stale-lock: an ownerless lock is a stop sign, not a dead run.
    const options = lockOptions({ breakStale: true, staleSeconds: 30 });
    const error = (await acquireLock(remote, paths, owner('bob'), options).catch(
      (caught: unknown) => caught,
    )) as LockHeld;
    expect(error).toBeInstanceOf(LockHeld);
    expect(error.owner).toBeNull();
    expect(error.stale).toBe(false);
    expect(error.message).toBe(
      'test-host: the lock is a folder with no owner file (made by hand to stop deploys, or left by an old version); ' +
        'it never goes stale: remove it when deploys may go on, or re-run with take-over-lock: true to take it over',
    );
    expect(options.warnings).toEqual([]);
    expect(await fs.readdir(paths.lock)).toEqual([]);

    const bob = owner('bob');
    const takeOver = lockOptions({ takeOver: true });
    const release = await acquireLock(remote, paths, bob, takeOver);
    expect(takeOver.warnings).toEqual(['test-host: taking over a lock with no owner file (take-over-lock: true)']);
    // The owner file came with the lock in one rename: there is never a lock without one.
    expect(JSON.parse(await fs.readFile(path.join(paths.lock, 'owner.json'), 'utf8'))).toEqual(bob);
    expect((await fs.readdir(paths.dir)).filter((name) => name.startsWith('.'))).toEqual([]);
    await release();
    expect(await exists(paths.lock)).toBe(false);
  });

  it("take-over-lock takes over only a lock without an owner: a live owner's lock stays held", async () => {
    const paths = statePaths(await freshDir(), 'shop');
    const release = await acquireLock(remote, paths, owner('alice'), lockOptions());
    const options = lockOptions({ takeOver: true });
    await expect(acquireLock(remote, paths, owner('bob'), options)).rejects.toThrow(
      /another deploy holds the lock: run run-alice/,
    );
    expect(options.warnings).toEqual([]);
    await release();
  });

  it("a lock file (not a folder) in the lock's place is reported as ownerless, not retried for ever", async () => {
    const paths = statePaths(await freshDir(), 'shop');
    await fs.mkdir(paths.dir, { recursive: true });
    await fs.writeFile(paths.lock, 'stop\n');
    await expect(acquireLock(remote, paths, owner('bob'), lockOptions())).rejects.toThrow(
      /no owner file .*take-over-lock: true/,
    );
    const release = await acquireLock(remote, paths, owner('bob'), lockOptions({ takeOver: true }));
    expect((await fs.stat(paths.lock)).isDirectory()).toBe(true);
    await release();
  });

  it('names the job that holds a lock, when the owner says', async () => {
    const paths = statePaths(await freshDir(), 'shop');
    const release = await acquireLock(
      remote,
      paths,
      { ...owner('alice'), job: 'deploy-eu', jobToken: 'a1b2c3d4e5f60718' },
      lockOptions(),
    );
    await expect(acquireLock(remote, paths, owner('bob'), lockOptions())).rejects.toThrow(
      /another deploy holds the lock: run run-alice by actor-alice \(deploy of 1\.2\.3, since 2026-01-01T00:00:00Z, job deploy-eu\), alive/,
    );
    await release();
  });
});
