import { emptyColorSample, latencyBucket } from '..';
import type { Color } from '../../domain';
import type { Remote } from '../../hosts';
import type { LogMark } from './log-mark';
import { AccessLogSource, emptyAccessTally, type AccessTally, type NginxLogOptions } from './access-log';

/**
 * What users really got behind HAProxy, from each host's HAProxy log in HAProxy's own HTTP log
 * format (`option httplog`, as Debian's haproxy.cfg sets it in its defaults), as syslog writes it:
 * on Debian, HAProxy logs to /dev/log and rsyslog writes /var/log/haproxy.log. One line a request:
 *
 *   Dec  7 16:11:28 web1 haproxy[21075]: 10.0.0.9:42774 [07/Dec/2026:16:11:28.760] www shop_api/green 0/0/1/2/3 200 692 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"
 *
 * The server (`blue` or `green`) of the app's backend is the color; the status, the termination
 * state and Tr (the server's answer time: from the connection to the color until its response
 * headers; the client's own time, TR, is not in it) give the errors and the latency. The log is
 * followed as nginx's is (access-log.ts: byte offsets, rotation, from the deploy's mark at the switch).
 */

/**
 * HAProxy's HTTP log line, after any syslog header: client:port [accept date] frontend
 * backend/server TR/Tw/Tc/Tr/Ta status bytes req-cookie resp-cookie termination
 * actconn/feconn/beconn/srv_conn/retries srv_queue/backend_queue, then the captures and the
 * request. The first place where this whole sequence fits is taken: the request line, which a
 * client writes, comes after it.
 */
const HTTP_LOG = new RegExp(
  [
    // client:port [accept date] frontend backend/server
    String.raw`(?:^|\s)\S+:\d{1,5} \[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2}\.\d{3}\] \S+ (\S+?)\/(\S+) `,
    // TR/Tw/Tc/Tr/Ta status bytes req-cookie resp-cookie termination
    String.raw`-?\d+\/-?\d+\/-?\d+\/(-?\d+)\/\+?-?\d+ (-?\d+) \+?\d+ \S+ \S+ (\S{4}) `,
    // actconn/feconn/beconn/srv_conn/retries srv_queue/backend_queue
    String.raw`\d+\/\d+\/\d+\/\d+\/(\+?)\d+ \d+\/\d+(?: |$)`,
  ].join(''),
);

const COLORS: readonly string[] = ['blue', 'green'];

/**
 * Counts HAProxy HTTP log lines of `backend` per color (pure). An error is a status ≥ 500 (HAProxy's
 * own 502, 503 and 504 included) or a session the server aborted or let time out (termination
 * state starting with `S` or `s`). A request redispatched to the other color (retries written
 * `+N`: `retries` and `option redispatch`, as the README's configuration has them) failed on the
 * color the weights chose, as nginx's backup does: it counts for that color, as an error without a
 * latency, whatever the other color answered. A request no server took (`<NOSRV>`), another
 * backend's and HAProxy's own messages are skipped; a line that is not an HTTP log line at all
 * (HAProxy's start-up messages, `option tcplog`) is counted as unformatted too.
 */
export function parseHaproxyLines(
  lines: Iterable<string>,
  backend: string,
  into: AccessTally = emptyAccessTally(),
): AccessTally {
  for (const line of lines) {
    if (line.trim() === '') continue;
    const match = HTTP_LOG.exec(line);
    if (!match) {
      into.skipped += 1;
      into.unformatted += 1;
      continue;
    }
    const [, lineBackend, server, serverMs, statusText, termination, redispatched] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if (lineBackend !== backend || !COLORS.includes(server)) {
      into.skipped += 1;
      continue;
    }
    const served = server as Color;
    if (redispatched === '+') {
      const chosen = (into.colors[served === 'blue' ? 'green' : 'blue'] ??= emptyColorSample());
      chosen.requests += 1;
      chosen.errors += 1;
      continue;
    }
    const sample = (into.colors[served] ??= emptyColorSample());
    sample.requests += 1;
    const status = Number(statusText);
    if (status >= 500 || /^[sS]/.test(termination)) sample.errors += 1;
    const latencyMs = Number(serverMs);
    if (latencyMs >= 0) {
      const bucket = latencyBucket(latencyMs);
      sample.latency[bucket] = (sample.latency[bucket] ?? 0) + 1;
    }
  }
  return into;
}

export interface HaproxyLogHost {
  remote: Remote;
  /** HAProxy's log on the host (access-log), e.g. /var/log/haproxy.log. */
  accessLog: string;
  /** The app's backend (the host's haproxy-backend). */
  backend: string;
  mark?: LogMark | undefined;
}

/** Requests, errors and latencies per color from HAProxy's log of every host. */
export class HaproxyLogSource extends AccessLogSource {
  constructor(hosts: readonly HaproxyLogHost[], options: NginxLogOptions = {}) {
    super(
      'haproxy-log',
      "HAProxy's log",
      hosts.map((host) => ({
        remote: host.remote,
        accessLog: host.accessLog,
        mark: host.mark,
        parse: (lines, into) => parseHaproxyLines(lines, host.backend, into),
        what: "HAProxy's log",
      })),
      options,
    );
  }
}
