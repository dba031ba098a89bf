import { runChecked, type Remote } from './ssh';
import { script, type Argv } from './shell';
import type { StatePaths } from './state';
import { fileCommands } from './state-write';

/**
 * A host's audit log for one app: one JSON line per step, appended, never rewritten. Every saved
 * state is in it (see `writeStateAndAudit`), so a torn state file can be rebuilt from the last one.
 */

export interface AuditRecord {
  time: string;
  runId: string;
  actor: string;
  step: string;
  [key: string]: unknown;
}

export async function audit(remote: Remote, paths: StatePaths, record: AuditRecord): Promise<void> {
  await runChecked(remote, fileCommands.appendLine(paths.audit), 'writing the audit log', {
    stdin: `${JSON.stringify(record)}\n`,
  });
}

export const auditCommands = {
  /** The last state the audit log recorded (repair). */
  lastAuditedState(auditPath: string): Argv {
    return script(
      'al-last-state',
      'if [ -f "$1" ]; then tac "$1" | grep -m1 "\\"step\\":\\"state saved\\"" || true; fi',
      [auditPath],
    );
  },
};
