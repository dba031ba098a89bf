export * from './engine';
export * from './result';
export * from './run';
export * from './histogram';
export * from './policy';
export * from './random';
export * from './sprt';
export * from './types';
// The engine's inner parts (windows.ts, evaluation.ts, figures.ts) stay inside the folder; of its
// words only the format of a value is for others.
export { formatValue } from './wording';
