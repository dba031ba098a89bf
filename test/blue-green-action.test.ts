import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blueGreenLabInputs } from './support/deploy-settings';
import { startLab, type Lab } from './lab/index';
import { runAction } from './lab/run-action';
import { sendTraffic } from './lab/traffic';
import { startRecorder, type Recorder } from './support/recorder';
import { changedKnownHosts } from './support/fixtures';

/**
 * The bundle as GitHub runs it: actions/blue-green/dist/index.js under Node 24, inputs as
 * INPUT_<NAME> variables, outputs and summary through the runner's files.
 */

let lab: Lab;
let slack: Recorder;
let webhookUrl: string;

function inputs(overrides: Record<string, string> = {}): Record<string, string> {
  return blueGreenLabInputs(lab, { 'slack-webhook-url': webhookUrl, ...overrides });
}

/** What a person could see: the log without the runner's own ::add-mask:: commands, outputs, summary. */
function visible(result: { stdout: string; stderr: string; outputs: Record<string, string>; summary: string }): string {
  const log = `${result.stdout}\n${result.stderr}`
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n');
  return [log, JSON.stringify(result.outputs), result.summary].join('\n');
}

beforeAll(async () => {
  lab = await startLab({ hosts: 2 });
  slack = await startRecorder();
  webhookUrl = `${slack.url}/services/T0SECRET/B0SECRET/xoxSecretWebhookToken`;
});

afterAll(async () => {
  await lab?.stop();
  await slack?.close();
});

describe('blue-green bundle: bad input is refused before anything runs', () => {
  const hostile: Array<[string, string, Record<string, string>?]> = [
    ['app', 'agentloop; rm -rf /'],
    ['app', '$(id)'],
    ['app', '`id`'],
    ['app', 'agent\nloop'],
    ['app', '../etc'],
    ['app', 'a'.repeat(41)],
    ['version', 'v1; touch /tmp/pwned'],
    ['version', '$(touch /tmp/pwned)'],
    ['version', 'v1\nv2'],
    ['image', 'registry.example/app:1 --privileged'],
    ['image', 'registry.example/app:$(id)'],
    ['image', 'Registry.Example/App:1'],
    ['canary-percent', '101'],
    ['canary-percent', '-1'],
    ['canary-percent', '10%'],
    ['blue-port', '0'],
    ['green-port', '70000'],
    ['hosts', 'root@127.0.0.1:22;id'],
    ['hosts', 'root@127.0.0.1:abc'],
    ['hosts', 'root@$(id):22'],
    ['hosts', `root@${'a'.repeat(70_000)}`],
    ['hosts', '- host: root@127.0.0.1:22\n  state-dir: ../../etc'],
    ['smoke-requests', '- method: POST\n  path: [unclosed'],
    ['smoke-requests', '- method: GET\n  path: ../../etc/passwd'],
    ['smoke-requests', '- method: TRACE\n  path: /'],
    ['split-key', '$remote_addr; return 500'],
    ['split-key', '"$remote_addr"'],
    ['state-dir', '../../etc'],
    ['nginx-conf-dir', '/etc/nginx/conf.d/../..'],
    ['nginx-command', 'nginx; reboot'],
    ['phase', 'destroy'],
    ['start-command', 'run {cmd}'],
    ['health-path', 'health'],
    ['drain-seconds', '1e3'],
    ['ssh-known-hosts', 'garbage'],
    ['slack-webhook-url', 'http://hooks.slack.example/services/T0/B0/plainHttpSecret'],
    ['ssh-private-key', 'not a key at all'],
    ['version', '', { phase: 'deploy' }],
  ];

  it(`rejects ${hostile.length} hostile or malformed values, each with an error naming the input`, async () => {
    const listing = () => lab.hosts.map((host) => [readdirSync(host.stateDir), readdirSync(host.nginxConfDir)]);
    const before = listing();
    const pidsBefore = await lab.appPids();
    const results: Array<{ name: string; value: string; code: number; error: string; visible: string }> = [];
    for (let i = 0; i < hostile.length; i += 4) {
      const batch = hostile.slice(i, i + 4);
      results.push(
        ...(await Promise.all(
          batch.map(async ([name, value, extra]) => {
            const result = await runAction({
              action: 'blue-green',
              inputs: inputs({ image: 'registry.example/agent-loop:v1', version: 'v1', ...extra, [name]: value }),
            });
            const error = result.stdout
              .split('\n')
              .filter((line) => line.startsWith('::error::'))
              .join('\n');
            return { name, value, code: result.code, error, visible: visible(result) };
          }),
        )),
      );
    }
    for (const result of results) {
      expect(result.code, `${result.name}=${JSON.stringify(result.value.slice(0, 40))}`).toBe(1);
      expect(result.error, `${result.name}=${JSON.stringify(result.value.slice(0, 40))}`).toContain(
        `Input '${result.name}'`,
      );
    }
    // Secrets given as bad values are not echoed back.
    const webhook = results.find((result) => result.name === 'slack-webhook-url')!;
    expect(webhook.visible).not.toContain('plainHttpSecret');
    // Nothing reached the hosts: no state, no lock, no include, no process, no Slack message.
    expect(listing()).toEqual(before);
    expect(await lab.appPids()).toEqual(pidsBefore);
    expect(slack.requests).toHaveLength(0);
  });

  it('fails with exit 1 and a ::error:: naming a missing required input', async () => {
    const { hosts: _hosts, ...rest } = inputs();
    const result = await runAction({
      action: 'blue-green',
      inputs: { ...rest, image: 'registry.example/agent-loop:v1', version: 'v1' },
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^::error::Input 'hosts': is required/m);
    expect(result.outputs).toEqual({});
    // The summary says it too, and what to do: a run that stopped early leaves no empty page.
    expect(result.summary).toMatch(/^### ❌ \S+: the step stopped\n\n```text\nInput 'hosts': is required/);
    expect(result.summary).toContain(
      '- **Next:** Do what the message says (it names the input or the holder in the way), then re-run.',
    );
  });
});

describe('blue-green bundle: a full deploy', () => {
  it('deploys v1, sends a canary of v2, promotes, with outputs, summary and Slack messages', async () => {
    const first = await runAction({
      action: 'blue-green',
      inputs: inputs({ image: 'registry.example/agent-loop:v1', version: 'v1' }),
    });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.outputs).toMatchObject({ 'active-color': 'blue', version: 'v1', 'canary-percent': '100' });
    await lab.enableSite();

    const canary = await runAction({
      action: 'blue-green',
      inputs: inputs({ image: 'registry.example/agent-loop:v2', version: 'v2', 'canary-percent': '25' }),
    });
    expect(canary.code).toBe(0);
    expect(canary.outputs).toMatchObject({
      'active-color': 'green',
      'previous-color': 'blue',
      version: 'v2',
      'previous-version': 'v1',
      'canary-percent': '25',
    });
    expect(Number(canary.outputs['switch-ms'])).toBeGreaterThan(0);
    const report = JSON.parse(canary.outputs.report!) as Array<{
      host: string;
      outcome: string;
      weightsAfter: { blue: number; green: number };
    }>;
    expect(report.map((host) => [host.host, host.outcome, host.weightsAfter])).toEqual(
      lab.hosts.map((host) => [host.target, 'success', { blue: 75, green: 25 }]),
    );
    expect(canary.summary).toContain('| host | outcome |');
    expect(canary.summary).toContain('blue 75% / green 25%');
    expect(canary.summary).toContain('POST /run-agent');
    const split = await sendTraffic({ url: lab.hosts[0]!.proxyUrl, maxRequests: 1000, concurrency: 8 });
    expect(split.byVersion.v2).toBeGreaterThan(150);
    expect(split.byVersion.v2).toBeLessThan(350);

    const promoted = await runAction({ action: 'blue-green', inputs: inputs({ phase: 'promote', version: 'v2' }) });
    expect(promoted.code).toBe(0);
    expect(promoted.outputs).toMatchObject({
      'active-color': 'green',
      'previous-color': 'blue',
      version: 'v2',
      'canary-percent': '100',
    });
    expect((await sendTraffic({ url: lab.hosts[1]!.proxyUrl, maxRequests: 200 })).byVersion).toEqual({ v2: 200 });

    // Phase status: read only, no runtime inputs needed, no lock, no Slack message (the counts below stay at three).
    const {
      runtime: _runtime,
      'start-command': _start,
      'stop-command': _stop,
      ...readOnly
    } = inputs({ phase: 'status' });
    const states = lab.hosts.map((host) => readFileSync(`${host.stateDir}/${lab.app}/state.json`, 'utf8'));
    const status = await runAction({ action: 'blue-green', inputs: readOnly });
    expect(status.code).toBe(0);
    const hosts = JSON.parse(status.outputs.status!) as Array<{
      host: string;
      served: unknown;
      colors: { green: { version: string } };
      lock: unknown;
      rollbackPrevious: string;
    }>;
    expect(hosts.map((host) => [host.host, host.served, host.colors.green.version, host.lock])).toEqual(
      lab.hosts.map((host) => [host.target, { blue: 0, green: 100 }, 'v2', null]),
    );
    expect(hosts[0]!.rollbackPrevious).toBe('v1 on blue (started again first), taking v2 out');
    expect(status.summary).toContain(`${lab.app}: status of 2 host(s)`);
    expect(status.summary).toContain('| host | serves | blue | green | canary | lock | rollback (previous) |');
    // Host labels are code in the table: GitHub would turn user@host into an e-mail link.
    for (const host of lab.hosts) expect(status.summary).toContain(`| \`${host.target}\` |`);
    expect(status.stdout).toMatch(/serves blue 0% \/ green 100%; blue v1 stopped, green v2 running/);
    expect(lab.hosts.map((host) => readFileSync(`${host.stateDir}/${lab.app}/state.json`, 'utf8'))).toEqual(states);

    // Slack: started and completed for each of the three runs, with the duration.
    const texts = slack.requests.map((request) => (request.json as { text: string }).text);
    expect(texts.filter((text) => text.includes('started'))).toHaveLength(3);
    expect(texts.filter((text) => text.includes('completed'))).toHaveLength(3);
    expect(JSON.stringify(slack.requests.at(-1)!.json)).toMatch(/duration:\* \d+\.\d s/);
    expect(
      slack.requests.every((request) => request.path === '/services/T0SECRET/B0SECRET/xoxSecretWebhookToken'),
    ).toBe(true);

    // Secrets: neither the key nor the webhook URL shows anywhere a person or a later step could read.
    const keyBody = lab.clientKey.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'));
    for (const run of [first, canary, promoted, status]) {
      const seen = visible(run);
      expect(seen).not.toContain('xoxSecretWebhookToken');
      for (const line of keyBody) expect(seen).not.toContain(line);
    }
  });

  it('a failed deploy exits 1, sends a failure message, and leaves traffic on the stable color', async () => {
    await lab.setKnobs('v3', { errorRate: 1 });
    const before = slack.requests.length;
    const failed = await runAction({
      action: 'blue-green',
      inputs: inputs({ image: 'registry.example/agent-loop:v3', version: 'v3' }),
    });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/::error::no traffic was moved, because:/);
    expect(failed.summary).toContain('❌ failed');
    const messages = slack.requests.slice(before).map((request) => JSON.stringify(request.json));
    expect(messages.some((text) => text.includes('failed') && text.includes('answered 500'))).toBe(true);
    expect((await sendTraffic({ url: lab.hosts[0]!.proxyUrl, maxRequests: 200 })).byVersion).toEqual({ v2: 200 });
    const state = JSON.parse(readFileSync(`${lab.hosts[0]!.stateDir}/${lab.app}/state.json`, 'utf8')) as {
      active: string;
    };
    expect(state.active).toBe('green');
  });
});

describe('blue-green bundle: phase status', () => {
  it('warns of a changed host key it accepts only because insecure-skip-host-key-check is true, as every other phase does (security finding 7)', async () => {
    const {
      runtime: _runtime,
      'start-command': _start,
      'stop-command': _stop,
      ...readOnly
    } = inputs({ phase: 'status', 'ssh-known-hosts': changedKnownHosts(lab), 'insecure-skip-host-key-check': 'true' });
    const status = await runAction({ action: 'blue-green', inputs: readOnly });
    expect(status.code).toBe(0);
    const warnings = status.stdout.split('\n').filter((line) => line.startsWith('::warning::'));
    for (const host of lab.hosts)
      expect(warnings).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^::warning::${host.target.replace(/\./g, '\\.')}: host key SHA256:\\S+ is changed, accepted because insecure-skip-host-key-check is true$`,
          ),
        ),
      );
  });
});
