export { CanaryAnalysis } from './engine';
export { DEFAULT_ROLLBACK_ON, type AnalysisResult, type SeriesPoint, type Verdict } from './result';
export { runAnalysis } from './run';
export { histogramQuantile } from './histogram';
export { DEFAULT_POLICY, DEFAULT_POLICY_YAML, parsePolicy, type Policy, type Rule } from './policy';
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
