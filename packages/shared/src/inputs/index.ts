export * from './inputs';
export * from './common-inputs';
export { z } from 'zod';
