import { errorMessage, forSlack, postJson } from '../action';

/** Slack incoming-webhook messages. Never fails the deploy: a lost message is logged, not fatal. */
export interface Notice {
  event: 'started' | 'completed' | 'failed' | 'rolled-back';
  title: string;
  fields: Record<string, string>;
  error?: string;
  durationMs?: number;
  runUrl?: string;
}

const ICON: Record<Notice['event'], string> = {
  started: ':rocket:',
  completed: ':white_check_mark:',
  failed: ':x:',
  'rolled-back': ':rewind:',
};

/** Slack rejects a whole message (`invalid_blocks`) when a section's text is longer or there are more blocks. */
export const SLACK_SECTION_TEXT_LIMIT = 3000;
export const SLACK_BLOCK_LIMIT = 50;
/** Host names listed before "… and N more". */
const NAMED_HOSTS = 5;

/** "h1, h2, h3, h4, h5 … and 35 more" */
export function nameSome(names: readonly string[], shown = NAMED_HOSTS): string {
  if (names.length <= shown) return names.join(', ');
  return `${names.slice(0, shown).join(', ')} … and ${names.length - shown} more`;
}

/**
 * A phase's error is one line per failed host, each "HOST: message" (see failedHosts). Hosts that
 * failed the same way are grouped, so 40 hosts refusing connections make one line, not 40.
 */
export function summariseFailures(
  error: string,
): { hosts: string[]; groups: Array<{ message: string; hosts: string[] }> } | null {
  const lines = error
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (lines.length < 2) return null;
  const groups = new Map<string, string[]>();
  const hosts: string[] = [];
  for (const line of lines) {
    const match = /^(\S+?): (.+)$/.exec(line);
    const host = match?.[1] ?? '';
    const message = match?.[2] ?? line;
    if (host) hosts.push(host);
    groups.set(message, [...(groups.get(message) ?? []), ...(host ? [host] : [])]);
  }
  return { hosts, groups: [...groups].map(([message, named]) => ({ message, hosts: named })) };
}

/** Keeps whole lines while they fit the limit, then says how many were left out. */
function capLines(lines: string[], limit: number, more: (left: number) => string): string {
  const full = lines.join('\n');
  if (full.length <= limit) return full;
  const kept: string[] = [];
  for (const [index, line] of lines.entries()) {
    if ([...kept, line, more(lines.length - index - 1)].join('\n').length > limit) break;
    kept.push(line);
  }
  return [...kept, more(lines.length - kept.length)].join('\n');
}

/** Cuts a raw text before it is escaped, so an entity is never cut in half. */
function clip(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

function errorLines(error: string): string[] {
  const summary = summariseFailures(error);
  if (!summary) return [`*error:* ${forSlack(clip(error, 2000))}`];
  const lines = [`*failed on ${summary.hosts.length} hosts:* ${forSlack(nameSome(summary.hosts))}`];
  for (const group of summary.groups) {
    lines.push(
      `• ${forSlack(clip(group.message, 500))}${group.hosts.length > 0 ? ` (${forSlack(nameSome(group.hosts, 3))})` : ''}`,
    );
  }
  return lines;
}

export function slackPayload(notice: Notice): unknown {
  const lines = Object.entries(notice.fields).map(
    ([key, value]) => `*${forSlack(clip(key, 100))}:* ${forSlack(clip(value, 500))}`,
  );
  if (notice.durationMs !== undefined) lines.push(`*duration:* ${(notice.durationMs / 1000).toFixed(1)} s`);
  if (notice.error) lines.push(...errorLines(notice.error));
  // The link is kept whatever is cut: it leads to the full log.
  const link = notice.runUrl ? `<${notice.runUrl.replaceAll('|', '%7C').replaceAll('>', '%3E')}|workflow run>` : '';
  const budget = SLACK_SECTION_TEXT_LIMIT - (link ? link.length + 1 : 0);
  const body = capLines(
    lines,
    budget,
    (left) => `… and ${left} more line${left === 1 ? '' : 's'} (see the workflow run)`,
  );
  const heading = `${ICON[notice.event]} ${forSlack(clip(notice.title, 500))}`;
  const details = [body, link].filter((part) => part !== '').join('\n');
  // A section needs at least one character: with nothing to add there is only the heading.
  const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: `*${heading}*` } }];
  if (details !== '') blocks.push({ type: 'section', text: { type: 'mrkdwn', text: details } });
  return { text: heading, blocks: blocks.slice(0, SLACK_BLOCK_LIMIT) };
}

export async function notifySlack(
  webhookUrl: string,
  notice: Notice,
  warn: (message: string) => void,
): Promise<boolean> {
  if (webhookUrl === '') return false;
  try {
    const response = await postJson(webhookUrl, slackPayload(notice));
    if (response.status >= 300) throw new Error(`Slack answered HTTP ${response.status}`);
    return true;
  } catch (error) {
    // The webhook URL is a secret: the message names the failure, never the URL.
    warn(`the Slack notification (${notice.event}) was not delivered: ${redact(errorMessage(error), webhookUrl)}`);
    return false;
  }
}

/** Hides the webhook URL, and its path (the secret part), which an error page may quote. */
function redact(text: string, webhookUrl: string): string {
  let path = '';
  try {
    path = new URL(webhookUrl).pathname;
  } catch {
    // Not a URL: only the whole value can be hidden.
  }
  const hidden = text.replaceAll(webhookUrl, '***');
  return path.length > 1 ? hidden.replaceAll(path, '***') : hidden;
}
