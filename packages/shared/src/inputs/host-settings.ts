import { z } from 'zod';
import { ConfigurationError, printable } from '../action';
import { ANY_TEXT, APP_NAME, docField, HAPROXY_NAME, HOST_PATH } from '../vocabulary';
import { parseKnownHosts, parseTarget, splitWords, type HostSettings, type HostSpec, type SshTarget } from '../hosts';
import { fail, field, text, yamlDocument } from './inputs';

/**
 * The host settings: values that several actions share, with the same names and forms, defined
 * once (the hosts list with each host's overrides, the SSH key and known_hosts, the folders, ports
 * and nginx command, the locks, the Slack webhook, the access log).
 */

const privateKeyCheck = (value: string): string | undefined =>
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]+-----END [A-Z0-9 ]*PRIVATE KEY-----/.test(value)
    ? undefined
    : 'is not a PEM or OpenSSH private key';

const webhookCheck = (value: string): string | undefined => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a URL';
  }
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) return 'must be an https:// URL';
  return undefined;
};

const hostPort = docField.number({ min: 1, max: 65535, integer: true, unit: 'a TCP port' });
const hostPath = docField.text('a path without ..', HOST_PATH);

/** One item of the hosts list: `user@host[:port]`, or a mapping with that host and its overrides. */
const hostItem = z.preprocess(
  (item) => (typeof item === 'string' ? { host: item } : item),
  docField.mapping(
    {
      // host and nginx-command are checked when the hosts are resolved (parseTarget, parseNginxCommand).
      host: docField.text('user@host[:port]', ANY_TEXT),
      'blue-port': hostPort.optional(),
      'green-port': hostPort.optional(),
      'nginx-status-port': hostPort.optional(),
      'state-dir': hostPath.optional(),
      'nginx-conf-dir': hostPath.optional(),
      'nginx-command': docField.text('a command line such as "sudo nginx"', ANY_TEXT).optional(),
      'access-log': hostPath.optional(),
      // Behind router haproxy (checked by the router's own check, with the app, when the hosts are resolved).
      'haproxy-socket': hostPath.optional(),
      'haproxy-backend': docField
        .text('an HAProxy backend name (letters, digits and _ . : -, at most 64)', HAPROXY_NAME)
        .optional(),
    },
    'user@host[:port] or a mapping {host, blue-port, …}',
  ),
);

type HostItem = z.output<typeof hostItem>;
const hostList = docField.list(hostItem, { min: 1, max: 500, noun: 'hosts', form: 'a list of hosts' });

const HOSTS_FORM =
  'one or more user@host[:port], separated by commas, spaces or new lines, or a YAML list whose items are such strings ' +
  'or mappings {host, blue-port, green-port, nginx-status-port, state-dir, nginx-conf-dir, nginx-command, access-log, ' +
  'haproxy-socket, haproxy-backend}';

function parseNginxCommand(line: string): string[] {
  const words = splitWords(line);
  if (words.length === 0 || words.length > 16)
    throw new ConfigurationError('expected a command line such as "nginx" or "sudo nginx"');
  for (const word of words) {
    if (!/^[A-Za-z0-9._/=:+@-]+$/.test(word))
      throw new ConfigurationError(
        `contains the word '${printable(word)}'; expected plain words such as "sudo nginx -p /opt/nginx/"`,
      );
  }
  return words;
}

export function privateKeyField(required: boolean) {
  return field.secret({
    form: 'the private key text (PEM or OpenSSH), e.g. from secrets.DEPLOY_SSH_KEY',
    required,
    check: privateKeyCheck,
  });
}

/**
 * What one item of the hosts list sets for its host: the settings it overrides, and what only a
 * host can say (behind HAProxy: its admin socket and backend).
 */
export type HostOverrides = Partial<HostSettings> & Pick<HostSpec, 'haproxySocket' | 'haproxyBackend'>;

/** The hosts input, resolved into one settings object per host. */
export function hostsField(options: { required: boolean } = { required: true }) {
  return text((raw, ctx): Array<{ target: SshTarget; overrides: HostOverrides }> => {
    if (raw === '') return options.required ? fail(ctx, `is required: ${HOSTS_FORM}`) : [];
    const listed =
      raw.startsWith('-') || raw.startsWith('[')
        ? yamlDocument(raw, hostList, HOSTS_FORM, ctx)
        : {
            value: raw
              .split(/[\s,]+/)
              .filter(Boolean)
              .map((host): HostItem => ({ host })),
          };
    if (!listed) return z.NEVER;
    const items = listed.value;
    if (items.length > 500) return fail(ctx, 'lists more than 500 hosts');
    const seen = new Set<string>();
    const hosts: Array<{ target: SshTarget; overrides: HostOverrides }> = [];
    for (const override of items) {
      try {
        const target = parseTarget(override.host);
        if (seen.has(target.label)) return fail(ctx, `lists ${target.label} twice`);
        seen.add(target.label);
        hosts.push({
          target,
          overrides: {
            bluePort: override['blue-port'],
            greenPort: override['green-port'],
            nginxStatusPort: override['nginx-status-port'],
            stateDir: override['state-dir'],
            nginxConfDir: override['nginx-conf-dir'],
            nginxCommand:
              override['nginx-command'] === undefined ? undefined : parseNginxCommand(override['nginx-command']),
            accessLog: override['access-log'],
            ...(override['haproxy-socket'] === undefined ? {} : { haproxySocket: override['haproxy-socket'] }),
            ...(override['haproxy-backend'] === undefined ? {} : { haproxyBackend: override['haproxy-backend'] }),
          },
        });
      } catch (error) {
        return fail(ctx, (error as Error).message);
      }
    }
    return hosts;
  });
}

/**
 * The connection and host inputs that every action working on hosts takes, but the router
 * (host-inputs.ts adds it: it names an implementation of the traffic folder, which an action that
 * contacts no host does not bundle). dora-report takes its environment.
 */
export const hostSettingInputs = {
  hosts: hostsField(),
  'ssh-private-key': privateKeyField(true),
  'ssh-known-hosts': text((raw, ctx) => {
    try {
      parseKnownHosts(raw);
      return raw;
    } catch (error) {
      return fail(ctx, (error as Error).message);
    }
  }),
  'insecure-skip-host-key-check': field.boolean(false),
  'ssh-connect-timeout-seconds': field.integer({ min: 1, max: 300, default: 20, unit: 'seconds' }),
  app: field.string({
    form: 'an application name of lower-case letters, digits and hyphens, starting with a letter (at most 40)',
    pattern: APP_NAME,
    required: true,
    max: 40,
  }),
  'max-parallel': field.integer({ min: 1, max: 100, default: 10, unit: 'hosts at once' }),
  'state-dir': field.string({
    form: "a directory on the host (absolute, or relative to the SSH user's home), without ..",
    pattern: HOST_PATH,
    default: '/var/lib/agent-loop',
  }),
  'nginx-conf-dir': field.string({
    form: 'the directory nginx includes at http level, e.g. /etc/nginx/conf.d',
    pattern: HOST_PATH,
    default: '/etc/nginx/conf.d',
  }),
  'nginx-command': text((raw, ctx) => {
    try {
      return parseNginxCommand(raw === '' ? 'nginx' : raw);
    } catch (error) {
      return fail(ctx, (error as Error).message);
    }
  }),
  'nginx-status-port': field.port(8099),
  'blue-port': field.port(8001),
  'green-port': field.port(8002),
  'lock-wait-seconds': field.integer({ min: 0, max: 3600, default: 0, unit: "seconds to wait for another run's lock" }),
  'lock-stale-seconds': field.integer({
    min: 10,
    max: 86400,
    default: 30,
    unit: "seconds without a sign of life after which a lock's run counts as dead",
  }),
  'break-stale-lock': field.boolean(true),
  // Off by default: a lock folder with no owner is an operator's stop sign, never taken silently.
  'take-over-lock': field.boolean(false),
  'repair-state': field.boolean(false),
  'slack-webhook-url': field.secret({
    form: 'a Slack incoming-webhook URL (https://hooks.slack.com/...)',
    check: webhookCheck,
  }),
  environment: field.string({
    form: 'an environment name such as production',
    pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    default: 'production',
  }),
};

/**
 * The access log the canary is judged from, one default everywhere: host-setup prepares this file
 * (creates it, lets the deploy user read it), the README's server block writes it in the
 * `agent_loop` format, the deploy marks where it stands at the switch and the monitor reads it.
 * Not Debian's `/var/log/nginx/access.log`: that one is written in the `combined` format, which
 * the monitor cannot read a request from.
 */
export const DEFAULT_ACCESS_LOG = '/var/log/nginx/agent-loop.access.log';

/** The `access-log` input of the deploy and the monitor (host-setup's also takes `none`). */
export const accessLogInput = field.string({
  form: "the app's nginx access log in the agent_loop format (absolute, or relative to the SSH user's home)",
  pattern: HOST_PATH,
  default: DEFAULT_ACCESS_LOG,
  max: 512,
});
