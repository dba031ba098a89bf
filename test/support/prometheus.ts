import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../packages/shared/test/support/local-remote';

/** A real Prometheus (Debian's package) on a free loopback port, scraping the given app ports every second. */
export interface RunningPrometheus {
  url: string;
  dir: string;
  stop(): Promise<void>;
  /** Waits until a query returns at least one series (the first scrape comes ~5 s after start). */
  waitForData(query: string, timeoutMs?: number): Promise<void>;
}

export interface PrometheusOptions {
  /** Rule files to load (copied as given: set their groups' interval small for a test). */
  ruleFiles?: string[];
  /** The scrape job's name (default agentloop). */
  job?: string;
}

export async function startPrometheus(
  targets: Array<{ port: number; labels: Record<string, string> }>,
  options: PrometheusOptions = {},
): Promise<RunningPrometheus> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'al-prometheus-'));
  const port = await freePort();
  // The app's gauges carry no app/color labels: the targets add them (honor_labels keeps the
  // app's own labels on the metrics that have them).
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    ...(options.ruleFiles && options.ruleFiles.length > 0
      ? ['rule_files:', ...options.ruleFiles.map((file) => `  - ${JSON.stringify(file)}`)]
      : []),
    'scrape_configs:',
    `  - job_name: ${options.job ?? 'agentloop'}`,
    '    honor_labels: true',
    '    static_configs:',
    ...targets.flatMap((target) => [
      `      - targets: ['127.0.0.1:${target.port}']`,
      `        labels: { ${Object.entries(target.labels)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')} }`,
    ]),
    '',
  ].join('\n');
  await fs.writeFile(path.join(dir, 'prometheus.yml'), config);
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const stderr: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    dir,
    async waitForData(query, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
          const body = (await response.json()) as { data?: { result?: unknown[] } };
          if ((body.data?.result?.length ?? 0) > 0) return;
        } catch {
          // not up yet
        }
        if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr.join('')}`);
        if (Date.now() > deadline)
          throw new Error(`prometheus had no data for ${query} after ${timeoutMs} ms: ${stderr.join('')}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
