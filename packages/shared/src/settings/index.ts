export { connectOptions, sessionFromInputs } from './session';
export {
  colorSettings,
  deploySettings,
  monitorSettings,
  promoteSettings,
  rollbackMethod,
  rollbackSettings,
  runtimeFromInputs,
  runtimeFromRecord,
} from './phases';
