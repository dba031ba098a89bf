import { sequentialTest, type Evaluation } from './evaluation';
import type { Judgement } from './figures';
import type { Rule, SprtSettings } from './policy-types';
import { secondsText, sentence } from './wording';

/**
 * What each sample is checked for before the end of the window: the triggers over their trailing
 * windows, and the sequential test on the gates. Either can fail the analysis at once; engine.ts
 * calls them on every sample and decides with what they find.
 */

/** A trigger's violation so far. */
export interface TriggerState {
  /** End of the first sample of the current violation, ms. */
  violatedSince: number | null;
  /** Start of that sample, ms. */
  firstBadStart: number | null;
}

/** A rule that fails the analysis now: its judgement, the reason, and since when the failure was there to see. */
export interface SampleFailure {
  rule: string;
  judgement: Judgement;
  reason: string;
  /** ms: where the detection time is counted from. */
  detectFrom: number;
  /** Failed by the sequential test, before the window ended. */
  early: boolean;
}

/** What the checks of one sample need of the analysis. */
export interface SampleCheck {
  rules: readonly Rule[];
  /** Who is judged, in words: "canary", or the promoted color. */
  subject: string;
  /** The analysis' start, ms. */
  start: number;
  /** A rule against its window at this sample's end. */
  evaluate: (rule: Rule) => Evaluation;
}

/** The triggers at the end of `sample`: the first one violated for its `for` seconds fails. Updates each trigger's state. */
export function triggerFailure(
  check: SampleCheck,
  triggers: ReadonlyMap<string, TriggerState>,
  sample: { start: number; end: number },
): SampleFailure | null {
  const at = sample.end;
  for (const rule of check.rules) {
    if (rule.kind !== 'trigger') continue;
    const evaluation = check.evaluate(rule);
    const state = triggers.get(rule.name) as TriggerState;
    if (evaluation.violated !== true) {
      state.violatedSince = null;
      state.firstBadStart = null;
      continue;
    }
    if (state.violatedSince === null) {
      state.violatedSince = at;
      state.firstBadStart = sample.start;
    }
    const violatedFor = (at - state.violatedSince) / 1000;
    if (violatedFor >= rule.forSeconds) {
      const lasting = rule.forSeconds > 0 ? ` for ${secondsText(violatedFor)} s` : '';
      return {
        rule: rule.name,
        judgement: { status: 'fail', detail: `violated${lasting}` },
        reason: `${rule.name}: ${sentence(evaluation, check.subject, { after: lasting })}`,
        detectFrom: state.firstBadStart ?? check.start,
        early: false,
      };
    }
  }
  return null;
}

/** The sequential test on each gate at `at`: the first gate it fails fails the analysis early. */
export function sequentialFailure(check: SampleCheck, sprt: SprtSettings, at: number): SampleFailure | null {
  for (const rule of check.rules) {
    if (rule.kind !== 'gate') continue;
    const evaluation = check.evaluate(rule);
    const sequential = sequentialTest(evaluation, sprt);
    if (sequential?.decision === 'fail') {
      const elapsed = secondsText((at - check.start) / 1000);
      const ratio = `log-likelihood ratio ${sequential.llr.toFixed(2)} ≥ ${sequential.upper.toFixed(2)}`;
      return {
        rule: rule.name,
        judgement: { status: 'fail', detail: `sequential test: ${ratio}` },
        reason: `${rule.name}: ${sentence(evaluation, check.subject, { notes: [`sequential test, ${elapsed} s`] })}`,
        detectFrom: check.start,
        early: true,
      };
    }
  }
  return null;
}
