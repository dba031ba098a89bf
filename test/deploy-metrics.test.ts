import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentMetricsText, metricsFileName } from '@agent-loop/shared';
import { startLab, type Lab } from './lab/index';
import { runAction } from './lab/run-action';
import { freePort } from '../packages/shared/test/support/local-remote';
import { labActionInputs } from './support/deploy-settings';
import { startPrometheus, type RunningPrometheus } from './support/prometheus';

/**
 * The DeploymentFailed alert fires for real: the blue-green bundle writes its outcome into
 * node_exporter's textfile collector directory on the host, Debian's prometheus-node-exporter
 * serves it, Prometheus scrapes it and evaluates the shipped rules, and the alert fires after a
 * failed deploy and resolves after the next good one.
 */

const root = join(import.meta.dirname, '..');
let lab: Lab;
let textfileDir: string;
let exporter: ChildProcess;
let prometheus: RunningPrometheus;
const exporterLog: string[] = [];

async function alerts(): Promise<Array<{ labels: Record<string, string>; state: string }>> {
  const response = await fetch(`${prometheus.url}/api/v1/alerts`);
  const body = (await response.json()) as {
    data: { alerts: Array<{ labels: Record<string, string>; state: string }> };
  };
  return body.data.alerts.filter((alert) => alert.labels.alertname === 'DeploymentFailed');
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`${what} within ${timeoutMs} ms (node exporter: ${exporterLog.join('').slice(-500)})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function failedValue(version: string): Promise<string | undefined> {
  const response = await fetch(
    `${prometheus.url}/api/v1/query?query=${encodeURIComponent(`agent_loop_deployment_failed{version="${version}"}`)}`,
  );
  const body = (await response.json()) as { data: { result: Array<{ value: [number, string] }> } };
  return body.data.result[0]?.value[1];
}

const deploy = (version: string) =>
  runAction({
    action: 'blue-green',
    inputs: {
      ...labActionInputs(lab),
      phase: 'deploy',
      image: `registry.example/app:${version}`,
      version,
      'canary-percent': '100',
      'health-timeout-seconds': '3',
      environment: 'production',
      'metrics-textfile-dir': textfileDir,
      'min-free-disk-mb': '1',
      'min-free-memory-mb': '1',
    },
  });

beforeAll(async () => {
  lab = await startLab({ hosts: 1 });
  textfileDir = mkdtempSync(join(tmpdir(), 'al-textfile-'));
  const port = await freePort();
  exporter = spawn(
    'prometheus-node-exporter',
    [
      `--web.listen-address=127.0.0.1:${port}`,
      '--collector.disable-defaults',
      '--collector.textfile',
      `--collector.textfile.directory=${textfileDir}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  exporter.stderr?.setEncoding('utf8').on('data', (chunk: string) => exporterLog.push(chunk));
  // The shipped rules, evaluated every second instead of every 15 s.
  const rules = join(textfileDir, '..', `al-rules-${process.pid}.yml`);
  writeFileSync(
    rules,
    readFileSync(join(root, 'prometheus', 'rules', 'deployment_alerts.yml'), 'utf8').replace(
      /^(\s+interval:\s*)\S+$/gm,
      '$11s',
    ),
  );
  prometheus = await startPrometheus([{ port, labels: { host: lab.hosts[0]!.name } }], {
    ruleFiles: [rules],
    job: 'node',
  });
  await lab.setKnobs('vbad', { healthStatus: 500 });
}, 60_000);

afterAll(async () => {
  if (exporter?.pid && exporter.exitCode === null) exporter.kill('SIGTERM');
  await prometheus?.stop();
  await lab?.stop();
  rmSync(textfileDir, { recursive: true, force: true });
  rmSync(join(textfileDir, '..', `al-rules-${process.pid}.yml`), { force: true });
});

describe('deployment metrics', () => {
  it('are in the text format node_exporter reads, with the failed flag, the time and the version', () => {
    expect(metricsFileName('shop', 'production')).toBe('agent_loop_shop_production.prom');
    expect(
      deploymentMetricsText({
        app: 'shop',
        environment: 'production',
        version: 'v"2',
        failed: true,
        time: 1700000000.5,
      }),
    ).toBe(
      [
        '# HELP agent_loop_deployment_failed 1 when the last deployment of this app to this environment failed, 0 when it succeeded.',
        '# TYPE agent_loop_deployment_failed gauge',
        'agent_loop_deployment_failed{app="shop",environment="production",version="v\\"2"} 1',
        '# HELP agent_loop_last_deployment_timestamp_seconds When the last deployment of this app to this environment ended.',
        '# TYPE agent_loop_last_deployment_timestamp_seconds gauge',
        'agent_loop_last_deployment_timestamp_seconds{app="shop",environment="production"} 1700000000',
        '',
      ].join('\n'),
    );
  });

  it('a good deploy writes 0 and nothing fires; a failed one fires DeploymentFailed; the next good one resolves it', async () => {
    const good = await deploy('v1');
    expect(good.code).toBe(0);
    expect(readdirSync(textfileDir)).toEqual([metricsFileName(lab.app, 'production')]);
    expect(await until('v1 scraped as 0', async () => ((await failedValue('v1')) === '0' ? true : undefined))).toBe(
      true,
    );
    expect(await alerts()).toEqual([]);

    const bad = await deploy('vbad');
    expect(bad.code).toBe(1);
    const file = readFileSync(join(textfileDir, metricsFileName(lab.app, 'production')), 'utf8');
    expect(file).toContain(`agent_loop_deployment_failed{app="${lab.app}",environment="production",version="vbad"} 1`);
    const firing = await until('DeploymentFailed firing', async () =>
      (await alerts()).find((alert) => alert.state === 'firing'),
    );
    expect(firing.labels).toMatchObject({
      alertname: 'DeploymentFailed',
      severity: 'critical',
      app: lab.app,
      environment: 'production',
      version: 'vbad',
      job: 'node',
    });

    const fixed = await deploy('v2');
    expect(fixed.code).toBe(0);
    await until('DeploymentFailed resolved', async () => ((await alerts()).length === 0 ? true : undefined));
    expect(await failedValue('v2')).toBe('0');
    // Only *.prom files are read: the temporary file of the atomic write is gone.
    expect(readdirSync(textfileDir)).toEqual([metricsFileName(lab.app, 'production')]);
  }, 120_000);
});
