export { HostSession, isCancelled, sessionRouter, type SessionSettings } from './session';
export { closeSessions, firstInLockOrder, openSessions } from './open';
export { setHold } from './hold';
export { cleanUpRun } from './cleanup';
export {
  failedHosts,
  history,
  newReport,
  onEveryHost,
  readLive,
  stableColor,
  step,
  summarize,
  type HostReport,
  type PhaseResult,
  type Work,
} from './procedure';
export { moveBack, switchAll, switchOne, type SwitchPlan } from './switch';
