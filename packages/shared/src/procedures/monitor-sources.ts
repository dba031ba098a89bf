import type { MetricSource } from '../analysis';
import { batchRemotes, buildMetricSources, NginxLogSource } from '../analysis/sources';
import type { HostSession } from '../fleet';
import { nginxName } from '../traffic';
import type { Color } from '../domain';
import type { AccessLogReading, MonitorSettings } from './monitor-types';

/** What the monitor reads: its metric sources, and what the nginx-log source says of the logs it read. */

/** The sources the settings list, as the source registry builds them (analysis/sources/registry.ts), over one batched remote per host. */
export function buildSources(
  sessions: readonly HostSession[],
  settings: MonitorSettings,
  running: readonly Color[],
  versions: Partial<Record<Color, string>>,
): MetricSource[] {
  // One SSH command per host per interval for every host-side figure, max-parallel hosts at once.
  const batched = batchRemotes(
    sessions.map((session) => session.remote),
    settings.maxParallel,
  );
  return buildMetricSources(settings.sources, {
    app: settings.app,
    hosts: sessions.map((session) => ({
      remote: batched.get(session.remote) ?? session.remote,
      host: session.spec,
      ...(settings.mode === 'canary' && session.state.canary?.logMark ? { logMark: session.state.canary.logMark } : {}),
    })),
    colors: running,
    versions,
    options: {
      healthPath: settings.healthPath,
      probePath: settings.probePath,
      probeRequests: settings.probeRequests,
      memory: settings.memory,
      prometheus: settings.prometheus,
      ...(settings.router ? { router: settings.router } : {}),
    },
  });
}

/** What the nginx-log source among `built` read, when there is one. */
export function accessLogReading(built: readonly MetricSource[]): AccessLogReading | undefined {
  const source = built.find((item): item is NginxLogSource => item instanceof NginxLogSource);
  return source ? { logs: source.logs, skipped: source.skipped, unformatted: source.unformatted } : undefined;
}

/** The logs read, said once when every host has the same path. */
export function logsRead(logs: AccessLogReading['logs']): string {
  const paths = [...new Set(logs.map((log) => log.path))];
  return paths.length === 1
    ? `the access log ${paths[0]} (on ${logs.length} host${logs.length === 1 ? '' : 's'})`
    : `the access logs ${logs.map((log) => `${log.path} on ${log.host}`).join(', ')}`;
}

/**
 * Why a canary saw no request although the log grew: its lines are in another format (nginx's
 * combined, from an access_log line without the format name, or another app's log). Said with the
 * log, the count and what to check.
 */
export function wrongLogFormat(app: string, reading: AccessLogReading): string {
  const paths = [...new Set(reading.logs.map((log) => log.path))];
  const path = paths.length === 1 ? paths[0] : '<access-log>';
  const lines = `${reading.unformatted} line${reading.unformatted === 1 ? '' : 's'}`;
  return [
    `${logsRead(reading.logs)} had ${lines} not in the agent_loop log format (skipped) and no request of ${app}'s canary: `,
    `check that the server block that proxies to $${nginxName(app)} writes this file with 'access_log ${path} agent_loop;' `,
    '(without the format name nginx writes its combined format), and that access-log names that file; host-setup with phase: doctor and app checks both',
  ].join('');
}
