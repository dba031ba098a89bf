import { describe, expect, it } from 'vitest';
import { binomialUpperTail } from '../../src/analysis';
import { alternativeRate, regularizedBeta, sprtBoundaries, sprtDecision } from '../../src/analysis/sprt';

describe('sprtBoundaries', () => {
  it('are ln((1-β)/α) and ln(β/(1-α))', () => {
    // α = β = 0.01: ln(0.99/0.01) = ln 99 = 4.59512, and its negative.
    expect(sprtBoundaries(0.01, 0.01).upper).toBeCloseTo(4.59512, 5);
    expect(sprtBoundaries(0.01, 0.01).lower).toBeCloseTo(-4.59512, 5);
    // α = 0.05, β = 0.2: ln(0.8/0.05) = ln 16 = 2.77259; ln(0.2/0.95) = -1.55814.
    expect(sprtBoundaries(0.05, 0.2).upper).toBeCloseTo(2.77259, 5);
    expect(sprtBoundaries(0.05, 0.2).lower).toBeCloseTo(-1.55814, 5);
  });
});

describe('sprtDecision', () => {
  const base = { p0: 0.01, p1: 0.1, alpha: 0.01, beta: 0.01 };

  it('computes the log-likelihood ratio by hand', () => {
    // 3 failures: 3 ln 10 = 6.90776; 17 successes: 17 ln(0.9/0.99) = -1.62027 → 5.28749.
    const result = sprtDecision({ ...base, failures: 3, trials: 20 });
    expect(result.llr).toBeCloseTo(5.28749, 4);
    expect(result.decision).toBe('fail');
  });

  it('does not fail before the minimum number of failures', () => {
    // 2 failures in 2 trials: 2 ln 10 = 4.60517 ≥ 4.59512, but only 2 failures.
    expect(sprtDecision({ ...base, failures: 2, trials: 2 }).llr).toBeCloseTo(4.60517, 5);
    expect(sprtDecision({ ...base, failures: 2, trials: 2 }).decision).toBe('fail');
    expect(sprtDecision({ ...base, failures: 2, trials: 2, minFailures: 3 }).decision).toBe('continue');
    expect(sprtDecision({ ...base, failures: 3, trials: 20, minFailures: 4 }).decision).toBe('continue');
  });

  it('stops on either boundary and continues between them', () => {
    // 3 failures need at most 27 trials: 6.90776 - 24 · 0.09531 = 4.6203 ≥ 4.59512, but 28 gives 4.5250.
    expect(sprtDecision({ ...base, failures: 3, trials: 27 }).decision).toBe('fail');
    expect(sprtDecision({ ...base, failures: 3, trials: 28 }).decision).toBe('continue');
    // No failures: 48 · -0.09531 = -4.5749 (continue), 49 → -4.6702 (pass).
    expect(sprtDecision({ ...base, failures: 0, trials: 48 }).decision).toBe('continue');
    expect(sprtDecision({ ...base, failures: 0, trials: 49 }).decision).toBe('pass');
  });

  it('accepts fractional counts from a histogram bucket', () => {
    const whole = sprtDecision({ ...base, failures: 3, trials: 20 }).llr;
    const half = sprtDecision({ ...base, failures: 3.5, trials: 20 }).llr;
    expect(half).toBeCloseTo(whole + 0.5 * (Math.log(10) - Math.log(0.9 / 0.99)), 10);
  });

  it('continues when the hypotheses cannot be told apart', () => {
    expect(sprtDecision({ ...base, p1: 0.01, failures: 10, trials: 10 })).toMatchObject({
      decision: 'continue',
      llr: 0,
    });
    expect(sprtDecision({ ...base, failures: 0, trials: 0 }).decision).toBe('continue');
  });
});

describe('alternativeRate', () => {
  it('multiplies p0 and stays below 1', () => {
    expect(alternativeRate(0.01, 10)).toBeCloseTo(0.1, 12);
    expect(alternativeRate(0.05, 4)).toBeCloseTo(0.2, 12);
    expect(alternativeRate(0.5, 10)).toBe(0.75);
  });
});

describe('binomialUpperTail', () => {
  it('matches hand-computed binomial tails', () => {
    // P(X ≥ 3 | n = 10, p = 0.1) = 1 - (0.9^10 + 10·0.1·0.9^9 + 45·0.01·0.9^8) = 0.0701908
    expect(binomialUpperTail(3, 10, 0.1)).toBeCloseTo(0.0701908, 6);
    // P(X ≥ 1 | n = 250, p = 0.01) = 1 - 0.99^250
    expect(binomialUpperTail(1, 250, 0.01)).toBeCloseTo(1 - 0.99 ** 250, 10);
    // P(X ≥ 10 | n = 10, p = 0.5) = 2^-10
    expect(binomialUpperTail(10, 10, 0.5)).toBeCloseTo(1 / 1024, 12);
  });

  it('handles the edges', () => {
    expect(binomialUpperTail(0, 10, 0.1)).toBe(1);
    expect(binomialUpperTail(11, 10, 0.1)).toBe(0);
    expect(binomialUpperTail(2, 10, 0)).toBe(0);
  });

  it('is continuous and decreasing in the failures', () => {
    const two = binomialUpperTail(2, 100, 0.01);
    const between = binomialUpperTail(2.5, 100, 0.01);
    const three = binomialUpperTail(3, 100, 0.01);
    expect(two).toBeGreaterThan(between);
    expect(between).toBeGreaterThan(three);
  });

  it('uses a symmetric incomplete beta', () => {
    expect(regularizedBeta(0.3, 2, 5) + regularizedBeta(0.7, 5, 2)).toBeCloseTo(1, 12);
    // I_0.5(1, 1) = 0.5 (uniform)
    expect(regularizedBeta(0.5, 1, 1)).toBeCloseTo(0.5, 12);
  });
});
