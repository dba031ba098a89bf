export { field, readFromRunner, readInputs, type InputReader, type Values } from './inputs';
export { accessLogInput, hostSettingInputs, hostsField, privateKeyField } from './host-settings';
export { hostInputs, resolveHosts, type HostInputs } from './host-inputs';
export {
  checkRollbackRuntimeInputs,
  checkRuntimeInputs,
  deploymentRecord,
  deploymentRecordInputs,
  deployPhaseInputs,
  promotePhaseInputs,
  recordedRuntimeOptions,
  rollbackRuntimeInputs,
  runtimeInputs,
  runtimeOptions,
  runtimeRecord,
  smokeChecksField,
  type RuntimeInputs,
} from './common-inputs';
export { monitorPhaseInputs, monitorPolicy, type MonitorInputs } from './monitor-inputs';
export {
  ansibleInputs,
  checkRollbackMethodInputs,
  collectionsRequirements,
  incidentInputs,
  reasonField,
  rollbackMethodInputs,
  rollbackMethodOptions,
  rollbackOnHosts,
  rollbackPhaseInputs,
  rollbackTarget,
  type MethodInputs,
} from './rollback-inputs';
export { hostSetupInputs, hostSetupPlans, type ConnectInputs } from './host-setup-inputs';
