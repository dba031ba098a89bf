export * from './engine';
export * from './histogram';
export * from './policy';
export * from './random';
export * from './sprt';
export * from './types';
