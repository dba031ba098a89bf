export {
  commandRuntime,
  composeRuntime,
  launchRelease,
  prepareRelease,
  stopRelease,
  TEMPLATE_PLACEHOLDERS,
  type PrepareStep,
  type Runtime,
} from './runtime';
export { smoke, waitHealthy, type SmokeResult } from './health';
export {
  bodyContentType,
  checkName,
  DEFAULT_SMOKE_REQUESTS,
  judgeSmoke,
  percentile,
  PRE_TRAFFIC_SMOKE,
  requestBody,
  SMOKE_CHECKS_FORM,
  SMOKE_METHODS,
  smokeBudgetMs,
  smokeChecksSchema,
  type SmokeCheck,
  type SmokeDefaults,
} from './smoke';
export { preflight, serverBlockWarnings, type PreflightLimits, type Prerequisite } from './preflight';
export { doctor, explainUnprepared, formatPrerequisites } from './doctor';
export { buildRuntime, runtimes, type RuntimeEntry, type RuntimeOptions } from './registry';
