import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in Slack incoming webhook that refuses what Slack refuses: HTTP 400 `invalid_blocks`
 * for more than 50 blocks, a section whose text is empty or over 3000 characters, or a block that
 * is not a section/context/divider/header; `invalid_payload` for a body that is not JSON with
 * `text` or `blocks`. It answers 200 `ok` otherwise and keeps what it accepted.
 */
export interface FakeSlack {
  url: string;
  accepted: SlackMessage[];
  refused: Array<{ reason: string; body: string }>;
  close(): Promise<void>;
}

export interface SlackMessage {
  text?: string;
  blocks?: Array<{ type: string; text?: { type: string; text: string } }>;
}

export function slackProblem(message: unknown): string | null {
  if (!message || typeof message !== 'object') return 'invalid_payload';
  const { text, blocks } = message as SlackMessage;
  if (typeof text !== 'string' && !Array.isArray(blocks)) return 'no_text';
  if (blocks === undefined) return null;
  if (!Array.isArray(blocks) || blocks.length > 50) return 'invalid_blocks';
  for (const block of blocks) {
    if (!['section', 'context', 'divider', 'header'].includes(block.type)) return 'invalid_blocks';
    if (block.type === 'section') {
      const sectionText = block.text?.text;
      if (typeof sectionText !== 'string' || sectionText.length === 0 || sectionText.length > 3000)
        return 'invalid_blocks';
    }
  }
  return null;
}

export async function startFakeSlack(): Promise<FakeSlack> {
  const accepted: SlackMessage[] = [];
  const refused: Array<{ reason: string; body: string }> = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      let message: unknown;
      try {
        message = JSON.parse(body);
      } catch {
        message = undefined;
      }
      const problem = request.method !== 'POST' ? 'invalid_method' : slackProblem(message);
      if (problem) {
        refused.push({ reason: problem, body });
        response.writeHead(400, { 'content-type': 'text/plain' }).end(problem);
        return;
      }
      accepted.push(message as SlackMessage);
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/XXXX`,
    accepted,
    refused,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
