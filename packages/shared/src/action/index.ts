export * as action from './action';
export type { RunInfo } from './action';
export { ConfigurationError, errorMessage, HostError, requireInput, UnrecordedSwitchError } from './errors';
export { silentLogger, type Logger } from './log';
export { systemClock, type Clock } from './clock';
export { mapLimit, settleLimit, type Settled } from './parallel';
export { retry } from './retry';
export { excerpt, getJson, postJson, request, requestJson } from './http';
export {
  codeBlock,
  forMarkdown,
  forSlack,
  forTerminal,
  hostCell,
  markdownCode,
  markdownLink,
  table,
  terminalJson,
} from './surfaces';
export { printable, show } from './show';
export { runner } from './runner';
export { Registry } from './registry';
