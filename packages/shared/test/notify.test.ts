import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeSlack } from '../../../test/support/fake-slack';
import { forSlack } from '../src/action';
import { freePort } from './support/local-remote';
import { nameSome, notifySlack, slackPayload, summariseFailures, type Notice } from '../src/report/notify';

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
  ] as const)(
    'marks %s with %s and leaves out what is not given (no empty section: Slack refuses one)',
    (event, icon) => {
      const payload = slackPayload({ event, title: 'T', fields: {} }) as {
        text: string;
        blocks: Array<{ text: { text: string } }>;
      };
      expect(payload.text).toBe(`${icon} T`);
      expect(payload.blocks).toHaveLength(1);
    },
  );
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
    expect(await notifySlack(`${base}/status/404/SECRETTOKEN`, notice, (message) => warnings.push(message))).toBe(
      false,
    );
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

describe('what Slack would refuse or misread', () => {
  type Payload = { text: string; blocks: Array<{ type: string; text: { text: string } }> };
  // 40 hosts fail: 36 the same way, 4 each their own way; the messages carry markup.
  const hosts = Array.from({ length: 40 }, (_, index) => `deploy@10.0.${Math.floor(index / 10)}.${index + 11}:22`);
  const same = 'health check GET /health answered 503: <html><body>Service Unavailable & retry</body></html>';
  const error = hosts
    .map(
      (host, index) =>
        `${host}: ${index < 36 ? same : `smoke <script>alert(${index})</script> failed & <!channel> was mentioned`}`,
    )
    .join('\n');
  const failure: Notice = {
    event: 'failed',
    title: 'shop <1.5.0> & friends deploy failed',
    fields: { version: '<1.5.0>', hosts: '40' },
    error,
    durationMs: 61_000,
    runUrl: 'https://github.com/acme/shop/actions/runs/43',
  };

  it('escapes &, < and > in every text, keeping only the run link as a link', () => {
    const payload = slackPayload(failure) as Payload;
    const texts = [payload.text, ...payload.blocks.map((block) => block.text.text)].join('\n');
    expect(texts).not.toMatch(/<(?!https:\/\/github\.com\/acme\/shop\/actions\/runs\/43\|workflow run>)/);
    expect(texts).not.toMatch(/&(?!amp;|lt;|gt;)/);
    expect(texts).toContain('&lt;!channel&gt;');
    expect(payload.text).toBe(':x: shop &lt;1.5.0&gt; &amp; friends deploy failed');
    expect(forSlack('a & <b> &amp;')).toBe('a &amp; &lt;b&gt; &amp;amp;');
  });

  it('summarises 40 failed hosts in one section under 3000 characters: hosts named, same errors grouped', () => {
    const payload = slackPayload(failure) as Payload;
    expect(payload.blocks.length).toBeLessThanOrEqual(50);
    for (const block of payload.blocks) expect(block.text.text.length).toBeLessThanOrEqual(3000);
    const details = payload.blocks[1]!.text.text;
    expect(details).toContain(`*failed on 40 hosts:* ${hosts.slice(0, 5).join(', ')} … and 35 more`);
    expect(details).toContain(
      '• health check GET /health answered 503: ' +
        '&lt;html&gt;&lt;body&gt;Service Unavailable &amp; retry&lt;/body&gt;&lt;/html&gt; ' +
        `(${hosts.slice(0, 3).join(', ')} … and 33 more)`,
    );
    expect(details.split('\n').filter((line) => line.startsWith('• '))).toHaveLength(5);
    expect(details.endsWith('<https://github.com/acme/shop/actions/runs/43|workflow run>')).toBe(true);
  });

  it('cuts whole lines and says how many, keeping the run link, when the failures differ on every host', () => {
    const distinct = hosts.map((host, index) => `${host}: ${'x'.repeat(200)} distinct failure ${index}`).join('\n');
    const payload = slackPayload({ ...failure, error: distinct }) as Payload;
    const details = payload.blocks[1]!.text.text;
    expect(details.length).toBeLessThanOrEqual(3000);
    expect(details).toMatch(
      /\n… and \d+ more lines \(see the workflow run\)\n<https:\/\/github\.com\/acme\/shop\/actions\/runs\/43\|workflow run>$/,
    );
    const shown = details.split('\n').filter((line) => line.startsWith('• ')).length;
    const left = Number(/… and (\d+) more lines/.exec(details)![1]);
    expect(shown + left).toBe(40);
  });

  it('caps one very long error and very long fields', () => {
    const payload = slackPayload({
      ...failure,
      fields: { note: '<'.repeat(5000) },
      error: '&'.repeat(10_000),
    }) as Payload;
    for (const block of payload.blocks) expect(block.text.text.length).toBeLessThanOrEqual(3000);
    expect(payload.blocks[1]!.text.text).toContain('<https://github.com/acme/shop/actions/runs/43|workflow run>');
  });

  it('groups by message and names a few hosts', () => {
    expect(summariseFailures('one line only')).toBeNull();
    expect(summariseFailures('a@h1:22: refused\na@h2:22: refused\nh3: disk full')).toEqual({
      hosts: ['a@h1:22', 'a@h2:22', 'h3'],
      groups: [
        { message: 'refused', hosts: ['a@h1:22', 'a@h2:22'] },
        { message: 'disk full', hosts: ['h3'] },
      ],
    });
    expect(nameSome(['a', 'b'])).toBe('a, b');
    expect(nameSome(['a', 'b', 'c', 'd'], 2)).toBe('a, b … and 2 more');
  });

  it('a stand-in that refuses what Slack refuses accepts the 40-host failure (and refused the unescaped, uncapped one)', async () => {
    const slack = await startFakeSlack();
    try {
      const warnings: string[] = [];
      expect(await notifySlack(slack.url, failure, (message) => warnings.push(message))).toBe(true);
      expect(warnings).toEqual([]);
      expect(slack.accepted).toHaveLength(1);
      // What the old payload sent: every host's line in one section, 40 × ~110 characters.
      const old = {
        text: 'x',
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text: '*x*' } },
          { type: 'section', text: { type: 'mrkdwn', text: `*error:* ${error}` } },
        ],
      };
      const response = await fetch(slack.url, {
        method: 'POST',
        body: JSON.stringify(old),
        headers: { 'content-type': 'application/json' },
      });
      expect([response.status, await response.text()]).toEqual([400, 'invalid_blocks']);
    } finally {
      await slack.close();
    }
  });
});
