import { forMarkdown, markdownLink } from '../action';
import type { ChecklistItem, ItemState } from './checklist-evidence';

const MARK: Record<ItemState, string> = {
  done: '- [x]',
  'not-done': '- [ ]',
  person: '- [ ] 🙋',
  'not-applicable': '- ➖',
};

/**
 * The checklists as GitHub renders task lists in a step summary (pure); `runUrl` links the
 * evidence. Each item and its evidence are text (outputs of other steps among them), made inert
 * on one line each: one task per item, whatever the outputs held.
 */
export function checklistSummary(items: readonly ChecklistItem[], runUrl = ''): string {
  const done = items.filter((item) => item.state === 'done').length;
  const open = items.filter((item) => item.state === 'not-done').length;
  const people = items.filter((item) => item.state === 'person').length;
  const lines = [
    `### Deployment procedure: ${done} of ${items.filter((item) => item.state !== 'not-applicable').length} checked by this run`,
    '',
    `${open === 0 ? '✅ nothing the run should have proved is missing' : `❌ ${open} not proved`}; ` +
      `${people} for a person to tick` +
      (runUrl ? `; evidence: ${markdownLink('this run', runUrl).text}` : '') +
      '.',
    '',
  ];
  for (const list of ['Pre-deployment', 'Deployment', 'Post-deployment', 'When something goes wrong'] as const) {
    const inList = items.filter((item) => item.list === list);
    if (inList.length === 0) continue;
    lines.push(
      `#### ${list}`,
      '',
      ...inList.map(
        (item) =>
          `${MARK[item.state]} ${forMarkdown(item.item)} — ${item.link ? markdownLink(item.because, item.link).text : forMarkdown(item.because)}`,
      ),
      '',
    );
  }
  return lines.join('\n');
}
