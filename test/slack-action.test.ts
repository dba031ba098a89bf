import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../packages/shared/test/support/local-remote';
import { runAction } from './lab/run-action';
import { startFakeSlack, type FakeSlack } from './support/fake-slack';

/**
 * A deploy that fails on 40 hosts still reaches Slack: the blue-green bundle, run as the runner
 * runs it, against 40 hosts that refuse connections, posts a message that a stand-in refusing what
 * Slack refuses (over 3000 characters in a section, over 50 blocks) accepts, naming a few hosts
 * and how many more.
 */

let slack: FakeSlack;
let privateKey: string;
const hosts: string[] = [];
const keyDir = mkdtempSync(join(tmpdir(), 'al-slack-key-'));

beforeAll(async () => {
  slack = await startFakeSlack();
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'slack-test', '-f', join(keyDir, 'id')]);
  privateKey = readFileSync(join(keyDir, 'id'), 'utf8');
  // Ports that were free a moment ago: nothing listens, so each connection is refused at once.
  // Forty different ones: a port handed out twice would make the hosts input invalid (a duplicate
  // host), and the run would stop before any host is tried.
  const ports = new Set<number>();
  while (ports.size < 40) ports.add(await freePort());
  for (const port of ports) hosts.push(`deploy@127.0.0.1:${port}`);
});

afterAll(async () => {
  await slack?.close();
  rmSync(keyDir, { recursive: true, force: true });
});

it('a failure on 40 hosts is delivered to Slack, summarised within its limits', async () => {
  const result = await runAction({
    action: 'blue-green',
    inputs: {
      hosts: hosts.join('\n'),
      'ssh-private-key': privateKey,
      'insecure-skip-host-key-check': 'true',
      'ssh-connect-timeout-seconds': '5',
      'max-parallel': '40',
      app: 'shop',
      phase: 'deploy',
      image: 'registry.example/shop:1.5.0',
      version: '1.5.0',
      runtime: 'command',
      'start-command': 'true',
      'stop-command': 'true',
      'slack-webhook-url': slack.url,
    },
    timeoutMs: 180_000,
  });
  expect(result.code).toBe(1);
  expect(result.stdout).not.toMatch(/Slack notification .* was not delivered/);
  expect(slack.refused).toEqual([]);
  const failed = slack.accepted.find((message) => message.text?.startsWith(':x:'));
  expect(failed, result.stdout).toBeDefined();
  const details = failed!.blocks!.map((block) => block.text?.text ?? '').join('\n');
  expect(details).toContain(`*failed on 40 hosts:* ${hosts.slice(0, 5).join(', ')} … and 35 more`);
  for (const block of failed!.blocks!) expect((block.text?.text ?? '').length).toBeLessThanOrEqual(3000);
}, 200_000);
