import type { HostSpec } from '../hosts';
import { nginxName } from '../traffic';

/**
 * What the preflight (preflight.ts) and the doctor (doctor-script.ts) ask a host and read back in
 * common: the router its traffic goes through, the `key=value` lines their scripts print, and the
 * app's server block as nginx sees it (the switch helper's `inspect`).
 */

/**
 * The router a host's traffic goes through, by its registered name, with the host and the app it
 * routes: nginx is checked by the scripts below (nginx -t through nginx-command, the include
 * directory, the server block); any other router by its registry entry's own `prerequisites`.
 */
export interface RouterTarget {
  name: string;
  host: HostSpec;
  app: string;
}

/** From nginx -T, through the helper: does a server block proxy to `$agent_loop_<app>`, and write the access log in the agent_loop format? */
export interface ServerFacts {
  proxy: boolean;
  /** null: not checked (no absolute access log to look for). */
  log: boolean | null;
}

/** What the server block of an app needs, checked when given. */
export interface ServerBlockTarget {
  app: string;
  /** The access log the monitor reads; checked only when absolute. */
  accessLog: string;
}

/** The helper's `inspect` arguments: the app, and the access log (or `-` when it is not an absolute path). */
export function inspectArgs(server: ServerBlockTarget | undefined): [string, string] {
  if (!server) return ['', '-'];
  return [server.app, server.accessLog.startsWith('/') ? server.accessLog : '-'];
}

export function parseServerFacts(line: string): ServerFacts | null {
  const match = /^proxy=(yes|no) log=(yes|no|unchecked)$/.exec(line.trim());
  if (!match) return null;
  return { proxy: match[1] === 'yes', log: match[2] === 'unchecked' ? null : match[2] === 'yes' };
}

/** The line an app's server block needs so that requests reach its colors. */
export function proxyLine(app: string): string {
  return `proxy_pass http://$${nginxName(app)};`;
}

/** The line that writes the access log the monitor reads. */
export function accessLogLine(accessLog: string): string {
  return `access_log ${accessLog} agent_loop;`;
}

export /** The `key=value` lines a host script prints: every value of a key, and the first one. */
function keyValues(output: string): { values: Map<string, string[]>; first: (key: string) => string } {
  const values = new Map<string, string[]>();
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), [...(values.get(line.slice(0, eq)) ?? []), line.slice(eq + 1)]);
  }
  return { values, first: (key) => values.get(key)?.[0] ?? '' };
}
