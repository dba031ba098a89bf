import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, type AppState, type HostSpec } from '@agent-loop/shared';
import type { Lab } from './lab/index';
import { runAction } from './lab/run-action';
import { sendTraffic, startTraffic } from './lab/traffic';
import { deploySettings, labActionInputs } from './support/deploy-settings';
import { startAnnouncers, startServingLab, type Announcers } from './support/fixtures';
import type { Recorder } from './support/recorder';

/** The canary-monitor bundle as GitHub runs it: a bad canary under steady traffic is caught and rolled back. */

let lab: Lab;
let hosts: HostSpec[];
let github: Recorder;
let slack: Recorder;
let announcers: Announcers;

function inputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...labActionInputs(lab),
    duration: '60',
    interval: '1',
    memory: 'none',
    'github-token': 'ghs_monitorTokenSecret',
    'slack-webhook-url': `${slack.url}/services/T0/B0/monitorWebhookSecret`,
    ...extra,
  };
}

beforeAll(async () => {
  ({ lab, hosts } = await startServingLab('v1'));
  announcers = await startAnnouncers();
  ({ github, slack } = announcers);
});

afterAll(async () => {
  try {
    await announcers?.close();
  } finally {
    await lab?.stop();
  }
});

describe('canary-monitor bundle', () => {
  it('refuses bad inputs before anything runs', async () => {
    const cases: Array<[string, string]> = [
      ['mode', 'yolo'],
      ['steps', '50,25'],
      ['steps', '10,abc'],
      ['sources', 'nginx-log,syslog'],
      ['policy', 'rules: [{name: x, metric: cpu, max: 1}]'],
      ['policy', 'duration: [unclosed'],
      ['duration', '-5'],
      ['rollback-on', 'success'],
      ['access-log', '../../etc/shadow'],
      ['prometheus-url', 'http://prom"; drop'],
    ];
    for (const [name, value] of cases) {
      const result = await runAction({ action: 'canary-monitor', inputs: inputs({ [name]: value }) });
      expect(result.code, `${name}=${value}`).toBe(1);
      expect(result.stdout, `${name}=${value}`).toContain(`::error::Input '${name}'`);
    }
    const missing = await runAction({ action: 'canary-monitor', inputs: inputs({ sources: 'prometheus' }) });
    expect(missing.stdout).toContain("::error::Input 'prometheus-url': is required when sources include prometheus");
    expect(github.requests).toHaveLength(0);
  });

  it('catches a canary answering 20% errors, rolls back in seconds, opens an incident and tells Slack', async () => {
    await lab.setKnobs('v2', { errorRate: 0.2 });
    expect((await deploy(hosts, deploySettings(lab, 'v2', { splitKey: '$request_id', smokeRequests: [] }))).ok).toBe(
      true,
    );
    const traffic = lab.hosts.map((host) =>
      startTraffic({ url: host.proxyUrl, concurrency: 4, durationMs: 50_000, ratePerSecond: 50 }),
    );
    // The textfile collector's directory, as a prepared host has it (both lab hosts share this machine).
    const textfile = join(lab.dir, 'textfile');
    mkdirSync(textfile, { recursive: true });
    const result = await runAction({
      action: 'canary-monitor',
      inputs: inputs({ 'metrics-textfile-dir': textfile, 'failed-deployment-id': '77' }),
      env: { GITHUB_API_URL: github.url },
      timeoutMs: 90_000,
    });
    const seen = await Promise.all(traffic.map((t) => t.stop()));
    // The rollback put v1 back: the DeploymentFailed alert's series says so.
    expect(readFileSync(join(textfile, `agent_loop_${lab.app}_production.prom`), 'utf8')).toMatch(
      new RegExp(`agent_loop_deployment_failed\\{app="${lab.app}",environment="production",version="v1"\\} 0`),
    );

    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/::error::canary failure: error-rate.* — rolled back to v1 in \d+\.\d s/);
    expect(result.outputs).toMatchObject({ verdict: 'failure', 'rolled-back': 'true', 'canary-version': 'v2' });
    expect(Number(result.outputs['detect-seconds'])).toBeLessThan(30);
    expect(Number(result.outputs['rollback-ms'])).toBeLessThan(5000);
    const rules = JSON.parse(result.outputs.rules!) as Array<{ name: string; status: string; observed: number }>;
    expect(rules.find((rule) => rule.name === 'error-rate')).toMatchObject({ status: 'fail' });
    expect(result.summary).toContain(
      '```mermaid\n%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "#0969da, #1a7f37"}}}}%%\nxychart-beta',
    );
    // Verdict, what was done and the incident come first; the charts last.
    expect(result.summary).toMatch(
      new RegExp(
        `^### ❌ ${lab.app}: canary v2 failed; rolled back to v1\n\n- \\*\\*Verdict:\\*\\* ❌ failure: error-rate: `,
      ),
    );
    // A link to the issue; its label is text (forMarkdown), so its :// is escaped.
    expect(result.summary).toContain(
      `- **Incident:** [${result.outputs['incident-url']!.replace('://', '\\://')}](${result.outputs['incident-url']})`,
    );
    expect(result.summary.indexOf('- **Incident:**')).toBeLessThan(result.summary.indexOf('```mermaid'));
    expect(result.summary).toMatch(/\| error-rate \| gate \|/);
    expect(result.summary).toMatch(/Traffic restored in \d+\.\d s ✅/);

    expect((await sendTraffic({ url: lab.hosts[1]!.proxyUrl, maxRequests: 100 })).byVersion).toEqual({ v1: 100 });
    const state = JSON.parse(readFileSync(`${lab.hosts[0]!.stateDir}/${lab.app}/state.json`, 'utf8')) as AppState;
    expect(state).toMatchObject({ active: 'blue', canary: null });
    expect(state.history.at(-1)).toMatchObject({ action: 'rollback', version: 'v1' });
    for (const t of seen) expect(t.failed).toBe(0);

    const issue = github.requests.find((request) => request.path === '/repos/org/service/issues')!.json as {
      title: string;
      labels: string[];
      body: string;
    };
    expect(issue.title).toBe(`Rollback: ${lab.app} v2 → v1 in production`);
    expect(issue.labels).toEqual(['incident', 'severity:critical', 'rollback', 'canary']);
    expect(issue.body).toMatch(/\*\*Trigger:\*\* canary-monitor \(canary\): failure/);
    expect(issue.body).toContain('### Figures');
    expect(result.outputs['incident-url']).toMatch(/issues\/\d+$/);
    expect(JSON.stringify(slack.requests.at(-1)!.json)).toContain('rolled back to v1');
    // An event per step: the halt (rule and figures) as a log line, on Slack and as the watched
    // deployment's description; then the rollback, how long traffic took to come back. The reason
    // is annotated once, as the step's error, not once per event.
    const decoded = result.stdout.replaceAll('%0D', '\r').replaceAll('%0A', '\n').replaceAll('%25', '%');
    expect(decoded).toMatch(
      new RegExp(
        `^${lab.app}: v2 halted \\(failure\\): error-rate: canary \\d+(\\.\\d)?% errors over \\d+ requests > 1%`,
        'm',
      ),
    );
    expect(decoded).toMatch(
      new RegExp(`^${lab.app}: rolled back to v1: all traffic back \\d+\\.\\d s after the decision`, 'm'),
    );
    expect(decoded.match(/^::error::/gm)).toHaveLength(1);
    expect(decoded).not.toMatch(/^::warning::.*rolled back to v1/m);
    expect(
      slack.requests
        .map((request) => JSON.stringify(request.json))
        .some((text) => text.includes('v2 halted (failure)')),
    ).toBe(true);
    const statuses = github.requests
      .filter((request) => request.path === '/repos/org/service/deployments/77/statuses')
      .map((request) => request.json as { state: string; description: string });
    expect(statuses[0]).toMatchObject({
      state: 'in_progress',
      description: expect.stringMatching(/^v2 halted \(failure\): error-rate/),
    });
    expect(statuses.at(-1)).toMatchObject({ state: 'failure' });
    const seenText = [result.stdout, result.stderr, result.summary, JSON.stringify(result.outputs)]
      .join('\n')
      .split('\n')
      .filter((line) => !line.startsWith('::add-mask::'))
      .join('\n');
    expect(seenText).not.toContain('ghs_monitorTokenSecret');
    expect(seenText).not.toContain('monitorWebhookSecret');
  });
});
