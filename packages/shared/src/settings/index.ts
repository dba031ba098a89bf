export * from './session';
export * from './phases';
