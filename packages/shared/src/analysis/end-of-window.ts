import { MIN_P0, type Evaluation } from './evaluation';
import type { Judgement } from './figures';
import type { Policy, Rule } from './policy-types';
import type { RuleStatus, Verdict } from './result';
import { binomialUpperTail } from './sprt';
import { boundText, countText, formatValue, metricNoun, sentence } from './wording';
import type { Color } from '../domain';

/**
 * The end of the window (pure): each gate judged over its window, and what an end that cannot
 * tell becomes (another duration, a pass, a failure or inconclusive, as the policy says).
 * engine.ts calls it when the deadline comes and applies what it returns.
 */

/** The analysis as it stands at the end of the window. */
export interface EndState {
  policy: Policy;
  mode: 'canary' | 'post-promotion';
  /** The color watched: the canary, or the promoted color after a promotion. */
  canary: Color;
  /** Who is judged, in words: "canary", or the promoted color. */
  subject: string;
  rules: readonly Rule[];
  canaryRequests: number;
  /** Extensions used so far. */
  extensions: number;
  /** Seconds since the start, in words. */
  elapsed: string;
  /** A rule against its window at the end. */
  evaluate: (rule: Rule) => Evaluation;
}

export interface EndOutcome {
  /** The gates judged, in order (up to the one that failed). */
  judged: Array<{ name: string; judgement: Judgement }>;
  /** The decision, or null to extend the analysis by another duration. */
  decision: { verdict: Verdict; reason: string } | null;
}

/** What the end of the window decides; the warnings it has are added to `warnings`, the analysis' own. */
export function judgeEnd(state: EndState, warnings: string[]): EndOutcome {
  const { policy, elapsed, canaryRequests } = state;
  if (state.mode === 'post-promotion') {
    if (canaryRequests < policy.minRequests)
      warnings.push(
        `only ${canaryRequests} requests reached ${state.canary} while watching (${policy.minRequests} expected): ` +
          'the triggers saw little traffic',
      );
    const reason = `no trigger fired while watching ${state.canary} for ${elapsed} s (${canaryRequests} requests)`;
    return { judged: [], decision: { verdict: 'success', reason } };
  }

  const judged: EndOutcome['judged'] = [];
  let doubt: string | null = null;
  // Only a gate above its limit without significance may be passed by on-undecided; no data never is.
  let undecidedOnly = true;
  if (canaryRequests < policy.minRequests) {
    doubt = `too little traffic: ${canaryRequests} canary requests in ${elapsed} s, ${policy.minRequests} needed`;
    undecidedOnly = false;
  } else {
    const passed: string[] = [];
    const level = endLevel(policy, state.extensions);
    for (const rule of state.rules) {
      if (rule.kind !== 'gate') continue;
      const outcome = judgeGate(state.evaluate(rule), elapsed, state.subject, level);
      judged.push({ name: rule.name, judgement: { status: outcome.status, detail: outcome.detail } });
      if (outcome.status === 'fail')
        return { judged, decision: { verdict: 'failure', reason: `${rule.name}: ${outcome.sentence}` } };
      if (outcome.status === 'pass') passed.push(`${rule.name} ${outcome.sentence}`);
      else {
        doubt ??= `${rule.name}: ${outcome.sentence}`;
        if (outcome.status !== 'inconclusive') undecidedOnly = false;
      }
    }
    if (doubt === null) {
      const gates =
        passed.length === 0
          ? 'no gates to judge'
          : `${passed.length === 1 ? 'the gate' : `all ${passed.length} gates`} passed (${passed.join('; ')})`;
      const reason = `${gates} over ${elapsed} s with ${canaryRequests} canary requests`;
      return { judged, decision: { verdict: 'success', reason } };
    }
  }
  return { judged, decision: afterDoubt(policy, state.extensions, doubt, undecidedOnly, warnings) };
}

/** An end that cannot tell (`doubt`), as on-inconclusive and on-undecided say. */
function afterDoubt(
  policy: Policy,
  extensions: number,
  doubt: string,
  undecidedOnly: boolean,
  warnings: string[],
): EndOutcome['decision'] {
  if (policy.onInconclusive === 'extend' && extensions < policy.maxExtensions) {
    warnings.push(
      `extended by ${policy.durationSeconds} s (extension ${extensions + 1} of ${policy.maxExtensions}) because ${doubt}`,
    );
    return null;
  }
  if (policy.onInconclusive === 'pass') {
    warnings.push(`passed although inconclusive (on-inconclusive: pass): ${doubt}`);
    return { verdict: 'success', reason: `inconclusive, passed by policy: ${doubt}` };
  }
  if (policy.onInconclusive === 'fail') return { verdict: 'failure', reason: doubt };
  const after = extensions > 0 ? `after ${extensions} extension${extensions === 1 ? '' : 's'}` : 'at the end';
  if (undecidedOnly && policy.onUndecided !== 'inconclusive') {
    // The canary never crossed the sequential test's bound nor the end test's α, and no trigger
    // fired: the data cannot tell it from a canary at the limit (see the README).
    if (policy.onUndecided === 'fail') return { verdict: 'failure', reason: `${doubt}, ${after} (on-undecided: fail)` };
    warnings.push(`passed undecided ${after} (on-undecided: pass): ${doubt}`);
    return { verdict: 'success', reason: `undecided, passed: ${doubt}, ${after}` };
  }
  return { verdict: 'inconclusive', reason: `${doubt}${extensions > 0 ? `, ${after}` : ''}` };
}

/** The end-of-window test's level: end-alpha at the first look, the extension's own after one. */
function endLevel(policy: Policy, extensions: number): number {
  return extensions === 0 ? policy.sprt.endAlpha : policy.sprt.extensionAlpha;
}

/** One gate over its window at the end: within its limit, above it significantly, or above it without significance. */
function judgeGate(
  evaluation: Evaluation,
  elapsed: string,
  subject: string,
  level: number,
): { status: RuleStatus; sentence: string; detail: string } {
  const { rule, violated, test } = evaluation;
  if (violated === null) {
    const what =
      evaluation.canary.value === null
        ? `no ${metricNoun(rule.metric)} data from the ${subject}`
        : 'no stable data to compare with';
    return { status: 'no-data', sentence: `${what} in ${elapsed} s`, detail: what };
  }
  if (!violated) {
    const value = formatValue(rule.metric, evaluation.canary.value);
    return {
      status: 'pass',
      sentence: `${value} ${rule.limit === 'max' ? '≤' : '≥'} ${boundText(evaluation)}`,
      detail: 'within the limit',
    };
  }
  if (!test)
    return {
      status: 'fail',
      sentence: sentence(evaluation, subject, { after: ` at the end of ${elapsed} s` }),
      detail: 'outside the limit at the end',
    };
  const pValue = binomialUpperTail(test.failures, test.trials, Math.max(test.p0, MIN_P0));
  const counts =
    `${countText(test.failures)} ${rule.metric === 'error_rate' ? 'errors' : 'slow'} ` +
    `where ${countText(test.trials * test.p0)} are expected at the limit, p = ${pValue.toPrecision(2)}`;
  if (pValue <= level)
    return {
      status: 'fail',
      sentence: sentence(evaluation, subject, { after: ` at the end of ${elapsed} s`, notes: [counts] }),
      detail: `binomial test: ${counts}`,
    };
  return {
    status: 'inconclusive',
    sentence: sentence(evaluation, subject, {
      after: ' but not significantly',
      notes: [`${counts} > α ${level}`],
    }),
    detail: `above the limit without significance: ${counts}`,
  };
}
