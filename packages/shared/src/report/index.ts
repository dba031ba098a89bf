export { monitorSummary, progressLine } from './monitor-summary';
export { phaseSummary } from './phase-summary';
export { deploymentMetricsRecorder, deploymentMetricsText, metricsFileName, metricsInputs } from './deploy-metrics';
export { rolloutEvents, type RolloutEvent } from './events';
export { announceOptions } from './incident';
export {
  announceOutcome,
  rollbackFailure,
  rollbackStory,
  rollbackSummary,
  type RollbackContext,
} from './rollback-report';
export { concludeMonitor } from './monitor-report';
export { recordedPhase } from './lifecycle';
export { doctorOutcome, setupOutcome } from './host-setup';
