export * from './bluegreen';
export * from './procedure';
export * from './monitor';
export * from './status';
export * from './maintenance';
