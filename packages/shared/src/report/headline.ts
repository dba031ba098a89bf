import { forMarkdown, markdownLink } from '../action';
import type { HostReport } from '../fleet';

/**
 * What every step summary opens with (pure): the headline an on-call engineer reads first, and the
 * words the phase and monitor summaries share. The runner caps the summary file at 1 MiB; we stay
 * far below.
 */

export const OUTCOME: Record<HostReport['outcome'], string> = {
  success: '✅ success',
  failed: '❌ failed',
  reverted: '↩️ reverted',
  unchanged: '⏸ unchanged',
  noop: '✔️ already done',
};

/**
 * What an on-call engineer reads first (pure): what happened, the verdict, what was done, the
 * incident, and what to do next. Details follow it.
 */
export interface Headline {
  ok: boolean;
  /** What happened, in a few words: "canary v2 failed; rolled back to v1". */
  title: string;
  verdict?: string;
  done?: string;
  incidentUrl?: string | null;
  /** Markdown of this code's own (commands in backticks), naming validated versions only. */
  next: string[];
}

/** The title, verdict and done carry reasons and errors from hosts: they are text, made inert here. */
export function headline(app: string, head: Headline): string {
  const lines = [`### ${head.ok ? '✅' : '❌'} ${app}: ${forMarkdown(head.title)}`, ''];
  if (head.verdict) lines.push(`- **Verdict:** ${forMarkdown(head.verdict)}`);
  if (head.done) lines.push(`- **Done:** ${forMarkdown(head.done)}`);
  if (head.incidentUrl) lines.push(`- **Incident:** ${markdownLink(head.incidentUrl, head.incidentUrl)}`);
  if (head.next.length === 1) lines.push(`- **Next:** ${head.next[0]}`);
  if (head.next.length > 1) lines.push('- **Next:**', ...head.next.map((step) => `  - ${step}`));
  lines.push('');
  return lines.join('\n');
}

export const oneLineText = (text: string): string => text.replace(/[\r\n]+/g, ' ').trim();

export const seconds = (ms: number | null): string => (ms === null ? '?' : `${(ms / 1000).toFixed(1)} s`);
