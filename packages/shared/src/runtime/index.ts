export * from './runtime';
export * from './health';
export * from './smoke';
export * from './exposition';
export * from './preflight';
export * from './registry';
