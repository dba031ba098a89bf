import { auditCommands } from './audit';
import { lockCommands } from './lock';
import { fileCommands } from './state-write';

/** Every command the state, the lock and the audit log send to a host (each returns an argv, run elsewhere). */
export const commands = { ...fileCommands, ...lockCommands, ...auditCommands };
