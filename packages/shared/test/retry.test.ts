import { describe, expect, it } from 'vitest';
import { retry, type Clock } from '../src/action';

/** A clock whose sleep returns at once and remembers how long it was asked to sleep. */
function fakeClock(): Clock & { sleeps: number[] } {
  const sleeps: number[] = [];
  let now = 0;
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

/** A task that fails `failures` times, then returns the attempt number. */
function failing(
  failures: number,
  error: (attempt: number) => unknown = (attempt) => new Error(`attempt ${attempt} failed`),
) {
  const attempts: number[] = [];
  const task = async (attempt: number): Promise<number> => {
    attempts.push(attempt);
    if (attempts.length <= failures) throw error(attempt);
    return attempt;
  };
  return { task, attempts };
}

describe('retry', () => {
  it('returns the first success without sleeping', async () => {
    const clock = fakeClock();
    const { task, attempts } = failing(0);
    expect(await retry(task, { attempts: 3, delayMs: 100, clock })).toBe(1);
    expect(attempts).toEqual([1]);
    expect(clock.sleeps).toEqual([]);
  });

  it('tries again with a growing delay until a try succeeds', async () => {
    const clock = fakeClock();
    const retried: Array<[string, number]> = [];
    const { task, attempts } = failing(2);
    const result = await retry(task, {
      attempts: 5,
      delayMs: 100,
      clock,
      onRetry: (error, attempt) => retried.push([(error as Error).message, attempt]),
    });
    expect(result).toBe(3);
    expect(attempts).toEqual([1, 2, 3]);
    expect(clock.sleeps).toEqual([100, 200]);
    expect(retried).toEqual([
      ['attempt 1 failed', 1],
      ['attempt 2 failed', 2],
    ]);
  });

  it('throws the last error after the last attempt, without a final sleep', async () => {
    const clock = fakeClock();
    const { task, attempts } = failing(10);
    await expect(retry(task, { attempts: 3, delayMs: 50, clock })).rejects.toThrow('attempt 3 failed');
    expect(attempts).toEqual([1, 2, 3]);
    expect(clock.sleeps).toEqual([50, 100]);
  });

  it('stops at once on an error that is not retryable', async () => {
    const clock = fakeClock();
    const { task, attempts } = failing(
      10,
      (attempt) => new Error(attempt === 2 ? 'authentication failed' : 'connection reset'),
    );
    const retryable = (error: unknown) => !/authentication/.test((error as Error).message);
    await expect(retry(task, { attempts: 5, delayMs: 10, clock, retryable })).rejects.toThrow('authentication failed');
    expect(attempts).toEqual([1, 2]);
    expect(clock.sleeps).toEqual([10]);
  });

  it('makes one attempt when attempts is 1', async () => {
    const clock = fakeClock();
    const { task, attempts } = failing(1);
    await expect(retry(task, { attempts: 1, delayMs: 10, clock })).rejects.toThrow('attempt 1 failed');
    expect(attempts).toEqual([1]);
    expect(clock.sleeps).toEqual([]);
  });

  it('rethrows a non-Error value as it is', async () => {
    const { task } = failing(5, () => 'plain');
    await expect(retry(task, { attempts: 2, delayMs: 0, clock: fakeClock() })).rejects.toBe('plain');
  });
});
