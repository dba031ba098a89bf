export * from './staging';
export * from './loadtest';
