export {
  formatWeights,
  parseIncludeHeader,
  weightsFor,
  type LiveWeights,
  type Prerequisite,
  type RouterView,
  type SwitchResult,
  type TrafficRouter,
  type Weights,
} from './router';
export {
  helperArgs,
  includeFileName,
  nginxName,
  NginxRouter,
  placeholderInclude,
  readWeightsCommand,
  statusHost,
  statusPath,
  switchCommand,
  type NginxSite,
} from './nginx-router';
export { helperFile, nginxControl, SWITCH_HELPER_PATH, switchHelperPath } from './nginx-helper';
export { haproxyRecordPath, HaproxyRouter, parseHaproxyView, type HaproxySite } from './haproxy';
export { haproxyReadCommand, haproxySwitchCommand } from './haproxy-commands';
export {
  buildRouter,
  DEFAULT_ROUTER,
  drivesNginx,
  routerPrerequisites,
  routers,
  type RouterContext,
  type RouterEntry,
} from './registry';
