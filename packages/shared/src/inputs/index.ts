export * from './inputs';
export * from './common-inputs';
export * from './monitor-inputs';
export { z } from 'zod';
export * from './phase-settings';
export * from './rollback-inputs';
export * from './host-setup-inputs';
