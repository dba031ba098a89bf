import type { Command } from './command';
import { holdCommand, resumeCommand } from './hold';
import { monitorCommand } from './monitor';
import { abortCommand, deployCommand, promoteCommand, rollbackCommand } from './phases';
import { status } from './status';

/**
 * The commands, one module per concern: what a command is (command.ts), the terminal it writes to
 * (terminal.ts), status (status.ts), the phases that change traffic (phases.ts), the monitor
 * (monitor.ts), hold and resume (hold.ts).
 */
export { hostFields, type Command, type Context, type Field, type Fields } from './command';
export { notice, Refusal, terminal } from './terminal';

/** Every command, in the order the help lists them. */
export const COMMANDS: readonly Command[] = [
  status,
  deployCommand,
  promoteCommand,
  rollbackCommand,
  abortCommand,
  monitorCommand,
  holdCommand,
  resumeCommand,
];
