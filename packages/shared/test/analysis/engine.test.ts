import { describe, expect, it } from 'vitest';
import { CanaryAnalysis, formatValue, parsePolicy, type AnalysisResult, type Sample } from '../../src/analysis';
import { sample, type Traffic } from './samples';
import type { AnalysisOptions } from '../../src/analysis/engine';

const CANARY: AnalysisOptions = { canary: 'green', stable: 'blue', start: 0 };

/** Feeds intervals 0, 1, 2, … until the analysis decides; throws if it never does. */
function runUntilDecided(
  analysis: CanaryAnalysis,
  canary: (index: number) => Traffic | null,
  stable: (index: number) => Traffic | null = () => ({ requests: 40 }),
  limit = 1000,
): AnalysisResult {
  for (let index = 0; index < limit; index++) {
    const result = analysis.add(sample(index, canary(index), stable(index)));
    if (result) return result;
  }
  throw new Error(`no decision after ${limit} intervals`);
}

const figure = (result: AnalysisResult, name: string) => {
  const found = result.rules.find((rule) => rule.name === name);
  if (!found) throw new Error(`no figure for ${name}`);
  return found;
};

describe('success', () => {
  it('passes a healthy canary at the end of the duration, not before', () => {
    const analysis = new CanaryAnalysis(parsePolicy(''), CANARY);
    for (let index = 0; index < 59; index++) expect(analysis.add(sample(index, { requests: 5 }))).toBeNull();
    const result = analysis.add(sample(59, { requests: 5 }));
    expect(result).toMatchObject({
      verdict: 'success',
      elapsedSeconds: 300,
      canaryRequests: 300,
      stableRequests: 2400,
      earlyDecision: false,
      detectSeconds: null,
    });
    expect(result?.reason).toBe(
      'all 2 gates passed (error-rate 0% ≤ 1%; latency-p95 98 ms ≤ 2000 ms) over 300 s with 300 canary requests',
    );
    expect(figure(result as AnalysisResult, 'error-rate')).toMatchObject({
      status: 'pass',
      observed: 0,
      threshold: 0.01,
      windowSeconds: 300,
    });
    expect(figure(result as AnalysisResult, 'latency-p95').observed).toBeCloseTo(97.5, 10);
    expect(result?.series).toHaveLength(120);
    expect(result?.series[0]).toEqual({ t: 5, color: 'green', requests: 5, errorRate: 0, p95Ms: 97.5 });
    expect(result?.warnings).toEqual([
      'no data for health-checks (health-check), memory (memory): these triggers watched nothing',
    ]);
  });

  it('keeps returning the decision once decided', () => {
    const analysis = new CanaryAnalysis(parsePolicy('duration: 10'), CANARY);
    analysis.add(sample(0, { requests: 30 }));
    const result = analysis.add(sample(1, { requests: 30 }));
    expect(result?.verdict).toBe('success');
    expect(analysis.add(sample(2, { requests: 30, errors: 30 }))).toBe(result);
    expect(analysis.current(99_000)).toBe(result);
  });
});

describe('gates at the end', () => {
  it('fails a canary significantly above the limit at the end when the sequential test is off', () => {
    const analysis = new CanaryAnalysis(parsePolicy('early-decision: false'), CANARY);
    // 2 errors in every 10th interval of 5 requests: 12 errors over 300 requests = 4%, with
    // clean 30-s windows in between so the sustained trigger does not fire first.
    const result = runUntilDecided(analysis, (index) => ({ requests: 5, errors: index % 10 === 0 ? 2 : 0 }));
    expect(result).toMatchObject({ verdict: 'failure', elapsedSeconds: 300, detectSeconds: 300, earlyDecision: false });
    expect(result.reason).toMatch(
      /^error-rate: canary 4% errors over 300 requests > 1% at the end of 300 s \(12 errors where 3 are expected at the limit, p = 0\.000063\)$/,
    );
    // Exact: Σ_{k≥12} C(300,k) 0.01^k 0.99^(300-k) = 6.29e-5.
    expect(figure(result, 'error-rate').status).toBe('fail');
  });

  it('fails the latency gate at the end on the share of slow requests', () => {
    const analysis = new CanaryAnalysis(parsePolicy('early-decision: false'), CANARY);
    // 1 slow request (3 s) in every 2nd interval: 30 of 300 = 10% slower than 2 s.
    const result = runUntilDecided(analysis, (index) => ({ requests: 5, slow: index % 2 === 0 ? 1 : 0 }));
    expect(result.verdict).toBe('failure');
    expect(result.reason).toMatch(
      new RegExp(
        String.raw`^latency-p95: canary P95 3750 ms over 300 requests > 2000 ms at the end of 300 s ` +
          String.raw`\(10% of requests took over 2000 ms; 30 slow where 15 are expected at the limit, p = `,
      ),
    );
  });

  // 4 errors over 300 requests = 1.33%: above 1% but p ≈ 0.35.
  const smallExcess = (index: number): Traffic => ({ requests: 5, errors: index % 15 === 0 ? 1 : 0 });

  it('extends on a small excess, then passes it undecided with a warning (on-undecided: pass, the default)', () => {
    const result = runUntilDecided(new CanaryAnalysis(parsePolicy('early-decision: false'), CANARY), smallExcess);
    expect(result).toMatchObject({ verdict: 'success', elapsedSeconds: 600 });
    expect(result.reason).toBe(
      'undecided, passed: error-rate: canary 1.33% errors over 600 requests > 1% but not significantly ' +
        '(8 errors where 6 are expected at the limit, p = 0.26 > α 0.005), after 1 extension',
    );
    expect(result.warnings[0]).toMatch(
      /^extended by 300 s \(extension 1 of 1\) because error-rate: canary 1\.33% errors over 300 requests > 1% but not significantly/,
    );
    expect(result.warnings).toContainEqual(
      expect.stringMatching(/^passed undecided after 1 extension \(on-undecided: pass\): error-rate: canary 1\.33%/),
    );
    expect(figure(result, 'error-rate')).toMatchObject({ status: 'inconclusive', windowSeconds: 600 });
  });

  it('judges the end of the window at end-alpha and an extension at extension-alpha (less is spent on the later look)', () => {
    // 8 errors over 300 requests: p ≈ 0.011 against the 1% limit.
    const eightIn300 = (index: number): Traffic => ({ requests: 5, errors: index < 56 && index % 7 === 0 ? 1 : 0 });
    const failed = runUntilDecided(new CanaryAnalysis(parsePolicy('early-decision: false'), CANARY), eightIn300);
    expect(failed).toMatchObject({ verdict: 'failure', elapsedSeconds: 300 });
    expect(failed.reason).toMatch(/8 errors where 3 are expected at the limit, p = 0\.011/);
    const stricter = runUntilDecided(
      new CanaryAnalysis(parsePolicy({ 'early-decision': false, sprt: { 'end-alpha': 0.01 } }), CANARY),
      eightIn300,
    );
    expect(stricter.warnings[0]).toMatch(/^extended by 300 s/);
    // Over the extension: 13 errors over 600 requests, p ≈ 0.0085: under 0.01, not under 0.005.
    const thirteenIn600 = (index: number): Traffic => ({
      requests: 5,
      errors: index < 56 && index % 7 === 0 ? 1 : index >= 60 && index < 120 && index % 12 === 0 ? 1 : 0,
    });
    const extended = runUntilDecided(
      new CanaryAnalysis(parsePolicy({ 'early-decision': false, sprt: { 'end-alpha': 0.01 } }), CANARY),
      thirteenIn600,
    );
    expect(extended).toMatchObject({ verdict: 'success', elapsedSeconds: 600 });
    expect(extended.reason).toMatch(
      /13 errors where 6 are expected at the limit, p = 0\.0085 > α 0\.005\), after 1 extension$/,
    );
    const spent = runUntilDecided(
      new CanaryAnalysis(
        parsePolicy({ 'early-decision': false, sprt: { 'end-alpha': 0.01, 'extension-alpha': 0.01 } }),
        CANARY,
      ),
      thirteenIn600,
    );
    expect(spent).toMatchObject({ verdict: 'failure', elapsedSeconds: 600 });
  });

  it('on-undecided: inconclusive keeps the small excess inconclusive; fail fails it', () => {
    const inconclusive = runUntilDecided(
      new CanaryAnalysis(parsePolicy({ 'early-decision': false, 'on-undecided': 'inconclusive' }), CANARY),
      smallExcess,
    );
    expect(inconclusive).toMatchObject({ verdict: 'inconclusive', elapsedSeconds: 600 });
    expect(inconclusive.reason).toMatch(
      /^error-rate: canary 1\.33% errors over 600 requests > 1% but not significantly .*, after 1 extension$/,
    );
    const failed = runUntilDecided(
      new CanaryAnalysis(parsePolicy({ 'early-decision': false, 'on-undecided': 'fail' }), CANARY),
      smallExcess,
    );
    expect(failed).toMatchObject({ verdict: 'failure', elapsedSeconds: 600 });
    expect(failed.reason).toMatch(/after 1 extension \(on-undecided: fail\)$/);
  });

  it('never passes undecided a canary with too little traffic, whatever on-undecided says', () => {
    const result = runUntilDecided(new CanaryAnalysis(parsePolicy({ 'on-undecided': 'pass' }), CANARY), () => ({
      requests: 0,
    }));
    expect(result.verdict).toBe('inconclusive');
  });

  it('never passes a gate with no data', () => {
    const analysis = new CanaryAnalysis(parsePolicy('max-extensions: 0'), CANARY);
    const result = runUntilDecided(analysis, () => ({ requests: 5, noLatency: true }));
    expect(result.verdict).toBe('inconclusive');
    expect(result.reason).toBe('latency-p95: no latency data from the canary in 300 s');
    expect(figure(result, 'latency-p95').status).toBe('no-data');
  });
});

describe('early failure by the sequential test', () => {
  it('fails a canary with 20% errors within seconds', () => {
    const analysis = new CanaryAnalysis(parsePolicy(''), CANARY);
    // 1 error in each interval of 5 requests.
    const result = runUntilDecided(analysis, () => ({ requests: 5, errors: 1 }));
    expect(result).toMatchObject({ verdict: 'failure', earlyDecision: true, elapsedSeconds: 15, detectSeconds: 15 });
    expect(result.reason).toBe('error-rate: canary 20% errors over 15 requests > 1% (sequential test, 15 s)');
    expect(figure(result, 'error-rate').status).toBe('fail');
    expect(figure(result, 'error-rate').detail).toMatch(/sequential test: log-likelihood ratio 5\.\d\d ≥ 4\.60/);
    // Said once per cell, not once as a figure and again as the judgement.
    expect(figure(result, 'error-rate').detail.match(/sequential test/g)).toHaveLength(1);
  });

  it('waits for the minimum number of errors', () => {
    const analysis = new CanaryAnalysis(parsePolicy({ sprt: { 'min-failures': 4 } }), CANARY);
    // 3 errors in the first interval would be enough evidence, but min-failures is 4.
    const result = runUntilDecided(analysis, (index) => ({
      requests: 5,
      errors: index === 0 ? 3 : index === 3 ? 1 : 0,
    }));
    expect(result).toMatchObject({ verdict: 'failure', earlyDecision: true, elapsedSeconds: 20 });
  });

  it('does not fail early with early-decision: false', () => {
    const analysis = new CanaryAnalysis(parsePolicy('early-decision: false'), CANARY);
    const result = runUntilDecided(analysis, () => ({ requests: 5, errors: 1 }));
    // The procedure's sustained trigger fires instead, after 2 minutes.
    expect(result.reason).toMatch(/^error-rate-sustained: /);
    expect(result.earlyDecision).toBe(false);
  });

  it('fails a slow canary on the share of requests slower than the P95 limit', () => {
    const analysis = new CanaryAnalysis(parsePolicy(''), CANARY);
    // 1 of 5 requests at 3 s: 20% slower than 2 s against 5% allowed.
    const result = runUntilDecided(analysis, () => ({ requests: 5, slow: 1 }));
    expect(result).toMatchObject({ verdict: 'failure', earlyDecision: true, elapsedSeconds: 35 });
    expect(result.reason).toBe(
      'latency-p95: canary P95 4375 ms over 35 requests > 2000 ms (20% of requests took over 2000 ms; sequential test, 35 s)',
    );
  });

  it('does not fail a canary at the limit', () => {
    const analysis = new CanaryAnalysis(parsePolicy(''), CANARY);
    // 1 error per 100 requests, exactly 1%: never above the limit, never failed.
    const result = runUntilDecided(analysis, (index) => ({ requests: 5, errors: index % 20 === 0 ? 1 : 0 }));
    expect(result.verdict).toBe('success');
  });
});

describe('triggers', () => {
  const noEarly = parsePolicy('early-decision: false');

  it('error-rate-sustained: rolls back after 120 s above 1% over 30 s', () => {
    const analysis = new CanaryAnalysis(noEarly, CANARY);
    // Healthy for 60 s, then 1 error per interval from interval 12 (t = 60..65 s).
    const result = runUntilDecided(analysis, (index) => ({ requests: 5, errors: index >= 12 ? 1 : 0 }));
    // First violated at the end of interval 12 (65 s); 120 s later is 185 s.
    expect(result).toMatchObject({ verdict: 'failure', elapsedSeconds: 185, detectSeconds: 125 });
    expect(result.reason).toBe(
      'error-rate-sustained: canary 20% errors over the last 30 s (30 requests) > 1% for 120 s',
    );
    expect(figure(result, 'error-rate-sustained')).toMatchObject({
      status: 'fail',
      violatedForSeconds: 120,
      forSeconds: 120,
      windowSeconds: 30,
    });
  });

  it('starts the count again when the trigger clears', () => {
    const analysis = new CanaryAnalysis(noEarly, CANARY);
    // Errors in intervals 0..15: violated from 5 s until the window is clean at 110 s (100 s < 120 s).
    // Errors again from interval 22 (ends 115 s): the count starts again there.
    const result = runUntilDecided(analysis, (index) => ({ requests: 5, errors: index <= 15 || index >= 22 ? 1 : 0 }));
    expect(result).toMatchObject({ verdict: 'failure', elapsedSeconds: 235, detectSeconds: 125 });
  });

  it('latency-p95-sustained: rolls back after 60 s of P95 above 5 s', () => {
    const analysis = new CanaryAnalysis(noEarly, CANARY);
    const current = (at: number) => figure(analysis.current(at), 'latency-p95-sustained');
    let result: AnalysisResult | null = null;
    for (let index = 0; index < 100 && !result; index++) {
      result = analysis.add(sample(index, { requests: 5, slow: index >= 4 ? 2 : 0, slowMs: 8000 }));
      if (index === 10) expect(current(55_000)).toMatchObject({ status: 'watching', violatedForSeconds: 30 });
    }
    expect(result).toMatchObject({ verdict: 'failure', elapsedSeconds: 85 });
    expect(result?.reason).toMatch(
      /^latency-p95-sustained: canary P95 \d+ ms over the last 30 s \(30 requests\) > 5000 ms for 60 s \(40% of requests took over 5000 ms\)$/,
    );
  });

  it('health-checks: rolls back at once on more than 3 failures in a row', () => {
    const analysis = new CanaryAnalysis(parsePolicy(''), CANARY);
    const result = runUntilDecided(analysis, (index) => ({ requests: 5, health: index < 5 ? 3 : 4 }));
    expect(result).toMatchObject({ verdict: 'failure', elapsedSeconds: 30, detectSeconds: 5 });
    expect(result.reason).toBe('health-checks: canary 4 health-check failures in a row > 3');
  });

  it('memory: rolls back after 60 s above 95%, and a dip resets it', () => {
    const analysis = new CanaryAnalysis(parsePolicy(''), CANARY);
    const memory = (index: number): number => (index === 10 ? 0.9 : index >= 2 ? 0.97 : 0.5);
    const result = runUntilDecided(analysis, (index) => ({ requests: 5, memory: memory(index) }));
    // Violated from interval 11 (ends 60 s) → fails at 120 s.
    expect(result).toMatchObject({ verdict: 'failure', elapsedSeconds: 120 });
    expect(result.reason).toBe('memory: canary memory 97% > 95% for 60 s');
  });

  it('model-drift: only for model deploys, after 300 s above 0.1', () => {
    const policy = parsePolicy('duration: 600');
    const drifting = (): Traffic => ({ requests: 5, drift: 0.2 });
    const model = runUntilDecided(new CanaryAnalysis(policy, { ...CANARY, model: true }), drifting);
    expect(model).toMatchObject({ verdict: 'failure', elapsedSeconds: 305 });
    expect(model.reason).toBe('model-drift: canary model drift score 0.2 > 0.1 for 300 s');
    const plain = runUntilDecided(new CanaryAnalysis(policy, CANARY), drifting);
    expect(plain.verdict).toBe('success');
    expect(plain.rules.map((rule) => rule.name)).not.toContain('model-drift');
  });

  it('watches a custom gauge with a min limit', () => {
    const policy = parsePolicy({
      rules: [{ name: 'throughput', metric: 'gauge:rps', min: 10, kind: 'trigger', for: 10 }],
    });
    const analysis = new CanaryAnalysis(policy, CANARY);
    const result = runUntilDecided(analysis, () => ({ requests: 5 }));
    expect(result.verdict).toBe('success');
    expect(result.warnings.join(' ')).toContain('throughput (gauge:rps)');

    const slow = new CanaryAnalysis(policy, CANARY);
    let decided: AnalysisResult | null = null;
    for (let index = 0; index < 60 && !decided; index++) {
      const s: Sample = sample(index, { requests: 5 });
      (s.colors.green as { gauges?: Record<string, number> }).gauges = { rps: index < 3 ? 20 : 4 };
      decided = slow.add(s);
    }
    // Below 10 from interval 3 (ends 20 s), for 10 s → 30 s.
    expect(decided).toMatchObject({ verdict: 'failure', elapsedSeconds: 30 });
    expect(decided?.reason).toBe('throughput: canary rps 4 < 10 for 10 s');
  });
});

describe('too little data', () => {
  const quiet = (): Traffic => ({ requests: 0 });

  it('extend: extends once, then inconclusive', () => {
    const result = runUntilDecided(new CanaryAnalysis(parsePolicy(''), CANARY), quiet);
    expect(result).toMatchObject({ verdict: 'inconclusive', elapsedSeconds: 600, canaryRequests: 0 });
    expect(result.reason).toBe('too little traffic: 0 canary requests in 600 s, 50 needed, after 1 extension');
    expect(result.warnings[0]).toBe(
      'extended by 300 s (extension 1 of 1) because too little traffic: 0 canary requests in 300 s, 50 needed',
    );
  });

  it('extend: succeeds when the extension brings enough traffic', () => {
    const result = runUntilDecided(new CanaryAnalysis(parsePolicy(''), CANARY), (index) => ({
      requests: index % 2 === 0 ? 1 : 0,
    }));
    expect(result).toMatchObject({ verdict: 'success', elapsedSeconds: 600, canaryRequests: 60 });
    expect(result.warnings[0]).toMatch(/^extended by 300 s .* 30 canary requests in 300 s, 50 needed$/);
  });

  it('extend with max-extensions 0: inconclusive at the end of the duration', () => {
    const result = runUntilDecided(new CanaryAnalysis(parsePolicy('max-extensions: 0'), CANARY), quiet);
    expect(result).toMatchObject({ verdict: 'inconclusive', elapsedSeconds: 300 });
    expect(result.reason).toBe('too little traffic: 0 canary requests in 300 s, 50 needed');
  });

  it('fail: a failure for too little traffic', () => {
    const result = runUntilDecided(new CanaryAnalysis(parsePolicy('on-inconclusive: fail'), CANARY), quiet);
    expect(result).toMatchObject({ verdict: 'failure', elapsedSeconds: 300 });
    expect(result.reason).toMatch(/^too little traffic/);
  });

  it('pass: a success with a warning', () => {
    const result = runUntilDecided(new CanaryAnalysis(parsePolicy('on-inconclusive: pass'), CANARY), quiet);
    expect(result).toMatchObject({ verdict: 'success', elapsedSeconds: 300 });
    expect(result.reason).toBe(
      'inconclusive, passed by policy: too little traffic: 0 canary requests in 300 s, 50 needed',
    );
    expect(result.warnings).toContain(
      'passed although inconclusive (on-inconclusive: pass): too little traffic: 0 canary requests in 300 s, 50 needed',
    );
  });
});

describe('source errors', () => {
  it('gives the error verdict after max-source-errors failures in a row', () => {
    const analysis = new CanaryAnalysis(parsePolicy(''), CANARY);
    analysis.add(sample(0, { requests: 5 }));
    expect(analysis.sourceFailed(new Error('ssh: connection refused'), 10_000)).toBeNull();
    expect(analysis.sourceFailed(new Error('ssh: connection refused'), 15_000)).toBeNull();
    const result = analysis.sourceFailed(new Error('ssh: connection reset'), 20_000);
    expect(result).toMatchObject({ verdict: 'error', decidedAt: 20_000, elapsedSeconds: 20, detectSeconds: null });
    expect(result?.reason).toBe('metric source failed 3 times in a row: ssh: connection reset');
  });

  it('counts only failures in a row', () => {
    const analysis = new CanaryAnalysis(parsePolicy(''), CANARY);
    for (let index = 0; index < 59; index++) {
      expect(analysis.sourceFailed('timeout', index * 5000)).toBeNull();
      expect(analysis.sourceFailed('timeout', index * 5000)).toBeNull();
      expect(analysis.add(sample(index, { requests: 5 }))).toBeNull();
    }
    const result = analysis.add(sample(59, { requests: 5 }));
    expect(result?.verdict).toBe('success');
    expect(result?.warnings).toContain('the metric source failed 118 times (last: timeout)');
  });
});

describe('compare: stable', () => {
  const policy = parsePolicy({
    rules: [
      { name: 'error-rate', compare: 'stable', margin: 0.02 },
      { name: 'error-rate-sustained', compare: 'stable', margin: 0.02 },
    ],
  });

  it('judges the canary against stable plus the margin', () => {
    // Stable at 5% errors, canary at 6%: above the absolute 1% but within 5% + 2%.
    const result = runUntilDecided(
      new CanaryAnalysis(policy, CANARY),
      (index) => ({ requests: 10, errors: index % 5 < 3 ? 1 : 0 }),
      () => ({ requests: 40, errors: 2 }),
    );
    expect(result.verdict).toBe('success');
    const gate = figure(result, 'error-rate');
    expect(gate.threshold).toBeCloseTo(0.07, 10);
    expect(gate.observed).toBeCloseTo(0.06, 10);
    expect(gate.stableObserved).toBeCloseTo(0.05, 10);
  });

  it('fails a canary clearly worse than stable, early', () => {
    const result = runUntilDecided(
      new CanaryAnalysis(policy, CANARY),
      () => ({ requests: 10, errors: 4 }),
      () => ({ requests: 40, errors: 2 }),
    );
    expect(result).toMatchObject({ verdict: 'failure', earlyDecision: true });
    expect(result.reason).toMatch(
      /^error-rate: canary 40% errors over \d+ requests > 7% \(stable 5% \+ 2%\) \(sequential test, \d+ s\)$/,
    );
  });

  it('cannot judge without stable traffic', () => {
    const result = runUntilDecided(
      new CanaryAnalysis(
        parsePolicy({ 'max-extensions': 0, rules: [{ name: 'error-rate', compare: 'stable' }] }),
        CANARY,
      ),
      () => ({ requests: 5 }),
      () => null,
    );
    expect(result.verdict).toBe('inconclusive');
    expect(result.reason).toBe('error-rate: no stable data to compare with in 300 s');
  });

  it('compares latency with stable P95 plus a margin in ms', () => {
    const latency = parsePolicy({ rules: [{ name: 'latency-p95', compare: 'stable', margin: 500 }] });
    // Stable P95 in (1000, 2000], canary 10% at 3 s: slower than stable's P95 + 500 ms.
    const result = runUntilDecided(
      new CanaryAnalysis(latency, CANARY),
      () => ({ requests: 10, latencyMs: 200, slow: 1 }),
      () => ({ requests: 40, latencyMs: 1500 }),
    );
    expect(result.verdict).toBe('failure');
    expect(result.reason).toBe(
      'latency-p95: canary P95 3750 ms over 600 requests > 2450 ms (stable 1950 ms + 500 ms) at the end of 300 s ' +
        '(10% of requests took over 2450 ms; 60 slow where 30 are expected at the limit, p = 4.2e-7)',
    );
  });
});

describe('post-promotion', () => {
  const promoted: AnalysisOptions = { canary: 'green', stable: 'blue', start: 0, mode: 'post-promotion' };

  it('judges only triggers and succeeds at the end of the duration', () => {
    // 2% errors would fail the gates, but only triggers apply after promotion.
    const analysis = new CanaryAnalysis(parsePolicy(''), promoted);
    const result = runUntilDecided(
      analysis,
      (index) => ({ requests: 50, errors: index % 10 === 0 ? 5 : 0 }),
      () => null,
    );
    expect(result).toMatchObject({ verdict: 'success', elapsedSeconds: 300, earlyDecision: false });
    expect(result.reason).toBe('no trigger fired while watching green for 300 s (3000 requests)');
    expect(result.rules.every((rule) => rule.kind === 'trigger')).toBe(true);
  });

  it('rolls back on a trigger, naming the color', () => {
    const analysis = new CanaryAnalysis(parsePolicy(''), promoted);
    const result = runUntilDecided(
      analysis,
      (index) => ({ requests: 50, health: index >= 6 ? 5 : 0 }),
      () => null,
    );
    expect(result).toMatchObject({ verdict: 'failure', elapsedSeconds: 35, detectSeconds: 5 });
    expect(result.reason).toBe('health-checks: green 5 health-check failures in a row > 3');
  });

  it('warns when little traffic reached the new color', () => {
    const result = runUntilDecided(
      new CanaryAnalysis(parsePolicy(''), promoted),
      () => ({ requests: 0 }),
      () => null,
    );
    expect(result.verdict).toBe('success');
    expect(result.warnings[0]).toMatch(/^only 0 requests reached green while watching/);
  });
});

describe('current', () => {
  it('reports figures while running', () => {
    const analysis = new CanaryAnalysis(parsePolicy(''), { ...CANARY, start: 1_000_000 });
    for (let index = 0; index < 4; index++)
      analysis.add(sample(index, { requests: 5, errors: index === 3 ? 1 : 0 }, { requests: 40 }, 5, 1_000_000));
    const running = analysis.current(1_020_000);
    expect(running).toMatchObject({
      verdict: 'inconclusive',
      elapsedSeconds: 20,
      decidedAt: 1_020_000,
      canaryRequests: 20,
    });
    expect(running.reason).toBe('analysing: 20 s of 300 s, 20 canary requests so far');
    expect(figure(running, 'error-rate')).toMatchObject({ status: 'watching', observed: 0.05 });
    expect(figure(running, 'error-rate-sustained')).toMatchObject({ status: 'watching', violatedForSeconds: 0 });
  });
});

describe('formatValue', () => {
  it('writes shares as percentages and latencies in ms', () => {
    expect(formatValue('error_rate', 0.213)).toBe('21.3%');
    expect(formatValue('error_rate', 0.01)).toBe('1%');
    expect(formatValue('p95_ms', 2000.4)).toBe('2000 ms');
    expect(formatValue('drift_score', 0.123456)).toBe('0.123');
    expect(formatValue('error_rate', null)).toBe('n/a');
  });
});
