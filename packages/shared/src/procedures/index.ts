export * from './bluegreen';
export * from './monitor';
export * from './status';
export * from './maintenance';
export * from './events';
