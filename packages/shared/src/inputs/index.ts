export * from './inputs';
export * from './common-inputs';
export * from './monitor-inputs';
export * from './rollback-inputs';
export * from './host-setup-inputs';
export { z } from 'zod';
