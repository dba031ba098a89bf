export * from './host';
export * from './nginx-log';
export * from './probe';
export * from './prometheus';
