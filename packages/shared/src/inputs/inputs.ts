import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigurationError, printable, runner, type Registry } from '../action';
import {
  ANY_TEXT,
  APP_NAME,
  docField,
  documentProblems,
  HAPROXY_NAME,
  HOST_PATH,
  type DocumentNames,
} from '../vocabulary';
import {
  parseKnownHosts,
  parseTarget,
  quotedPlaceholders,
  splitWords,
  templatePlaceholders,
  type HostSettings,
  type HostSpec,
  type SshTarget,
} from '../hosts';

/**
 * Input reading and validation. Every input is read once, as the raw string the runner gives,
 * and validated by a zod schema into one typed object before anything touches a host.
 * An error names the input and the form expected.
 */

/** How an input is read: `INPUT_<NAME>` with the name upper-cased and hyphens kept. */
export type InputReader = (name: string) => string;
export const readFromRunner: InputReader = (name) => runner.getInput(name);

type Field<T> = z.ZodType<T, string>;

/** What an input naming an implementation asks of a seam's registry (action/registry.ts). */
export type NameRegistry = Pick<Registry<unknown>, 'has' | 'names' | 'unknown'>;

/** Reads and validates every field; reports all bad inputs at once. */
export function readInputs<S extends Record<string, Field<unknown>>>(
  fields: S,
  read: InputReader = readFromRunner,
): { [K in keyof S]: z.output<S[K]> } {
  const result: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, schema] of Object.entries(fields)) {
    const parsed = schema.safeParse(read(name).trim());
    if (parsed.success) result[name] = parsed.data;
    else problems.push(`Input '${name}': ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  }
  if (problems.length > 0) throw new ConfigurationError(problems.join('\n'));
  return result as { [K in keyof S]: z.output<S[K]> };
}

function fail(ctx: z.RefinementCtx<string>, message: string): never {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER as never;
}

const MAX_INPUT = 64 * 1024;

function text<T>(check: (value: string, ctx: z.RefinementCtx<string>) => T) {
  return z.string().transform((value, ctx): T => {
    if (value.length > MAX_INPUT)
      return fail(ctx, `is ${value.length} characters long; at most ${MAX_INPUT} are accepted`);
    return check(value, ctx);
  });
}

export const field = {
  /** A string matching `pattern`; `form` says what is expected in words. */
  string(options: { form: string; pattern: RegExp; required?: boolean; default?: string; max?: number }) {
    return text((raw, ctx) => {
      const value = raw === '' ? (options.default ?? '') : raw;
      if (value === '') return options.required ? fail(ctx, `is required: ${options.form}`) : '';
      if (value.length > (options.max ?? 256))
        return fail(ctx, `is too long (${value.length} characters, at most ${options.max ?? 256}): ${options.form}`);
      if (!options.pattern.test(value)) return fail(ctx, `expected ${options.form}, got '${printable(value)}'`);
      return value;
    });
  },

  integer(options: { min: number; max: number; default: number; unit?: string }) {
    return text((raw, ctx) => {
      if (raw === '') return options.default;
      if (!/^\d+$/.test(raw))
        return fail(
          ctx,
          `expected a whole number from ${options.min} to ${options.max}${options.unit ? ` (${options.unit})` : ''}, got '${printable(raw)}'`,
        );
      const value = Number(raw);
      if (value < options.min || value > options.max)
        return fail(
          ctx,
          `expected a whole number from ${options.min} to ${options.max}${options.unit ? ` (${options.unit})` : ''}, got ${raw}`,
        );
      return value;
    });
  },

  /** A decimal number such as 0.01 or 2.5 (no exponent, no sign), from min to max. */
  decimal(options: { min: number; max: number; default: number; unit?: string }) {
    return text((raw, ctx) => {
      if (raw === '') return options.default;
      const expected = `expected a number from ${options.min} to ${options.max}${options.unit ? ` (${options.unit})` : ''}, such as ${options.default}`;
      if (!/^\d{1,15}(\.\d{1,15})?$|^\.\d{1,15}$/.test(raw)) return fail(ctx, `${expected}, got '${printable(raw)}'`);
      const value = Number(raw);
      if (value < options.min || value > options.max) return fail(ctx, `${expected}, got ${raw}`);
      return value;
    });
  },

  port(defaultPort: number) {
    return field.integer({ min: 1, max: 65535, default: defaultPort, unit: 'a TCP port' });
  },

  boolean(defaultValue: boolean) {
    return text((raw, ctx) => {
      if (raw === '') return defaultValue;
      if (/^(true|yes|on)$/i.test(raw)) return true;
      if (/^(false|no|off)$/i.test(raw)) return false;
      return fail(ctx, `expected true or false, got '${printable(raw)}'`);
    });
  },

  choice<const T extends readonly [string, ...string[]]>(choices: T, defaultValue: T[number]) {
    return text((raw, ctx) => {
      const value = raw === '' ? defaultValue : raw;
      if (!(choices as readonly string[]).includes(value))
        return fail(ctx, `expected one of ${choices.join(', ')}, got '${printable(value)}'`);
      return value as T[number];
    });
  },

  /**
   * The name of an implementation a seam's registry holds (a runtime, a router, a rollback method:
   * action/registry.ts). The names it accepts, and lists when given another, are the registry's
   * when the input is read: one a team registered counts as a built-in one does. With an empty
   * default, an empty input stays empty: the caller says what naming none means.
   */
  registered(registry: NameRegistry, defaultValue: string) {
    return text((raw, ctx) => {
      const value = raw === '' ? defaultValue : raw;
      // An empty default: naming none is a choice of its own (a rollback's runtime: as recorded).
      if (value === '') return '';
      return registry.has(value) ? value : fail(ctx, registry.unknown(value));
    });
  },

  /** A secret: masked as soon as it is read, never echoed in an error. */
  secret(options: { form: string; required?: boolean; check?: (value: string) => string | undefined }) {
    return text((raw, ctx) => {
      if (raw === '') return options.required ? fail(ctx, `is required: ${options.form}`) : '';
      mask(raw);
      const problem = options.check?.(raw);
      return problem
        ? fail(ctx, `${problem} (expected ${options.form}; the value is not shown because it is secret)`)
        : raw;
    });
  },

  /** A command template with `{placeholder}`s among `allowed`. */
  template(allowed: readonly string[]) {
    return text((raw, ctx) => {
      if (raw === '') return '';
      if (raw.includes('\0')) return fail(ctx, 'contains a NUL byte');
      const unknown = templatePlaceholders(raw).filter((name) => !allowed.includes(name));
      if (unknown.length > 0)
        return fail(
          ctx,
          `unknown placeholder {${unknown[0]}}; expected only ${allowed.map((name) => `{${name}}`).join(' ')}`,
        );
      const quoted = quotedPlaceholders(raw);
      if (quoted.length > 0)
        return fail(
          ctx,
          `the placeholder {${quoted[0]}} stands inside quotes or after a backslash; write it bare: every value is quoted for you`,
        );
      return raw;
    });
  },

  /** A YAML (or JSON) document whose value must satisfy `schema`, a document built with vocabulary's docField. */
  yaml<T>(schema: z.ZodType<T>, options: { form: string; default: string }) {
    return text(
      (raw, ctx) => yamlDocument(raw === '' ? options.default : raw, schema, options.form, ctx)?.value ?? z.NEVER,
    );
  },
};

/**
 * The input is the document: after `Input 'plan': `, an item of a list reads `[0].seconds`, a key
 * of a mapping `requests`, and a problem of the whole document has no place.
 */
const INPUT_DOCUMENT: DocumentNames = {};

/** Parses YAML and checks it against `schema`; every problem is reported, each with where it is, then the form expected (and undefined returned). */
function yamlDocument<T>(
  raw: string,
  schema: z.ZodType<T>,
  form: string,
  ctx: z.RefinementCtx<string>,
): { value: T } | undefined {
  let document: unknown;
  try {
    document = parseYaml(raw);
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `is not valid YAML (${(error as Error).message.split('\n')[0]}); expected ${form}`,
    });
    return undefined;
  }
  const parsed = schema.safeParse(document);
  if (!parsed.success) {
    ctx.addIssue({
      code: 'custom',
      message: `${documentProblems(parsed.error, INPUT_DOCUMENT).join('; ')}; expected ${form}`,
    });
    return undefined;
  }
  return { value: parsed.data };
}

/** Registers a secret with the runner so it is masked in every log line. */
export function mask(secret: string): void {
  if (secret === '') return;
  runner.setSecret(secret);
  for (const line of secret.split(/\r?\n/)) if (line.trim().length >= 4) runner.setSecret(line.trim());
}

// ---------------------------------------------------------------------------------------------
// Values that several actions share: same names, same forms, defined once.

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
  'one or more user@host[:port], separated by commas, spaces or new lines, or a YAML list whose items are such strings or mappings {host, blue-port, green-port, nginx-status-port, state-dir, nginx-conf-dir, nginx-command, access-log, haproxy-socket, haproxy-backend}';

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

/** What one item of the hosts list sets for its host: the settings it overrides, and what only a host can say (behind HAProxy: its admin socket and backend). */
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

/** The values a set of fields reads as. */
export type Values<S extends Record<string, z.ZodType>> = { [K in keyof S]: z.output<S[K]> };

export type { HostInputs } from './host-inputs';

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
