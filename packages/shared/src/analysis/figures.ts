import { evaluateRule, sequentialTest } from './evaluation';
import { histogramQuantile } from './histogram';
import type { Policy, Rule } from './policy-types';
import type { AnalysisResult, ColorFigures, RuleFigure, RuleStatus, SeriesPoint } from './result';
import type { ColorSample } from './types';
import { roundSeconds, windowOf, type Interval, type Totals } from './windows';
import { observedText, secondsText, slowNote } from './wording';
import type { Color } from '../domain';

/**
 * The figures a result shows: each rule's, each color's so far, and the series points. They are
 * built from a `FigureState`, the analysis as it stood at one instant, so that a running result
 * (`current`, once per sample) can leave its rules' figures and its series until something reads them.
 */

/** A rule's judgement (at the end, or by the sequential test), kept until an extension clears it. */
export interface Judgement {
  status: RuleStatus;
  detail: string;
}

/** What the figures are built from, as the analysis stood at one instant. */
export interface FigureState {
  policy: Policy;
  mode: 'canary' | 'post-promotion';
  /** Who is judged, in words: "canary", or the promoted color. */
  subject: string;
  rules: readonly Rule[];
  /** Per rule, in the order of `rules`: its judgement, if any. */
  judged: ReadonlyArray<Judgement | undefined>;
  /** Per rule: for a trigger, the end (ms) of the first sample of its current violation; otherwise null. */
  violatedSince: ReadonlyArray<number | null>;
  extensions: number;
  /** The analysis' lists, which only grow: the first `intervalCount` and `seriesCount` are those of that instant. */
  intervals: readonly Interval[];
  intervalCount: number;
  series: readonly SeriesPoint[];
  seriesCount: number;
}

export function ruleFigures(state: FigureState): RuleFigure[] {
  return state.rules.map((rule, index) =>
    ruleFigure(rule, state.judged[index], state.violatedSince[index] ?? null, state),
  );
}

export function seriesPoints(state: FigureState): SeriesPoint[] {
  return state.series.slice(0, state.seriesCount);
}

function ruleFigure(
  rule: Rule,
  judged: Judgement | undefined,
  violatedSince: number | null,
  state: FigureState,
): RuleFigure {
  const last = state.intervals[state.intervalCount - 1];
  const windowSeconds = windowOf(rule, state.extensions, state.policy.durationSeconds);
  const evaluation = last
    ? evaluateRule(rule, state.intervals, state.intervalCount, windowSeconds, last.end, true)
    : null;
  const violatedFor = violatedSince !== null && last ? (last.end - violatedSince) / 1000 : 0;
  let status: RuleStatus;
  if (judged) status = judged.status;
  else if (!evaluation || evaluation.violated === null) status = 'no-data';
  else status = evaluation.violated ? 'watching' : 'pass';
  const parts: string[] = [];
  if (evaluation) parts.push([observedText(evaluation, state.subject), ...slowNote(evaluation)].join(', '));
  if (rule.kind === 'trigger' && rule.forSeconds > 0 && violatedFor > 0)
    parts.push(`violated for ${secondsText(violatedFor)} of ${rule.forSeconds} s`);
  // A rule the sequential test failed says so once, in its judgement.
  if (evaluation && rule.kind === 'gate' && state.mode === 'canary' && !judged?.detail.startsWith('sequential test')) {
    const sequential = sequentialTest(evaluation, state.policy.sprt);
    if (sequential)
      parts.push(`sequential test ${sequential.llr.toFixed(2)} (fails at ${sequential.upper.toFixed(2)})`);
  }
  if (judged) parts.push(judged.detail);
  return {
    name: rule.name,
    metric: rule.metric,
    kind: rule.kind,
    threshold: evaluation?.threshold ?? rule.threshold,
    observed: evaluation?.canary.value ?? null,
    stableObserved: evaluation?.stable.value ?? null,
    windowSeconds,
    forSeconds: rule.forSeconds,
    violatedForSeconds: roundSeconds(violatedFor),
    status,
    detail: parts.join('; '),
  };
}

/** A color's figures from the start, from the totals of the last interval (undefined before the first). */
export function colorFigures(totals: Totals | undefined): ColorFigures {
  if (!totals) return { requests: 0, errorRate: null, p95Ms: null };
  return {
    requests: totals.requests,
    errorRate: totals.requests > 0 ? totals.errors / totals.requests : null,
    p95Ms: histogramQuantile(totals.latency, 0.95),
  };
}

/** One color's point of the series, `t` seconds from the start. */
export function seriesPoint(t: number, color: Color, sample: ColorSample): SeriesPoint {
  const p95Ms = sample.latency.length > 0 ? histogramQuantile(sample.latency, 0.95) : null;
  return {
    t,
    color,
    requests: sample.requests,
    errorRate: sample.requests > 0 ? sample.errors / sample.requests : null,
    p95Ms,
  };
}

// ------------------------------------------------------------------------- built when read

/** A deferred result's state, and its rules and series once read (or assigned). */
interface Deferred {
  state: FigureState;
  rules?: RuleFigure[];
  series?: SeriesPoint[];
}

/** Where a deferred result keeps its `Deferred`: a key of its own that spreading, JSON and deep equality skip. */
const DEFERRED = Symbol('deferred figures');

const held = (result: object): Deferred => (result as { [DEFERRED]: Deferred })[DEFERRED];

/**
 * Shared by every deferred result (getters made per result would cost more than the figures they
 * defer). Own, enumerable and in place, so that spreading, JSON and deep equality see ordinary properties.
 */
const DEFERRED_PROPERTIES = {
  rules: {
    enumerable: true,
    configurable: true,
    get(this: object): RuleFigure[] {
      const deferred = held(this);
      return (deferred.rules ??= ruleFigures(deferred.state));
    },
    set(this: object, value: RuleFigure[]): void {
      held(this).rules = value;
    },
  },
  series: {
    enumerable: true,
    configurable: true,
    get(this: object): SeriesPoint[] {
      const deferred = held(this);
      return (deferred.series ??= seriesPoints(deferred.state));
    },
    set(this: object, value: SeriesPoint[]): void {
      held(this).series = value;
    },
  },
} satisfies PropertyDescriptorMap;

/** Makes `result.rules` and `result.series` built from `state` when first read. */
export function deferFigures(result: AnalysisResult, state: FigureState): void {
  Object.defineProperty(result, DEFERRED, { value: { state } satisfies Deferred });
  Object.defineProperties(result, DEFERRED_PROPERTIES);
}
