export { cleanUpRun, closeSessions, firstInLockOrder, HostSession, isCancelled, openSessions, sessionRouter, setHold, type SessionSettings } from './session';
export { failedHosts, history, moveBack, newReport, onEveryHost, readLive, stableColor, step, summarize, switchAll, switchOne, type HostReport, type PhaseResult, type SwitchPlan, type Work } from './procedure';
