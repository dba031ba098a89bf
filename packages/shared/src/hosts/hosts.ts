import { ConfigurationError, printable } from '../action';

/** One SSH destination, from `user@host[:port]` (IPv6 in brackets: `user@[::1]:2222`). */
export interface SshTarget {
  user: string;
  host: string;
  port: number;
  /** How the target is written in logs and reports. */
  label: string;
}

const USER = /^[a-z_][a-z0-9_.-]{0,31}$/i;
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6 = /^[0-9a-f:.]{2,45}$/i;

export function parseTarget(text: string): SshTarget {
  const expected = `Expected user@host or user@host:port (e.g. deploy@10.0.0.5:22), got '${printable(text)}'`;
  const match = /^([^@\s]+)@(\[[^\]]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(text);
  if (!match) throw new ConfigurationError(expected);
  const [, user = '', rawHost = '', rawPort] = match;
  const bracketed = rawHost.startsWith('[');
  const host = bracketed ? rawHost.slice(1, -1) : rawHost;
  if (!USER.test(user)) throw new ConfigurationError(`invalid user '${printable(user)}'. ${expected}`);
  const validHost = bracketed ? IPV6.test(host) && host.includes(':') : HOSTNAME.test(host) || IPV4.test(host);
  if (!validHost) throw new ConfigurationError(`invalid host '${printable(host)}'. ${expected}`);
  const port = rawPort === undefined ? 22 : Number(rawPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new ConfigurationError(`invalid port '${rawPort}'. ${expected}`);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { user, host, port, label: port === 22 ? `${user}@${shownHost}` : `${user}@${shownHost}:${port}` };
}

/** Settings that may differ per host: given as inputs, overridable per host in the `hosts` list. */
export interface HostSettings {
  bluePort: number;
  greenPort: number;
  nginxStatusPort: number;
  stateDir: string;
  nginxConfDir: string;
  nginxCommand: string[];
  /** The app's nginx access log in the agent_loop format (read by the canary monitor). */
  accessLog: string;
}

/** A host as every phase works on it: where to reach it, and its settings (the inputs with its overrides). */
export interface HostSpec extends HostSettings {
  target: SshTarget;
  /** Behind the haproxy router (traffic/haproxy.ts): HAProxy's admin socket on the host, and the backend holding the app's `blue` and `green` servers. */
  haproxySocket?: string;
  haproxyBackend?: string;
}
