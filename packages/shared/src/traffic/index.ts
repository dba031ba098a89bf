export * from './router';
export * from './nginx-helper';
export * from './haproxy';
export * from './registry';
