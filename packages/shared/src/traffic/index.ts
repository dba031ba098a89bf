export * from './router';
export * from './nginx-helper';
