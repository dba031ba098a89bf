export * from './hosts';
export * from './ssh';
export * from './shell';
export * from './knownhosts';
export * from './state';
export * from './local';
export * from './hostsetup';
export * from './ansible';
// traffic/router.ts still names a color through this door (it moved to domain/).
export type { Color } from '../domain';
