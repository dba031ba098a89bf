export * from './session';
export * from './procedure';
