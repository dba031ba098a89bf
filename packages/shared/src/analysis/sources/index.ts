export { BatchedRemote, batchRemotes, HostGate } from './batch';
export { HostSource } from './host';
export { analysisStart, readLogMarks, type LogMark } from './log-mark';
export { NginxLogSource, parseAccessLines } from './nginx-log';
export { ProbeSource } from './probe';
export {
  checkQueryTemplate,
  DEFAULT_PROMETHEUS_QUERIES,
  errorRatioQuery,
  promDuration,
  PrometheusSource,
  type PrometheusQueries,
} from './prometheus';
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
