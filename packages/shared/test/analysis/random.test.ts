import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/analysis';

describe('SeededRandom', () => {
  it('repeats a stream for a seed and differs between seeds', () => {
    const first = Array.from(
      { length: 5 },
      (
        (random) => () =>
          random.uint32()
      )(new SeededRandom(42)),
    );
    const again = Array.from(
      { length: 5 },
      (
        (random) => () =>
          random.uint32()
      )(new SeededRandom(42)),
    );
    const other = Array.from(
      { length: 5 },
      (
        (random) => () =>
          random.uint32()
      )(new SeededRandom(43)),
    );
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
  });

  it('draws uniforms in [0, 1) with the right mean', () => {
    const random = new SeededRandom(1);
    let sum = 0;
    let outside = 0;
    for (let index = 0; index < 100_000; index++) {
      const value = random.next();
      if (value < 0 || value >= 1) outside++;
      sum += value;
    }
    expect(outside).toBe(0);
    expect(sum / 100_000).toBeCloseTo(0.5, 2);
  });

  it('draws Poisson counts with the right mean and variance', () => {
    const random = new SeededRandom(2);
    for (const mean of [0.8, 4.2, 37.5, 120]) {
      const draws = Array.from({ length: 50_000 }, () => random.poisson(mean));
      const average = draws.reduce((a, b) => a + b, 0) / draws.length;
      const variance = draws.reduce((a, b) => a + (b - average) ** 2, 0) / draws.length;
      expect(Math.abs(average - mean) / mean).toBeLessThan(0.02);
      expect(Math.abs(variance - mean) / mean).toBeLessThan(0.05);
    }
  });
});
