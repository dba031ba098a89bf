import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, promote, type AppState, type HostSpec } from '@agent-loop/shared';
import { startLab, type Lab } from './lab/index';
import { sendTraffic } from './lab/traffic';
import { deploySettings, labHosts, promoteSettings } from './support/deploy-settings';

/** Many hosts: traffic moves on none until all passed, and a late failure moves the others back. */

let lab: Lab;
let hosts: HostSpec[];
let scratch: string;

/**
 * Which versions 100 requests through each host's nginx reach. Bounded well inside the test's
 * time, and a host that does not answer them all is reported with its nginx error log and app
 * logs, so a failure says what happened instead of running into the test's timeout.
 */
async function versionsPerHost(): Promise<Array<Record<string, number>>> {
  return Promise.all(
    lab.hosts.map(async (host) => {
      const traffic = await sendTraffic({
        url: host.proxyUrl,
        maxRequests: 100,
        concurrency: 4,
        durationMs: 15_000,
        requestTimeoutMs: 3000,
      });
      if (traffic.sent === 100 && traffic.failed === 0) return traffic.byVersion;
      const tail = (file: string) =>
        existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-15).join('\n') : '(none)';
      const appLogs = readdirSync(join(lab.dir, 'logs')).map(
        (name) => `${name}:\n${tail(join(lab.dir, 'logs', name))}`,
      );
      throw new Error(
        `${host.name}: ${traffic.sent} of 100 requests finished, statuses ${JSON.stringify(traffic.statuses)}\n` +
          `nginx error.log:\n${tail(join(host.nginxPrefix, 'logs', 'error.log'))}\n${appLogs.join('\n')}`,
      );
    }),
  );
}

function liveWeights(index: number): unknown {
  const include = readFileSync(`${lab.hosts[index]!.nginxConfDir}/agent-loop-${lab.app}.conf`, 'utf8');
  return (JSON.parse(/^# agent-loop: (.*)$/m.exec(include)![1]!) as { weights: unknown }).weights;
}

beforeAll(async () => {
  lab = await startLab({ hosts: 3 });
  hosts = labHosts(lab);
  scratch = mkdtempSync(join(tmpdir(), 'al-hosts-'));
  const first = await deploy(hosts, deploySettings(lab, 'v1'));
  expect(first.ok).toBe(true);
  await lab.enableSite();
});

afterAll(async () => {
  await lab?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('blue-green on three hosts', () => {
  it('moves no traffic anywhere when one host fails its checks', async () => {
    // Something else already answers 503 on host 3's green port: the new color cannot start there.
    const squatter: Server = createServer((_request, response) => {
      response.writeHead(503);
      response.end('occupied');
    });
    await new Promise<void>((resolve) => squatter.listen(lab.hosts[2]!.greenPort, '127.0.0.1', resolve));
    try {
      const result = await deploy(hosts, deploySettings(lab, 'v2', { healthTimeoutSeconds: 3 }));
      expect(result.ok).toBe(false);
      expect(result.error).toMatch(new RegExp(`${lab.hosts[2]!.target}.*did not become healthy`));
      expect(result.hosts.map((report) => report.outcome)).toEqual(['unchanged', 'unchanged', 'failed']);
      expect(result.hosts.every((report) => report.weightsAfter === null)).toBe(true);
      expect(await versionsPerHost()).toEqual([{ v1: 100 }, { v1: 100 }, { v1: 100 }]);
      for (const host of lab.hosts) {
        const state = JSON.parse(readFileSync(`${host.stateDir}/${lab.app}/state.json`, 'utf8')) as AppState;
        expect(state.history.at(-1)).toMatchObject({ version: 'v2', outcome: 'failed' });
        expect(state.canary).toBeNull();
      }
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('moves every host back when one host cannot switch after others did', async () => {
    // Host 2's nginx accepts the configuration but refuses to reload: the switch fails there late.
    const wrapper = join(scratch, 'nginx-no-reload.sh');
    writeFileSync(
      wrapper,
      '#!/bin/sh\nfor arg in "$@"; do [ "$arg" = reload ] && { echo "simulated: reload refused" >&2; exit 1; }; done\nexec nginx "$@"\n',
    );
    chmodSync(wrapper, 0o755);
    const flaky = hosts.map((host, index) =>
      index === 1 ? { ...host, nginxCommand: ['sh', wrapper, ...host.nginxCommand.slice(1)] } : host,
    );
    const result = await deploy(flaky, deploySettings(lab, 'v3'));
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/switching traffic failed, every host is back on its previous weights/);
    expect(result.error).toMatch(/simulated: reload refused/);
    expect(result.hosts.map((report) => report.outcome)).toEqual(['reverted', 'unchanged', 'reverted']);
    for (const index of [0, 1, 2]) expect(liveWeights(index)).toEqual({ blue: 100, green: 0 });
    // Two reloads in quick succession: an old nginx worker may still accept a connection for a few
    // milliseconds before it handles its shutdown signal, so give the old generations a moment.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await versionsPerHost()).toEqual([{ v1: 100 }, { v1: 100 }, { v1: 100 }]);
    const first = JSON.parse(readFileSync(`${lab.hosts[0]!.stateDir}/${lab.app}/state.json`, 'utf8')) as AppState;
    expect(first.history.at(-1)).toMatchObject({ version: 'v3', outcome: 'reverted' });
    expect(first.canary).toBeNull();
  });

  it('then converges on a plain re-run and promotes on every host', async () => {
    const canary = await deploy(hosts, deploySettings(lab, 'v3', { canaryPercent: 50 }));
    expect(canary.ok).toBe(true);
    expect(canary.hosts.map((report) => report.weightsAfter)).toEqual([0, 1, 2].map(() => ({ blue: 50, green: 50 })));
    const promoted = await promote(hosts, promoteSettings(lab, 'v3'));
    expect(promoted.ok).toBe(true);
    expect(await versionsPerHost()).toEqual([{ v3: 100 }, { v3: 100 }, { v3: 100 }]);
  });
});
