export * from './github';
export * from './deployments';
