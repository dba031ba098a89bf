export * from './runtime';
export * from './health';
export * from './preflight';
