// strategy.matrix expanded with GitHub's rules: the product of the keys, minus `exclude` (partial
// match), then each `include` entry added to every combination it does not overwrite an original
// value of, or appended as a combination of its own when it fits none.

export type Combination = Record<string, unknown>;

export interface Strategy {
  combinations: Combination[];
  failFast: boolean;
  maxParallel: number;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function product(matrix: Record<string, unknown>): Combination[] {
  let combinations: Combination[] = [{}];
  for (const [key, values] of Object.entries(matrix)) {
    if (key === 'include' || key === 'exclude') continue;
    const list = Array.isArray(values) ? values : [values];
    combinations = combinations.flatMap((combination) => list.map((value) => ({ ...combination, [key]: value })));
  }
  return Object.keys(matrix).some((key) => key !== 'include' && key !== 'exclude') ? combinations : [];
}

/** Include entries extend only the product's combinations; one that fits none stands alone. */
function applyInclude(originals: Combination[], include: Combination[]): Combination[] {
  const result = originals.map((combination) => ({ ...combination }));
  const added: Combination[] = [];
  for (const entry of include) {
    let fitted = false;
    result.forEach((combination, index) => {
      const original = originals[index]!;
      const overwrites = Object.entries(entry).some(([key, value]) => key in original && !same(original[key], value));
      if (overwrites) return;
      Object.assign(combination, entry);
      fitted = true;
    });
    if (!fitted) added.push({ ...entry });
  }
  return [...result, ...added];
}

export function expandStrategy(strategy: Record<string, unknown> | undefined): Strategy {
  const matrix = (strategy?.matrix ?? undefined) as Record<string, unknown> | undefined;
  const failFast = strategy?.['fail-fast'] === undefined ? true : Boolean(strategy['fail-fast']);
  const maxParallel = Number(strategy?.['max-parallel'] ?? 0);
  if (!matrix) return { combinations: [{}], failFast, maxParallel };
  const exclude = (matrix.exclude ?? []) as Combination[];
  const kept = product(matrix).filter(
    (combination) =>
      !exclude.some((entry) => Object.entries(entry).every(([key, value]) => same(combination[key], value))),
  );
  const combinations = applyInclude(kept, (matrix.include ?? []) as Combination[]);
  return { combinations: combinations.length > 0 ? combinations : [{}], failFast, maxParallel };
}

/** GitHub's name for a matrix leg: `id (value, value)`. */
export function legName(base: string, combination: Combination): string {
  const values = Object.values(combination).map((value) =>
    typeof value === 'object' ? JSON.stringify(value) : String(value),
  );
  return values.length > 0 ? `${base} (${values.join(', ')})` : base;
}
