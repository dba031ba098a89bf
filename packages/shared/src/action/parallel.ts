/** Runs `task` for every item with at most `limit` running at once; keeps the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  });
  await Promise.all(workers);
  return results;
}

export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

/** Like mapLimit, but never rejects: every item gets its own outcome. */
export function settleLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<Settled<R>[]> {
  return mapLimit(items, limit, async (item, index) => {
    try {
      return { ok: true as const, value: await task(item, index) };
    } catch (error) {
      return { ok: false as const, error };
    }
  });
}
