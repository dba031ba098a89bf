export {
  formatWeights,
  helperArgs,
  includeFileName,
  nginxName,
  NginxRouter,
  parseIncludeHeader,
  placeholderInclude,
  readWeightsCommand,
  statusHost,
  statusPath,
  switchCommand,
  weightsFor,
  type LiveWeights,
  type NginxSite,
  type RouterView,
  type SwitchResult,
  type TrafficRouter,
  type Weights,
} from './router';
export { helperFile, nginxControl, SWITCH_HELPER_PATH, switchHelperPath } from './nginx-helper';
export {
  haproxyReadCommand,
  haproxyRecordPath,
  HaproxyRouter,
  haproxySwitchCommand,
  parseHaproxyView,
  type HaproxySite,
  type Prerequisite,
} from './haproxy';
export {
  buildRouter,
  DEFAULT_ROUTER,
  drivesNginx,
  routerPrerequisites,
  routers,
  type RouterContext,
  type RouterEntry,
} from './registry';
