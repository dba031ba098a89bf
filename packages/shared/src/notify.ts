import { errorMessage } from './errors';
import { postJson } from './http';

/** Slack incoming-webhook messages. Never fails the deploy: a lost message is logged, not fatal. */
export interface Notice {
  event: 'started' | 'completed' | 'failed' | 'rolled-back';
  title: string;
  fields: Record<string, string>;
  error?: string;
  durationMs?: number;
  runUrl?: string;
}

const ICON: Record<Notice['event'], string> = { started: ':rocket:', completed: ':white_check_mark:', failed: ':x:', 'rolled-back': ':rewind:' };

export function slackPayload(notice: Notice): unknown {
  const lines = Object.entries(notice.fields).map(([key, value]) => `*${key}:* ${value}`);
  if (notice.durationMs !== undefined) lines.push(`*duration:* ${(notice.durationMs / 1000).toFixed(1)} s`);
  if (notice.error) lines.push(`*error:* ${notice.error}`);
  if (notice.runUrl) lines.push(`<${notice.runUrl}|workflow run>`);
  const text = `${ICON[notice.event]} ${notice.title}`;
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${text}*` } },
      { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } },
    ],
  };
}

export async function notifySlack(webhookUrl: string, notice: Notice, warn: (message: string) => void): Promise<boolean> {
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
