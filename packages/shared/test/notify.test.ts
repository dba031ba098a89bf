import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { notifySlack, slackPayload, type Notice } from '../src/notify';
import { freePort } from './support/local-remote';

const notice: Notice = {
  event: 'completed',
  title: 'shop 1.4.0 deployed to production',
  fields: { version: '1.4.0', hosts: '2', weights: 'blue 90% / green 10%' },
  durationMs: 12_345,
  runUrl: 'https://github.com/acme/shop/actions/runs/42',
};

/** A stand-in Slack: answers with the status set per path and records what it received. */
let server: http.Server;
let base: string;
let received: Array<{ url: string; contentType: string | undefined; body: string }> = [];

beforeAll(async () => {
  server = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      received.push({ url: request.url ?? '', contentType: request.headers['content-type'], body });
      const status = Number(/\/status\/(\d+)\//.exec(request.url ?? '')?.[1] ?? 200);
      // Like a proxy's error page, a failure names the path it was asked for.
      response.writeHead(status).end(status === 200 ? 'ok' : `no_service for ${request.url}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received = [];
});

describe('slackPayload', () => {
  it('puts the title with its icon first, then one line per field, the duration, the error and a link', () => {
    expect(slackPayload({ ...notice, event: 'failed', error: 'smoke POST /run-agent answered 500' })).toEqual({
      text: ':x: shop 1.4.0 deployed to production',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: '*:x: shop 1.4.0 deployed to production*' } },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: [
              '*version:* 1.4.0',
              '*hosts:* 2',
              '*weights:* blue 90% / green 10%',
              '*duration:* 12.3 s',
              '*error:* smoke POST /run-agent answered 500',
              '<https://github.com/acme/shop/actions/runs/42|workflow run>',
            ].join('\n'),
          },
        },
      ],
    });
  });

  it.each([
    ['started', ':rocket:'],
    ['completed', ':white_check_mark:'],
    ['failed', ':x:'],
    ['rolled-back', ':rewind:'],
  ] as const)('marks %s with %s and leaves out what is not given', (event, icon) => {
    const payload = slackPayload({ event, title: 'T', fields: {} }) as { text: string; blocks: Array<{ text: { text: string } }> };
    expect(payload.text).toBe(`${icon} T`);
    expect(payload.blocks[1]?.text.text).toBe('');
  });
});

describe('notifySlack', () => {
  it('posts the payload as JSON and returns true', async () => {
    const warnings: string[] = [];
    expect(await notifySlack(`${base}/services/T000/B000/ok`, notice, (message) => warnings.push(message))).toBe(true);
    expect(warnings).toEqual([]);
    expect(received).toHaveLength(1);
    expect(received[0]?.url).toBe('/services/T000/B000/ok');
    expect(received[0]?.contentType).toBe('application/json');
    expect(JSON.parse(received[0]?.body ?? '')).toEqual(slackPayload(notice));
  });

  it('does nothing without a webhook URL', async () => {
    const warnings: string[] = [];
    expect(await notifySlack('', notice, (message) => warnings.push(message))).toBe(false);
    expect(warnings).toEqual([]);
    expect(received).toEqual([]);
  });

  it('on a 4xx warns at once, without retrying', async () => {
    const warnings: string[] = [];
    expect(await notifySlack(`${base}/status/404/SECRETTOKEN`, notice, (message) => warnings.push(message))).toBe(false);
    expect(warnings).toEqual(['the Slack notification (completed) was not delivered: Slack answered HTTP 404']);
    expect(received).toHaveLength(1);
  });

  it('on a 500, or when nothing answers, warns without the webhook URL and returns false', async () => {
    // Both are retried with backoff by the HTTP client: run side by side to keep the test short.
    const serverError = `${base}/status/500/services/T000/B000/SECRETTOKEN`;
    const nobody = `http://127.0.0.1:${await freePort()}/services/SECRETTOKEN`;
    const serverErrorWarnings: string[] = [];
    const nobodyWarnings: string[] = [];
    const delivered = await Promise.all([
      notifySlack(serverError, notice, (message) => serverErrorWarnings.push(message)),
      notifySlack(nobody, notice, (message) => nobodyWarnings.push(message)),
    ]);
    expect(delivered).toEqual([false, false]);
    expect(serverErrorWarnings).toHaveLength(1);
    expect(serverErrorWarnings[0]).toMatch(/^the Slack notification \(completed\) was not delivered: HTTP 500\b/);
    expect(received.length).toBeGreaterThanOrEqual(1);
    expect(received.every((request) => request.url === '/status/500/services/T000/B000/SECRETTOKEN')).toBe(true);
    expect(nobodyWarnings).toHaveLength(1);
    expect(nobodyWarnings[0]).toMatch(/^the Slack notification \(completed\) was not delivered: /);
    expect([...serverErrorWarnings, ...nobodyWarnings].join('\n')).not.toContain('SECRETTOKEN');
  });
});
