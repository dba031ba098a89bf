import { describe, expect, it } from 'vitest';
import { planRollback } from '../src/rollback';
import { emptyState, parseState, rollbackCandidates, type AppState } from '../src/hosts';
import type { ReleaseRecord } from '../src/domain';
import { migrateState } from '../src/hosts/state-changes';
import { forLog } from '../src/action/surfaces';

const T = (minute: number) => `2026-05-01T10:${String(minute).padStart(2, '0')}:00.000Z`;

function release(
  id: string,
  version: string,
  color: 'blue' | 'green',
  minute: number,
  status: ReleaseRecord['status'],
  extra: Partial<ReleaseRecord> = {},
): ReleaseRecord {
  return {
    id,
    version,
    image: `registry.example/app:${version}`,
    color,
    runId: `run-${id}`,
    deployedAt: T(minute),
    status,
    servedAt: ['live', 'superseded', 'rolled-back'].includes(status) ? T(minute + 1) : null,
    restoredAt: null,
    endedAt: null,
    note: '',
    ...extra,
  };
}

function running(version: string, port: number, status: 'running' | 'stopped' = 'running') {
  return { image: `registry.example/app:${version}`, version, port, status, since: T(0) };
}

const all = { blue: 100, green: 0 };
const allGreen = { blue: 0, green: 100 };

describe('what `target: previous` means', () => {
  // v1 on blue, then v2 promoted on green (blue stopped).
  const promoted: AppState = {
    ...emptyState('shop', T(0)),
    active: 'green',
    colors: { blue: running('v1', 8001, 'stopped'), green: running('v2', 8002) },
    releases: [release('r1', 'v1', 'blue', 1, 'superseded'), release('r2', 'v2', 'green', 5, 'live')],
  };

  it('after a promote: the release before it, started again from its image', () => {
    const plan = planRollback(promoted, allGreen, { kind: 'previous' }, 'h1');
    expect(plan).toMatchObject({ target: 'blue', failed: 'green', version: 'v1', start: true, noop: false });
    expect(plan.rejected?.version).toBe('v2');
  });

  it('after a deploy that failed its checks (traffic never moved): the release before the live one, never the failed build', () => {
    // Finding: the failed v3 sat on blue, and `previous` was read from whatever ran there.
    const failed: AppState = {
      ...promoted,
      colors: { blue: running('v3', 8001), green: running('v2', 8002) },
      releases: [...promoted.releases, release('r3', 'v3', 'blue', 9, 'failed')],
    };
    const plan = planRollback(failed, allGreen, { kind: 'previous' }, 'h1');
    expect(plan).toMatchObject({ target: 'blue', failed: 'green', version: 'v1', start: true, noop: false });
    expect(plan.why).toBe('skipping v3 (failed), which never served or were rejected');
    // And a cancelled deploy is the same.
    const cancelled = { ...failed, releases: [...promoted.releases, release('r3', 'v3', 'blue', 9, 'cancelled')] };
    expect(planRollback(cancelled, allGreen, { kind: 'previous' }, 'h1')).toMatchObject({
      version: 'v1',
      target: 'blue',
    });
  });

  it('is idempotent: once a rollback put v1 back, another rollback does nothing', () => {
    const rolledBack: AppState = {
      ...promoted,
      active: 'blue',
      colors: { blue: running('v1', 8001), green: running('v2', 8002, 'stopped') },
      releases: [
        release('r1', 'v1', 'blue', 1, 'live', { restoredAt: T(20) }),
        release('r2', 'v2', 'green', 5, 'rolled-back'),
      ],
    };
    const plan = planRollback(rolledBack, all, { kind: 'previous' }, 'h1');
    expect(plan).toMatchObject({ noop: true, version: 'v1' });
    expect(plan.why).toMatch(/put back by a rollback/);
  });

  it('after the monitor rejected canary v3, a manual rollback does not bring v3 back', () => {
    const afterMonitor: AppState = {
      ...promoted,
      colors: { blue: running('v3', 8001, 'stopped'), green: running('v2', 8002) },
      releases: [
        ...promoted.releases.map((r) => (r.id === 'r2' ? { ...r, restoredAt: T(30) } : r)),
        release('r3', 'v3', 'blue', 25, 'rejected'),
      ],
    };
    const plan = planRollback(afterMonitor, allGreen, { kind: 'previous' }, 'h1');
    expect(plan).toMatchObject({ noop: true, version: 'v2' });
  });

  it('during a canary: the stable color, at once, and the canary is the one rejected', () => {
    const canary: AppState = {
      ...promoted,
      colors: { blue: running('v3', 8001), green: running('v2', 8002) },
      canary: {
        color: 'blue',
        version: 'v3',
        image: 'registry.example/app:v3',
        percent: 10,
        since: T(12),
        runId: 'run-r3',
        release: 'r3',
      },
      releases: [...promoted.releases, release('r3', 'v3', 'blue', 11, 'canary')],
    };
    const plan = planRollback(canary, { blue: 10, green: 90 }, { kind: 'previous' }, 'h1');
    expect(plan).toMatchObject({ target: 'green', failed: 'blue', version: 'v2', start: false, noop: false });
    expect(plan.rejected?.id).toBe('r3');
  });

  it('never goes to a rejected release implicitly; names what one can choose when there is nothing good', () => {
    const onlyBad: AppState = {
      ...promoted,
      releases: [
        release('r1', 'v1', 'blue', 1, 'rejected', { servedAt: T(2) }),
        release('r2', 'v2', 'green', 5, 'live'),
      ],
    };
    expect(() => planRollback(onlyBad, allGreen, { kind: 'previous' }, 'h1')).toThrow(
      /no earlier good release to roll back to \(v2 serves\); releases known: v2 \(live\), v1 \(rejected\)\. Name one with target-version/,
    );
  });

  it('a rejected version can still be named, with a warning', () => {
    const withRejected: AppState = {
      ...promoted,
      releases: [...promoted.releases, release('r3', 'v3', 'blue', 25, 'rejected', { note: 'error rate 20%' })],
    };
    const plan = planRollback(withRejected, allGreen, { kind: 'version', version: 'v3' }, 'h1');
    expect(plan).toMatchObject({ target: 'blue', version: 'v3', start: true });
    expect(plan.warning).toMatch(/v3 was rejected \(error rate 20%\); rolling back to it because it was named/);
  });

  it('lists the versions one can roll back to, newest first, one per version', () => {
    const state: AppState = {
      ...promoted,
      releases: [
        ...promoted.releases,
        release('r3', 'v3', 'blue', 25, 'rejected'),
        release('r4', 'v2', 'blue', 30, 'failed'),
      ],
    };
    expect(rollbackCandidates(state).map((r) => `${r.version}:${r.status}`)).toEqual([
      'v2:failed',
      'v3:rejected',
      'v1:superseded',
    ]);
  });
});

describe('a state written by the previous version (schema 1)', () => {
  it('gets its releases from the history, so `previous` means the same after an upgrade', () => {
    const old = {
      schema: 1,
      app: 'shop',
      active: 'green',
      colors: { blue: running('v3', 8001), green: running('v2', 8002) },
      canary: null,
      history: [
        {
          time: T(1),
          runId: 'a',
          actor: 'x',
          action: 'deploy',
          color: 'blue',
          version: 'v1',
          image: 'registry.example/app:v1',
          outcome: 'success',
        },
        {
          time: T(5),
          runId: 'b',
          actor: 'x',
          action: 'deploy',
          color: 'green',
          version: 'v2',
          image: 'registry.example/app:v2',
          outcome: 'success',
        },
        {
          time: T(6),
          runId: 'b',
          actor: 'x',
          action: 'promote',
          color: 'green',
          version: 'v2',
          image: 'registry.example/app:v2',
          outcome: 'success',
        },
        {
          time: T(9),
          runId: 'c',
          actor: 'x',
          action: 'deploy',
          color: 'blue',
          version: 'v3',
          image: 'registry.example/app:v3',
          outcome: 'failed',
        },
      ],
      updatedAt: T(9),
    };
    const parsed = parseState(JSON.stringify(old), 'shop');
    if (!parsed.ok) throw new Error(parsed.problem);
    expect(parsed.state.releases.map((r) => `${r.version}:${r.status}`)).toEqual([
      'v1:superseded',
      'v2:live',
      'v3:failed',
    ]);
    expect(planRollback(parsed.state, allGreen, { kind: 'previous' }, 'h1')).toMatchObject({
      noop: false,
      version: 'v1',
      target: 'blue',
    });
    expect(migrateState(parsed.state)).toBe(parsed.state);
  });
});

describe('text read from a host is data', () => {
  it('refuses a state whose version carries a workflow command, naming the field', () => {
    const hostile = {
      ...emptyState('shop', T(0)),
      active: 'blue',
      colors: { blue: { ...running('v1', 8001), version: 'v1\n::add-mask::x' } },
    };
    const parsed = parseState(JSON.stringify(hostile), 'shop');
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.problem).toMatch(/colors\.blue\.version: a version label/);
  });

  it('forLog: no line the runner would run as a command, no control character', () => {
    const text =
      'ok\n::warning::owned\n  ::add-mask::secret\n::stop-commands::tok\n##[set-output name=x]y\n\x1b[31mred\x1b[0m\r::set-output name=a::b';
    const safe = forLog(text);
    for (const line of safe.split('\n')) {
      expect(line.trimStart().startsWith('::')).toBe(false);
      expect(line.trimStart().startsWith('##[')).toBe(false);
    }
    // eslint-disable-next-line no-control-regex
    expect(safe).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(safe).toContain('\\x1b[31mred');
    expect(safe.split('\n')).toHaveLength(7);
  });
});
