export { CanaryAnalysis } from './engine';
export { DEFAULT_ROLLBACK_ON, type AnalysisResult, type SeriesPoint, type Verdict } from './result';
export { runAnalysis } from './run';
export { histogramQuantile } from './histogram';
export { parsePolicy } from './policy';
export { DEFAULT_POLICY, DEFAULT_POLICY_YAML } from './policy-defaults';
export type { Policy, Rule } from './policy-types';
export { SeededRandom } from './random';
export { binomialUpperTail } from './sprt';
export {
  emptyColorSample,
  LATENCY_BOUNDS_MS,
  latencyBucket,
  mergeSamples,
  type ColorSample,
  type LatencyHistogram,
  type MetricSource,
  type Sample,
  type TimeWindow,
} from './types';
export { formatValue } from './wording';
