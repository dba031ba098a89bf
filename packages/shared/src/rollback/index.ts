export * from './rollback';
export * from './kubernetes';
export * from './methods';
export * from './registry';
