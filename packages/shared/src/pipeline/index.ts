export * from './plan';
export * from './compare';
export * from './dora';
export * from './checklist';
