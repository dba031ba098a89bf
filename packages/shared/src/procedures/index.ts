export { deploy } from './deploy';
export { promote } from './promote';
export type { DeploySettings, PromoteSettings } from './bluegreen';
export { monitor, monitorSessions } from './monitor';
export { abortWaitCommand } from './monitor-requests';
export type { MonitorResult, MonitorSettings } from './monitor-types';
export { fleetStatus, statusLines, statusSummary, type HostStatus } from './status';
export {
  diskUse,
  pruneHost,
  rollingUpgrade,
  rotateLogs,
  type PruneResult,
  type UpgradeResult,
  type UpgradeSettings,
} from './maintenance';
export type { RolloutEvent, RolloutEventKind } from './events';
