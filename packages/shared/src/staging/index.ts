export { imageTag, stagingSummary, type StagingDeployReport, type StagingReport } from './staging';
export { runLoad } from './loadtest';
export { stagingTestInputs, testStaging } from './test-staging';
