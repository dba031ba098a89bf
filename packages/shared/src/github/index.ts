export {
  bestEffort,
  createDeployment,
  githubContext,
  openIssue,
  setDeploymentStatus,
  type DeploymentState,
  type GitHubContext,
  type Incident,
} from './github';
export {
  listDeployments,
  type DeploymentHistoryEntry,
  type DeploymentStatusEntry,
  type ListDeploymentsOptions,
} from './deployments';
