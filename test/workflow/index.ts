// The workflow runner's door: run a caller workflow for one event the way GitHub does.
export { runWorkflow } from './run';
export { WorkflowRefusal } from './types';
export type {
  Annotation,
  GateAnswer,
  JobRecord,
  JobStatus,
  RunConclusion,
  RunJson,
  RunOptions,
  RunResult,
  StepRecord,
  StepStatus,
} from './types';
