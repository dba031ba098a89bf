import type { Color } from '../domain';

/** What an analysis reports: its verdict, each rule's figures, and the series behind the charts. */

export type Verdict = 'success' | 'failure' | 'inconclusive' | 'error';
/**
 * Verdicts that roll back unless the user says otherwise. `inconclusive` (too little traffic, or
 * a gate with no data, after the extension) is left out: with no evidence either way the canary
 * keeps its share and is not promoted (the step fails), as Argo Rollouts pauses on inconclusive.
 */
export const DEFAULT_ROLLBACK_ON: readonly Verdict[] = ['failure', 'error'];
/** `watching`: violated but not (yet) decided; `inconclusive`: a gate above its limit without significance at the end. */
export type RuleStatus = 'pass' | 'fail' | 'no-data' | 'watching' | 'inconclusive';

export interface RuleFigure {
  name: string;
  metric: string;
  kind: 'gate' | 'trigger';
  /** The bound in force (stable's value ± margin with compare: stable; the configured one when stable has no data). */
  threshold: number;
  observed: number | null;
  stableObserved: number | null;
  windowSeconds: number;
  forSeconds: number;
  violatedForSeconds: number;
  status: RuleStatus;
  detail: string;
}

export interface SeriesPoint {
  /** Seconds since the start, at the end of the interval. */
  t: number;
  color: Color;
  requests: number;
  errorRate: number | null;
  p95Ms: number | null;
}

/** One color's figures over a span: requests, error rate and P95 (null without data). */
export interface ColorFigures {
  requests: number;
  errorRate: number | null;
  p95Ms: number | null;
}

export interface AnalysisResult {
  verdict: Verdict;
  /** One sentence naming the deciding rule and its figures. */
  reason: string;
  warnings: string[];
  /** ms since the epoch. */
  decidedAt: number;
  /** For a failure: seconds from the start (gates) or from the first violating sample (triggers) to the decision. */
  detectSeconds: number | null;
  elapsedSeconds: number;
  /** While running (`current`), this and `series` are built when first read, as they stood when the result was made. */
  rules: RuleFigure[];
  series: SeriesPoint[];
  canaryRequests: number;
  stableRequests: number;
  /** Each side's figures from the start to the last sample. */
  soFar: { canary: ColorFigures; stable: ColorFigures };
  /** Which color is judged (the canary, or the promoted color after a promotion) and which it is compared with. */
  colors: { canary: Color; stable: Color };
  /** The sequential test failed the canary before the end of the duration. */
  earlyDecision: boolean;
}
