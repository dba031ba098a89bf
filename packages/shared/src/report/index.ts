export * from './summary';
export * from './notify';
export * from './deploy-metrics';
export * from './events';
export * from './incident';
