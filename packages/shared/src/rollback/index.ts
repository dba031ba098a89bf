export {
  planRollback,
  rollback,
  rollbackSessions,
  type RollbackResult,
  type RollbackSettings,
  type RollbackTarget,
} from './rollback';
export { hostsOutcome, type RollbackMethod, type RollbackOutcome } from './methods';
export {
  buildRollbackMethod,
  rollbackMethods,
  type RollbackMethodContext,
  type RollbackMethodEntry,
  type RollbackMethodOptions,
} from './registry';
