import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, monitor, parsePolicy, type HostSpec } from '@agent-loop/shared';
import type { Lab, LabHost } from './lab/index';
import { startTraffic } from './lab/traffic';
import { deploySettings, monitorSettings } from './support/deploy-settings';
import { startServingLab } from './support/fixtures';

/**
 * The canary judged from the wrong log: a real nginx whose server block writes the access log the
 * monitor reads, but with `access_log <file>;` and no format name, so in nginx's `combined` format,
 * while traffic flows through both colors. The monitor counts no canary request; it says how many
 * lines it skipped as not in the agent_loop format, and its inconclusive verdict names the log,
 * the count and the `access_log … agent_loop` line to check. With the agent_loop format, the same
 * traffic is counted and nothing is skipped.
 */

let lab: Lab;
let hosts: HostSpec[];
let host: LabHost;

/** The lab's server block for the app, with this access_log line; nginx reloaded. */
function serverBlock(accessLogLine: string): void {
  const args = ['-p', `${host.nginxPrefix}/`, '-c', 'conf/nginx.conf'];
  writeFileSync(
    join(host.nginxPrefix, 'sites', `${lab.app}.conf`),
    `server {\n  listen 127.0.0.1:${host.proxyPort};\n  location / {\n    proxy_pass http://$agent_loop_${lab.app.replaceAll('-', '_')};\n    proxy_http_version 1.1;\n    proxy_set_header Connection "";\n    ${accessLogLine}\n  }\n}\n`,
  );
  execFileSync('nginx', [...args, '-t'], { stdio: 'ignore' });
  execFileSync('nginx', [...args, '-s', 'reload'], { stdio: 'ignore' });
}

/** A 50% canary of `version`, watched for 10 s from the access log while traffic flows. */
async function watchCanary(version: string) {
  const deployed = await deploy(
    hosts,
    deploySettings(lab, version, { canaryPercent: 50, splitKey: '$request_id', smokeRequests: [] }),
  );
  expect(deployed.error).toBeUndefined();
  const traffic = startTraffic({ url: host.proxyUrl, concurrency: 4, durationMs: 30_000, ratePerSecond: 40 });
  const warnings: string[] = [];
  try {
    const policy = parsePolicy({ duration: 10, interval: 1, 'min-requests': 10, 'max-extensions': 0 });
    const log = {
      info: () => undefined,
      warn: (message: string) => void warnings.push(message),
      group: <T>(_title: string, body: () => Promise<T>) => body(),
    };
    const result = await monitor(hosts, {
      ...monitorSettings(lab, policy, { sources: ['nginx-log'], autoRollback: false }),
      log,
    });
    const seen = await traffic.stop();
    return { result, warnings, seen };
  } catch (error) {
    await traffic.stop();
    throw error;
  }
}

beforeAll(async () => {
  ({ lab, hosts } = await startServingLab('v1', { hosts: 1 }));
  host = lab.hosts[0]!;
}, 60_000);

afterAll(async () => {
  await lab?.stop();
});

describe('canary-monitor reading an access log nginx writes in another format', () => {
  it("in nginx's default combined format: no canary request, skipped lines counted, the verdict names the log, the line count and what to check", async () => {
    serverBlock(`access_log ${host.accessLog};`);
    const { result, warnings, seen } = await watchCanary('v2');
    // Traffic really flowed, through nginx, to both colors, and nginx logged it in its own format.
    expect(seen.ok).toBeGreaterThan(50);
    expect(Object.keys(seen.byColor).sort()).toEqual(['blue', 'green']);
    expect(readFileSync(host.accessLog, 'utf8')).toMatch(
      /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/ HTTP\/1\.1" 200 \d+ "-" /m,
    );

    expect(result.verdict).toBe('inconclusive');
    expect(result.analysis.canaryRequests).toBe(0);
    const skipped = result.accessLog?.unformatted ?? 0;
    expect(skipped).toBeGreaterThan(50);
    expect(result.accessLog).toMatchObject({ logs: [{ host: hosts[0]!.target.label, path: host.accessLog }], skipped });
    expect(result.reason).toContain('too little traffic: 0 canary requests');
    expect(result.reason).toContain(
      `the access log ${host.accessLog} (on 1 host) had ${skipped} lines not in the agent_loop log format (skipped) and no request of ${lab.app}'s canary`,
    );
    expect(result.reason).toContain(
      `check that the server block that proxies to $agent_loop_${lab.app} writes this file with 'access_log ${host.accessLog} agent_loop;'`,
    );
    expect(warnings).toContain(
      `the access log ${host.accessLog} (on 1 host): ${skipped} lines skipped as not in the agent_loop log format (${skipped} skipped in all)`,
    );
  }, 60_000);

  it('in the agent_loop format: the same traffic is counted, nothing is skipped, the verdict does not blame the log', async () => {
    serverBlock(`access_log ${host.accessLog} agent_loop;`);
    const { result, warnings } = await watchCanary('v3');
    expect(result.analysis.canaryRequests).toBeGreaterThan(10);
    expect(result.accessLog?.unformatted).toBe(0);
    expect(result.reason).not.toContain('agent_loop log format');
    expect(warnings.join('\n')).not.toContain('not in the agent_loop log format');
  }, 60_000);
});
