export { rollback, rollbackSessions, type RollbackResult, type RollbackSettings } from './rollback';
export { planRollback, type RollbackTarget } from './plan';
export { hostsOutcome, type RollbackMethod, type RollbackOutcome } from './methods';
export {
  buildRollbackMethod,
  rollbackMethods,
  type RollbackMethodContext,
  type RollbackMethodEntry,
  type RollbackMethodOptions,
} from './registry';
