import { describe, expect, it } from 'vitest';
import { mapLimit, settleLimit } from '../src/action';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs tasks of varied length and measures how many ran at once. */
function tracked() {
  let running = 0;
  let maxRunning = 0;
  const started: number[] = [];
  const task = async (item: number, index: number): Promise<string> => {
    started.push(index);
    running += 1;
    maxRunning = Math.max(maxRunning, running);
    await pause((item * 7) % 13);
    running -= 1;
    return `result-${item}`;
  };
  return { task, started, maxRunning: () => maxRunning, running: () => running };
}

describe('mapLimit', () => {
  it.each([1, 3, 10])('runs at most %i at once, uses all of them, and keeps the input order', async (limit) => {
    const items = Array.from({ length: 10 }, (_, index) => index + 1);
    const run = tracked();
    const results = await mapLimit(items, limit, run.task);
    expect(results).toEqual(items.map((item) => `result-${item}`));
    expect(run.maxRunning()).toBe(limit);
    expect(run.running()).toBe(0);
    expect(run.started).toEqual(items.map((_, index) => index));
  });

  it('runs one at a time for a limit below 1, and handles no items', async () => {
    const run = tracked();
    expect(await mapLimit([5, 6, 7], 0, run.task)).toEqual(['result-5', 'result-6', 'result-7']);
    expect(run.maxRunning()).toBe(1);
    expect(await mapLimit([], 4, run.task)).toEqual([]);
  });

  it('rejects with the error of a failing task', async () => {
    await expect(
      mapLimit([1, 2, 3], 2, async (item) => {
        if (item === 2) throw new Error('item 2 failed');
        return item;
      }),
    ).rejects.toThrow('item 2 failed');
  });
});

describe('settleLimit', () => {
  it('never rejects: every item gets its own outcome, in order, within the limit', async () => {
    const run = tracked();
    const failure = new Error('odd');
    const results = await settleLimit([1, 2, 3, 4, 5, 6], 2, async (item, index) => {
      const value = await run.task(item, index);
      if (item % 2 === 1) throw failure;
      return value;
    });
    expect(results).toEqual([
      { ok: false, error: failure },
      { ok: true, value: 'result-2' },
      { ok: false, error: failure },
      { ok: true, value: 'result-4' },
      { ok: false, error: failure },
      { ok: true, value: 'result-6' },
    ]);
    expect(run.maxRunning()).toBe(2);
  });

  it('keeps a thrown non-Error value as it is', async () => {
    expect(await settleLimit(['x'], 1, () => Promise.reject('plain string'))).toEqual([
      { ok: false, error: 'plain string' },
    ]);
  });
});
