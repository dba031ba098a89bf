export {
  BRANCH_NAME,
  classify,
  GATE_LIST,
  IMAGE_REPOSITORY,
  parseGateList,
  planSummary,
  readEvent,
  type PlanOptions,
} from './plan';
export {
  compareMetrics,
  comparisonSummary,
  failureMessage,
  metricRulesSchema,
  readMetricsFile,
  RULES_FORM,
  WORKSPACE_PATH,
  type MetricComparison,
} from './compare';
export { computeDora, deploymentHistory, doraFigures, doraSummary } from './dora';
export { checklistSummary, procedureChecklist, type Needs } from './checklist';
