export * as action from './action';
export * from './errors';
export * from './log';
export * from './clock';
export * from './parallel';
export * from './retry';
export * from './http';
export * from './markdown';
export * from './show';
