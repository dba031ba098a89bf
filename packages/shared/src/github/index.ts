export * from './github';
