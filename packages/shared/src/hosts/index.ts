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
  acquireLock,
  addRelease,
  commands,
  emptyState,
  liveRelease,
  LockHeld,
  lockHolder,
  newReleaseId,
  nonce,
  oneLine,
  parseLockOwner,
  parseState,
  PUT_ALL_SHELL,
  readState,
  rollbackCandidates,
  statePaths,
  stateText,
  updateRelease,
  withHistory,
  WRITE_FILES_SHELL,
  writeArgs,
  writeRemoteFile,
  writeStateAndAudit,
  type AppState,
  type HistoryEntry,
  type HostWrite,
  type LockOwner,
  type StatePaths,
  type TrafficIntent,
} from './state';
export { runLocal } from './local';
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
