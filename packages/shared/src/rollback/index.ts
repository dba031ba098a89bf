export * from './rollback';
export * from './kubernetes';
