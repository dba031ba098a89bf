export * from './batch';
export * from './host';
export * from './log-mark';
export * from './nginx-log';
export * from './probe';
export * from './prometheus';
export * from './combined';
export * from './registry';
