// Every folder's door, for callers that want the whole core; an action imports the doors it uses
// (`@agent-loop/shared/traffic`, ...), as the package's exports name them.
export * from './action/index';
export * from './domain/index';
export * from './vocabulary/index';
export * from './inputs/index';
export * from './hosts/index';
export * from './traffic/index';
export * from './runtime/index';
export * from './fleet/index';
export * from './procedures/index';
export * from './rollback/index';
export * from './analysis/index';
export * from './analysis/sources/index';
export * from './github/index';
export * from './report/index';
export * from './staging/index';
export * from './pipeline/index';
export * from './settings/index';
