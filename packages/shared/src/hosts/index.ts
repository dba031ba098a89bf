export { parseTarget, type HostSettings, type HostSpec, type SshTarget } from './hosts';
export {
  connect,
  onEachHost,
  runChecked,
  type ConnectOptions,
  type ExecResult,
  type Remote,
  type RunOptions,
} from './ssh';
export {
  quote,
  quotedPlaceholders,
  renderTemplate,
  script,
  splitWords,
  templatePlaceholders,
  toShell,
  type Argv,
} from './shell';
export { parseKnownHosts, verifyHostKey } from './knownhosts';
export {
  parseState,
  statePaths,
  stateText,
  type AppState,
  type HistoryEntry,
  type StatePaths,
  type TrafficIntent,
} from './state';
export {
  addRelease,
  emptyState,
  liveRelease,
  newReleaseId,
  oneLine,
  rollbackCandidates,
  updateRelease,
  withHistory,
} from './state-changes';
export {
  nonce,
  PUT_ALL_SHELL,
  readState,
  WRITE_FILES_SHELL,
  writeArgs,
  writeRemoteFile,
  writeStateAndAudit,
  type HostWrite,
} from './state-write';
export { acquireLock } from './lock';
export { LockHeld, lockHolder, parseLockOwner, type LockOwner } from './lock-owner';
export { commands } from './commands';
export { runLocal } from './local';
export { ROOT_ONLY_SHELL } from './root-only';
export {
  deployNginxCommand,
  setupHost,
  sudoersRule,
  USER_NAME,
  type HostSetupPlan,
  type SetupItem,
  type SetupReport,
} from './hostsetup';
export { ansibleEnv, collectionInstallCommand, collectionsCacheKey, runPlaybook } from './ansible';
// traffic/router.ts still names a color through this door (it moved to domain/).
export type { Color } from '../domain';
