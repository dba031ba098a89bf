export * from './staging';
export * from './loadtest';
export * from './test-staging';
