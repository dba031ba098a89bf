export * from './inputs';
export * from './common-inputs';
export * from './monitor-inputs';
export { z } from 'zod';
