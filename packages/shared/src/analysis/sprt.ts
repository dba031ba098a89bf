/**
 * Tests on Bernoulli counts (errors among requests, slow requests among requests).
 *
 * Wald's sequential probability ratio test weighs H0 "rate ≤ p0" against H1 "rate ≥ p1" after every
 * sample, with the log-likelihood ratio of everything seen so far:
 *
 *   llr = failures · ln(p1/p0) + (trials − failures) · ln((1 − p1)/(1 − p0))
 *
 * and stops at ln((1 − β)/α) (fail: the canary is bad) or ln(β/(1 − α)) (pass). The analysis only
 * acts on `fail`: it keeps the test running after a `pass`, and by Ville's inequality the chance
 * that a canary at exactly p0 ever reaches the upper boundary stays below α/(1 − β), however long
 * the test runs. A minimum number of failures guards against two unlucky errors early on.
 *
 * At the end of a window, `binomialUpperTail` gives the exact one-sided p-value of the counts seen.
 */

export type SprtDecision = 'fail' | 'pass' | 'continue';

export interface SprtInput {
  /** Errors (or slow requests); may be fractional when counted from inside a histogram bucket. */
  failures: number;
  trials: number;
  /** Rate under H0 (the limit). */
  p0: number;
  /** Rate under H1 (clearly bad), above p0. */
  p1: number;
  alpha: number;
  beta: number;
  /** Failures needed before `fail`; default 1. */
  minFailures?: number;
}

export interface SprtResult {
  decision: SprtDecision;
  /** Log-likelihood ratio of H1 against H0. */
  llr: number;
  /** ln((1 − β)/α): at or above, fail. */
  upper: number;
  /** ln(β/(1 − α)): at or below, pass. */
  lower: number;
}

export function sprtBoundaries(alpha: number, beta: number): { upper: number; lower: number } {
  return { upper: Math.log((1 - beta) / alpha), lower: Math.log(beta / (1 - alpha)) };
}

export function sprtDecision(input: SprtInput): SprtResult {
  const { failures, trials, p0, p1, alpha, beta } = input;
  const { upper, lower } = sprtBoundaries(alpha, beta);
  if (!(p0 > 0 && p1 > p0 && p1 < 1) || trials <= 0) return { decision: 'continue', llr: 0, upper, lower };
  const llr = failures * Math.log(p1 / p0) + (trials - failures) * Math.log((1 - p1) / (1 - p0));
  const decision: SprtDecision =
    llr >= upper && failures >= (input.minFailures ?? 1) ? 'fail' : llr <= lower ? 'pass' : 'continue';
  return { decision, llr, upper, lower };
}

/** The alternative rate: p0 × multiplier, capped halfway between p0 and 1 so it stays below 1. */
export function alternativeRate(p0: number, multiplier: number): number {
  return Math.min(p0 * multiplier, (1 + p0) / 2);
}

// ------------------------------------------------------------------------------------ fixed-sample test

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; about 15 significant digits). */
function logGamma(x: number): number {
  const coefficients = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const shifted = x - 1;
  let sum = coefficients[0] ?? 1;
  for (let index = 1; index < coefficients.length; index++) sum += (coefficients[index] ?? 0) / (shifted + index);
  const t = shifted + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (shifted + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Continued fraction for the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let result = d;
  for (let m = 1; m <= 300; m++) {
    const even = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    d = 1 + even * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + even / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    result *= d * c;
    const odd = (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + odd * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + odd / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    result *= step;
    if (Math.abs(step - 1) < 1e-14) break;
  }
  return result;
}

/** The regularized incomplete beta function I_x(a, b). */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(a, b, x)) / a
    : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/**
 * P(X ≥ failures) for X ~ Binomial(trials, p): the one-sided p-value of seeing this many failures
 * if the true rate were p. Continuous in `failures` and `trials` (through I_p(k, n − k + 1)), so
 * fractional counts from a histogram bucket work too.
 */
export function binomialUpperTail(failures: number, trials: number, p: number): number {
  if (failures <= 0) return 1;
  if (failures > trials) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  return regularizedBeta(p, failures, trials - failures + 1);
}
