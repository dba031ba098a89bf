import { nginxName } from '../../traffic';
import type { Remote } from '../../hosts';
import {
  AccessLogSource,
  emptyAccessTally,
  type AccessLogHost,
  type AccessTally,
  type NginxLogOptions,
} from './access-log';
import type { LogMark } from './log-mark';
import { emptyColorSample, latencyBucket } from '..';

/**
 * What users really got, from each host's nginx access log (the JSON `agent_loop` format): every
 * proxied request names its upstream (`agent_loop_<app>_<color>`), status and the upstream's answer time.
 *
 * Each sample reads only the bytes written since the previous one (access-log.ts follows the log,
 * log-read.ts reads it over SSH from a byte offset); this file is nginx's format.
 */

export interface NginxLogHost {
  remote: Remote;
  /** Path of the access log on the host, written in the `agent_loop` JSON format. */
  accessLog: string;
  app: string;
  /** Where the log stood at the canary switch (log-mark.ts): the first read starts there. */
  mark?: LogMark | undefined;
}

/** nginx's access log on one host, as the follower reads it: the agent_loop parser for the app. */
export const nginxLog = (host: NginxLogHost): AccessLogHost => ({
  ...host,
  parse: (lines, into) => parseAccessLines(lines, host.app, into),
  what: 'the nginx access log',
});

/**
 * The color's own answer time in ms from `upstream_time` (`$upstream_response_time`): the first
 * value, which is the attempt of the color the line names, even when nginx went on to the other
 * color as a backup ("0.012, 0.003", or "0.012 : 0.003" after an internal redirect). null when
 * the color never answered ("-") or the field is missing.
 *
 * Why not `request_time`: it starts at the first byte nginx reads from the client, so a client
 * that trickles its headers or body makes it as long as it likes; nginx reads the whole request
 * before it opens the upstream, so the upstream time is the app's alone.
 */
export function upstreamMs(upstreamTime: unknown): number | null {
  if (typeof upstreamTime === 'number')
    return Number.isFinite(upstreamTime) && upstreamTime >= 0 ? upstreamTime * 1000 : null;
  if (typeof upstreamTime !== 'string') return null;
  const first = (upstreamTime.split(/[,:]/)[0] ?? '').trim();
  return /^\d+(\.\d+)?$/.test(first) ? Number(first) * 1000 : null;
}

/**
 * Counts access lines per color (pure). A line is ours when its `upstream` is `agent_loop_<app>_<color>`;
 * an error is a status ≥ 500 (502/504 from nginx itself included, e.g. when a color is down);
 * latency is the color's upstream time (`upstream_time`, see upstreamMs), not the client-driven
 * `request_time`; a request the color never answered counts as a request (and an error) without a
 * latency. Blank lines are ignored; everything else that does not fit counts as skipped.
 */
export function parseAccessLines(
  lines: Iterable<string>,
  app: string,
  into: AccessTally = emptyAccessTally(),
): AccessTally {
  const prefix = `${nginxName(app)}_`;
  for (const line of lines) {
    if (line.trim() === '') continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      into.skipped += 1;
      into.unformatted += 1;
      continue;
    }
    const {
      upstream,
      status,
      upstream_time: upstreamTime,
    } = (entry ?? {}) as { upstream?: unknown; status?: unknown; upstream_time?: unknown };
    if (typeof upstream !== 'string' || typeof status !== 'number') into.unformatted += 1;
    const color =
      typeof upstream === 'string' && upstream.startsWith(prefix) ? upstream.slice(prefix.length) : undefined;
    if ((color !== 'blue' && color !== 'green') || typeof status !== 'number') {
      into.skipped += 1;
      continue;
    }
    const sample = (into.colors[color] ??= emptyColorSample());
    sample.requests += 1;
    // The chosen color failed when its own attempt (the first upstream status) is a 5xx or no
    // answer, even if nginx then got a good answer from the other color, its backup.
    const upstreamStatus = (entry as { upstream_status?: unknown }).upstream_status;
    const firstAttempt = typeof upstreamStatus === 'string' ? (upstreamStatus.split(/[,:]/)[0] ?? '').trim() : '';
    const colorFailed =
      firstAttempt !== '' && firstAttempt !== '-' && (!/^\d+$/.test(firstAttempt) || Number(firstAttempt) >= 500);
    if (status >= 500 || colorFailed) sample.errors += 1;
    const latencyMs = upstreamMs(upstreamTime);
    if (latencyMs !== null) {
      const bucket = latencyBucket(latencyMs);
      sample.latency[bucket] = (sample.latency[bucket] ?? 0) + 1;
    }
  }
  return into;
}

/** What users got, from each host's nginx access log in the agent_loop format. */
export class NginxLogSource extends AccessLogSource {
  constructor(hosts: readonly NginxLogHost[], options: NginxLogOptions = {}) {
    if (hosts.length === 0) throw new Error('NginxLogSource needs at least one host');
    super('nginx-log', 'nginx access log', hosts.map(nginxLog), options);
  }
}
