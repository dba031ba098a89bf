export * from './github';
export * from './incident';
