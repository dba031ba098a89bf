import {
  read,
  resultOf,
  tick,
  FORMS,
  type ChecklistItem,
  type Form,
  type ItemState,
  type Needs,
  type Read,
} from './checklist-evidence';

/** The "when something goes wrong" list for a rollback run by hand (rollback.yml's `rollback` job). */
export function rollbackChecklist(needs: Needs, issue: Form): ChecklistItem[] {
  const list = 'When something goes wrong' as const;
  const out = (key: string, form: Form): Read => read(needs, 'rollback', key, form);
  const rolledBack = out('rolled-back', FORMS.flag);
  const noop = out('noop', FORMS.flag);
  const version = out('version', FORMS.version);
  const failedVersion = out('failed-version', FORMS.version);
  const restored = out('restored-ms', FORMS.milliseconds);
  const items: ChecklistItem[] = [];
  const add = (item: string, [state, because]: [ItemState, string], link?: string) =>
    items.push({ list, item, state, because, ...(link && state === 'done' ? { link } : {}) });
  add(
    'Rollback started',
    tick(
      rolledBack.value === 'true' || noop.value === 'true',
      noop.value === 'true'
        ? `nothing to do: ${version.value || 'the target'} already served all traffic`
        : `rolled back${failedVersion.value ? ` from ${failedVersion.value}` : ''} ` +
            `to ${version.value || 'the previous version'}` +
            (restored.value ? `, traffic back in ${restored.value} ms` : ''),
      `rollback job: ${resultOf(needs, 'rollback')}`,
      rolledBack,
      noop,
      version,
      failedVersion,
      restored,
    ),
  );
  const incident = out('incident-url', issue);
  add(
    'Incident created',
    tick(incident.value !== '', incident.value, 'no incident was opened (create-incident off, or no token)', incident),
    incident.value,
  );
  const notified = out('notified', FORMS.flag);
  add(
    'Team notified',
    tick(
      notified.value === 'true',
      'Slack message sent',
      notified.value === 'false'
        ? 'no SLACK_WEBHOOK_URL: nothing sent'
        : `rollback job: ${resultOf(needs, 'rollback')}`,
      notified,
    ),
  );
  add('Post-mortem planned', ['person', 'a person plans it: the incident is the place']);
  return items;
}
