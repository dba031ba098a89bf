export { BatchedRemote, batchRemotes, HostGate } from './batch';
export { HostSource } from './host';
export { analysisStart, readLogMarks, type LogMark } from './log-mark';
export { NginxLogSource, parseAccessLines } from './nginx-log';
export { ProbeSource } from './probe';
export { PrometheusSource } from './prometheus';
export {
  checkQueryTemplate,
  DEFAULT_PROMETHEUS_QUERIES,
  errorRatioQuery,
  promDuration,
  type PrometheusQueries,
} from './promql';
export { CombinedSource, combineSources } from './combined';
export {
  buildMetricSources,
  checkSources,
  metricSources,
  readsFromSwitch,
  type SourceContext,
  type SourceEntry,
  type SourceHost,
  type SourceOptions,
} from './registry';
