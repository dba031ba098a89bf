import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, requireInput } from '../src/action';
import { docField } from '../src/vocabulary';
import { field, hostInputs, readInputs, resolveHosts, type HostInputs, type InputReader } from '../src/inputs';

/** A fake runner: inputs come from a plain object, missing ones read as '' (as core.getInput does). */
const reader =
  (values: Record<string, string>): InputReader =>
  (name) =>
    values[name] ?? '';

/** The message readInputs throws, or '' when it accepts everything. */
function problems(fields: Parameters<typeof readInputs>[0], values: Record<string, string>): string {
  try {
    readInputs(fields, reader(values));
    return '';
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
}

// Secrets are registered with the runner (`::add-mask::`) on stdout; keep those lines to check them.
let masked: string[] = [];
beforeEach(() => {
  masked = [];
  const write = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.startsWith('::add-mask::')) {
      masked.push(text.slice('::add-mask::'.length).trim());
      return true;
    }
    return write(chunk, ...(rest as []));
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('field kinds through readInputs', () => {
  const fields = {
    name: field.string({ form: 'a lower-case name', pattern: /^[a-z]+$/, required: true, max: 8 }),
    region: field.string({ form: 'a region', pattern: /^[a-z]+-[0-9]$/, default: 'eu-1' }),
    count: field.integer({ min: 1, max: 10, default: 3, unit: 'replicas' }),
    port: field.port(8080),
    enabled: field.boolean(true),
    mode: field.choice(['fast', 'safe'] as const, 'safe'),
    start: field.template(['app', 'port']),
    plan: field.yaml(
      docField.list(
        docField.mapping({
          step: docField.text('a step name', /^\S+$/),
          seconds: docField.number({ integer: true, unit: 'seconds' }),
        }),
        { max: 20, noun: 'steps', form: 'a list of steps' },
      ),
      { form: 'a list of {step, seconds}', default: '[]' },
    ),
  };

  it('applies defaults to empty inputs and trims values', () => {
    const inputs = readInputs(fields, reader({ name: '  shop \n' }));
    expect(inputs).toEqual({
      name: 'shop',
      region: 'eu-1',
      count: 3,
      port: 8080,
      enabled: true,
      mode: 'safe',
      start: '',
      plan: [],
    });
  });

  it('converts given values to their types', () => {
    const inputs = readInputs(
      fields,
      reader({
        name: 'shop',
        region: 'us-2',
        count: '10',
        port: '65535',
        enabled: 'No',
        mode: 'fast',
        start: 'run {app} on {port}',
        plan: '- step: warm\n  seconds: 5',
      }),
    );
    expect(inputs).toEqual({
      name: 'shop',
      region: 'us-2',
      count: 10,
      port: 65535,
      enabled: false,
      mode: 'fast',
      start: 'run {app} on {port}',
      plan: [{ step: 'warm', seconds: 5 }],
    });
  });

  it.each([
    ['true', true],
    ['YES', true],
    ['on', true],
    ['False', false],
    ['no', false],
    ['OFF', false],
  ])('reads the boolean %j', (raw, value) => {
    expect(readInputs({ flag: field.boolean(false) }, reader({ flag: raw })).flag).toBe(value);
  });

  it.each([
    ['name', '', "Input 'name': is required: a lower-case name"],
    ['name', 'Shop', "Input 'name': expected a lower-case name, got 'Shop'"],
    ['name', 'abcdefghi', "Input 'name': is too long (9 characters, at most 8)"],
    ['region', 'eu', "Input 'region': expected a region, got 'eu'"],
    ['count', '0', "Input 'count': expected a whole number from 1 to 10 (replicas), got 0"],
    ['count', '11', "Input 'count': expected a whole number from 1 to 10 (replicas), got 11"],
    ['count', '-1', "Input 'count': expected a whole number from 1 to 10 (replicas), got '-1'"],
    ['count', '2.5', "Input 'count': expected a whole number from 1 to 10 (replicas), got '2.5'"],
    ['count', 'three', "Input 'count': expected a whole number from 1 to 10 (replicas), got 'three'"],
    ['port', '0', "Input 'port': expected a whole number from 1 to 65535 (a TCP port), got 0"],
    ['port', '65536', "Input 'port': expected a whole number from 1 to 65535 (a TCP port), got 65536"],
    ['enabled', 'maybe', "Input 'enabled': expected true or false, got 'maybe'"],
    ['mode', 'FAST', "Input 'mode': expected one of fast, safe, got 'FAST'"],
    ['start', 'run {app} {image}', "Input 'start': unknown placeholder {image}; expected only {app} {port}"],
    ['start', 'run\0', "Input 'start': contains a NUL byte"],
    ['plan', '- step: [', "Input 'plan': is not valid YAML"],
    [
      'plan',
      '- step: warm\n  seconds: soon',
      "Input 'plan': [0].seconds: expected a whole number (seconds), got 'soon'; expected a list of {step, seconds}",
    ],
    ['plan', 'step: warm', "Input 'plan': expected a list of steps, got a mapping; expected a list of {step, seconds}"],
    [
      'plan',
      '- step: warm\n  seconds: soon\n- step: 2\n  wait: 5',
      [
        "Input 'plan': [0].seconds: expected a whole number (seconds), got 'soon'",
        '[1].step: expected a step name, got 2',
        '[1].seconds: expected a whole number (seconds), got nothing',
        "[1]: unknown key 'wait'; expected step, seconds",
        'expected a list of {step, seconds}',
      ].join('; '),
    ],
  ])('reports %s = %j', (name, raw, message) => {
    const values = { name: 'shop', [name]: raw };
    expect(problems(fields, values)).toContain(message);
  });

  it('refuses a value longer than 64 KiB without echoing it', () => {
    const message = problems(fields, { name: 'shop', region: 'x'.repeat(70_000) });
    expect(message).toBe("Input 'region': is 70000 characters long; at most 65536 are accepted");
  });

  it('reports every bad input at once, one line each, in field order', () => {
    const message = problems(fields, { name: '', count: 'x', mode: 'turbo', port: '99999' });
    const lines = message.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines.map((line) => /^Input '([a-z]+)'/.exec(line)?.[1])).toEqual(['name', 'count', 'port', 'mode']);
  });

  it('keeps the invalid value of a secret out of the error and masks it as soon as it is read', () => {
    const fields = {
      token: field.secret({
        form: 'a token starting with tk_',
        required: true,
        check: (value) => (value.startsWith('tk_') ? undefined : 'does not start with tk_'),
      }),
    };
    const message = problems(fields, { token: 'hunter2-super-secret' });
    expect(message).toBe(
      "Input 'token': does not start with tk_ (expected a token starting with tk_; the value is not shown because it is secret)",
    );
    expect(masked).toContain('hunter2-super-secret');
    expect(problems(fields, { token: '' })).toBe("Input 'token': is required: a token starting with tk_");
    expect(readInputs(fields, reader({ token: 'tk_123' })).token).toBe('tk_123');
  });

  it('requireInput names the input', () => {
    expect(() => requireInput(true, 'a', 'never')).not.toThrow();
    expect(() => requireInput(false, 'canary-percent', 'must be below 100')).toThrow(
      new ConfigurationError("Input 'canary-percent': must be below 100"),
    );
  });
});

// ---------------------------------------------------------------------------------------------

const PRIVATE_KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----';
const KNOWN_HOSTS = '10.0.0.5 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINXsw39oHfrnPcSulXdJbqB2TxwBDQG0fVP6GfCB9+Zk';
const BASE = { hosts: 'deploy@10.0.0.5', 'ssh-private-key': PRIVATE_KEY, 'ssh-known-hosts': KNOWN_HOSTS, app: 'shop' };

const hostsRead = (values: Record<string, string>): HostInputs =>
  readInputs(hostInputs, reader({ ...BASE, ...values }));
const hostProblems = (values: Record<string, string>): string => problems(hostInputs, { ...BASE, ...values });
const labels = (inputs: HostInputs): string[] => inputs.hosts.map((host) => host.target.label);

describe('hostInputs', () => {
  it('has the documented defaults', () => {
    const inputs = hostsRead({});
    expect(inputs).toMatchObject({
      'ssh-private-key': PRIVATE_KEY,
      'ssh-known-hosts': KNOWN_HOSTS,
      'insecure-skip-host-key-check': false,
      'ssh-connect-timeout-seconds': 20,
      app: 'shop',
      'max-parallel': 10,
      'state-dir': '/var/lib/agent-loop',
      'nginx-conf-dir': '/etc/nginx/conf.d',
      'nginx-command': ['nginx'],
      'nginx-status-port': 8099,
      'blue-port': 8001,
      'green-port': 8002,
      'lock-wait-seconds': 0,
      'lock-stale-seconds': 30,
      'break-stale-lock': true,
      'repair-state': false,
      'slack-webhook-url': '',
      environment: 'production',
    });
    expect(masked).toContain(PRIVATE_KEY.replaceAll('\n', '%0A'));
  });

  it('requires hosts, ssh-private-key and app, and reports all three together', () => {
    const message = problems(hostInputs, {});
    expect(message).toMatch(/^Input 'hosts': is required/m);
    expect(message).toMatch(/^Input 'ssh-private-key': is required/m);
    expect(message).toMatch(/^Input 'app': is required/m);
  });

  it('refuses a private key that is not a key, without showing it', () => {
    const message = hostProblems({ 'ssh-private-key': 'ssh-ed25519 AAAAmy-public-key-by-mistake' });
    expect(message).toContain("Input 'ssh-private-key': is not a PEM or OpenSSH private key");
    expect(message).not.toContain('my-public-key-by-mistake');
  });

  it.each([
    ['app', 'My_App', "Input 'app': expected an application name"],
    ['app', 'a'.repeat(41), "Input 'app': is too long (41 characters, at most 40)"],
    ['state-dir', '/var/lib/../etc', "Input 'state-dir': expected a directory on the host"],
    ['nginx-conf-dir', '/etc/nginx/conf.d; rm -rf /', "Input 'nginx-conf-dir': expected the directory nginx includes"],
    ['lock-stale-seconds', '9', "Input 'lock-stale-seconds': expected a whole number from 10 to 86400"],
    ['max-parallel', '101', "Input 'max-parallel': expected a whole number from 1 to 100"],
    ['environment', 'prod env', "Input 'environment': expected an environment name"],
    ['nginx-command', 'nginx; rm -rf /', "Input 'nginx-command': contains the word 'nginx;'"],
    ['nginx-command', 'nginx -g "$(id)"', "Input 'nginx-command': contains the word '$(id)'"],
    ['nginx-command', 'nginx "-t', "Input 'nginx-command': unterminated \" quote"],
    [
      'ssh-known-hosts',
      'web1 ssh-ed25519',
      "Input 'ssh-known-hosts': ssh-known-hosts line 1: expected 'host key-type base64-key'",
    ],
    [
      'insecure-skip-host-key-check',
      'sure',
      "Input 'insecure-skip-host-key-check': expected true or false, got 'sure'",
    ],
  ])('rejects %s = %j', (name, raw, message) => {
    expect(hostProblems({ [name]: raw })).toContain(message);
  });

  it('splits the nginx command into words', () => {
    expect(hostsRead({ 'nginx-command': `sudo nginx -p /opt/nginx/ -c 'conf/nginx.conf'` })['nginx-command']).toEqual([
      'sudo',
      'nginx',
      '-p',
      '/opt/nginx/',
      '-c',
      'conf/nginx.conf',
    ]);
  });

  describe('slack-webhook-url', () => {
    it.each([
      'https://hooks.slack.com/services/T0/B0/xyz',
      'http://127.0.0.1:9000/hook',
      'http://localhost/hook',
      'http://[::1]:8080/hook',
    ])('accepts %s', (url) => {
      expect(hostsRead({ 'slack-webhook-url': url })['slack-webhook-url']).toBe(url);
      expect(masked).toContain(url);
    });

    it.each([
      ['http://hooks.slack.com/services/T0/B0/SECRETTOKEN', 'must be an https:// URL'],
      ['http://127.0.0.1.example.com/SECRETTOKEN', 'must be an https:// URL'],
      ['ftp://hooks.slack.com/SECRETTOKEN', 'must be an https:// URL'],
      ['hooks.slack.com/services/SECRETTOKEN', 'is not a URL'],
      ['not a url SECRETTOKEN', 'is not a URL'],
    ])('rejects %s without echoing it', (url, problem) => {
      const message = hostProblems({ 'slack-webhook-url': url });
      expect(message).toContain(`Input 'slack-webhook-url': ${problem}`);
      expect(message).not.toContain('SECRETTOKEN');
      expect(message).not.toContain('hooks.slack.com/services');
    });
  });

  describe('hosts', () => {
    it.each([
      ['deploy@10.0.0.1,deploy@10.0.0.2', ['deploy@10.0.0.1', 'deploy@10.0.0.2']],
      ['deploy@10.0.0.1 deploy@10.0.0.2:2222', ['deploy@10.0.0.1', 'deploy@10.0.0.2:2222']],
      ['deploy@10.0.0.1\ndeploy@10.0.0.2\r\n\n root@[::1]:22 , ', ['deploy@10.0.0.1', 'deploy@10.0.0.2', 'root@[::1]']],
      ['- deploy@10.0.0.1\n- "root@[::1]:2222"', ['deploy@10.0.0.1', 'root@[::1]:2222']],
      ['[deploy@10.0.0.1, deploy@10.0.0.2]', ['deploy@10.0.0.1', 'deploy@10.0.0.2']],
    ])('reads %j', (raw, expected) => {
      const inputs = hostsRead({ hosts: raw });
      expect(labels(inputs)).toEqual(expected);
      expect(inputs.hosts.every((host) => Object.values(host.overrides).every((value) => value === undefined))).toBe(
        true,
      );
    });

    it('reads YAML mappings with per-host overrides', () => {
      const inputs = hostsRead({
        hosts: [
          '- deploy@10.0.0.1',
          '- host: deploy@10.0.0.2:2222',
          '  blue-port: 9001',
          '  green-port: 9002',
          '  nginx-status-port: 9099',
          '  state-dir: /srv/state',
          '  nginx-conf-dir: /opt/nginx/conf.d',
          '  nginx-command: sudo nginx -p /opt/nginx/',
        ].join('\n'),
      });
      expect(labels(inputs)).toEqual(['deploy@10.0.0.1', 'deploy@10.0.0.2:2222']);
      expect(inputs.hosts[1]?.overrides).toEqual({
        bluePort: 9001,
        greenPort: 9002,
        nginxStatusPort: 9099,
        stateDir: '/srv/state',
        nginxConfDir: '/opt/nginx/conf.d',
        nginxCommand: ['sudo', 'nginx', '-p', '/opt/nginx/'],
      });
    });

    it.each([
      ['deploy@10.0.0.1, deploy@10.0.0.1:22', 'lists deploy@10.0.0.1 twice'],
      ['- deploy@10.0.0.1\n- host: deploy@10.0.0.1', 'lists deploy@10.0.0.1 twice'],
      ['deploy@10.0.0.1, deploy@bad_host', "invalid host 'bad_host'"],
      ['deploy@10.0.0.1:0', "invalid port '0'"],
      ['10.0.0.1', 'Expected user@host'],
      ['deploy@10.0.0.1;reboot', "invalid host '10.0.0.1;reboot'"],
      ['- [', 'is not valid YAML'],
      ['- 42', 'expected one or more user@host'],
      ['- host: deploy@10.0.0.1\n  blue_port: 9001', 'blue_port'],
      ['- host: deploy@10.0.0.1\n  blue-port: 70000', 'blue-port'],
      ['- host: deploy@10.0.0.1\n  blue-port: "9001"', 'blue-port'],
      ['- host: deploy@10.0.0.1\n  state-dir: /srv/../etc', 'expected a path without ..'],
      ['- host: deploy@10.0.0.1\n  nginx-command: nginx && reboot', "contains the word '&&'"],
      ['- blue-port: 9001', 'host'],
      ['[]', 'expected one or more user@host'],
    ])('rejects %j', (raw, message) => {
      const problem = hostProblems({ hosts: raw });
      expect(problem).toMatch(/^Input 'hosts': /);
      expect(problem).toContain(message);
    });

    it('accepts 500 hosts and refuses 501, in either form', () => {
      const names = (count: number) =>
        Array.from({ length: count }, (_, index) => `deploy@10.0.${Math.floor(index / 250)}.${(index % 250) + 1}`);
      expect(hostsRead({ hosts: names(500).join(',') }).hosts).toHaveLength(500);
      expect(hostProblems({ hosts: names(501).join(',') })).toContain("Input 'hosts': lists more than 500 hosts");
      expect(
        hostsRead({
          hosts: names(500)
            .map((name) => `- ${name}`)
            .join('\n'),
        }).hosts,
      ).toHaveLength(500);
      expect(
        hostProblems({
          hosts: names(501)
            .map((name) => `- ${name}`)
            .join('\n'),
        }),
      ).toMatch(/^Input 'hosts': .*500/);
    });
  });
});

describe('resolveHosts', () => {
  it('merges each host overrides over the action-level settings', () => {
    const inputs = hostsRead({
      hosts:
        '- deploy@10.0.0.1\n- host: deploy@10.0.0.2\n  green-port: 9002\n  nginx-command: sudo nginx\n  access-log: logs/app.log',
      'blue-port': '7001',
      'state-dir': '/srv/agent-loop',
    });
    const [first, second] = resolveHosts(inputs);
    expect(first).toEqual({
      target: { user: 'deploy', host: '10.0.0.1', port: 22, label: 'deploy@10.0.0.1' },
      bluePort: 7001,
      greenPort: 8002,
      nginxStatusPort: 8099,
      stateDir: '/srv/agent-loop',
      nginxConfDir: '/etc/nginx/conf.d',
      nginxCommand: ['nginx'],
      accessLog: '/var/log/nginx/agent-loop.access.log',
    });
    expect(second).toMatchObject({
      bluePort: 7001,
      greenPort: 9002,
      nginxStatusPort: 8099,
      stateDir: '/srv/agent-loop',
      nginxCommand: ['sudo', 'nginx'],
      accessLog: 'logs/app.log',
    });
  });

  it('refuses equal ports, naming the host where they clash', () => {
    expect(() => resolveHosts(hostsRead({ 'green-port': '8001' }))).toThrow(
      "Input 'blue-port': blue-port, green-port and nginx-status-port must differ on deploy@10.0.0.5 (got 8001, 8001, 8099)",
    );
    const clashOnOne = hostsRead({ hosts: '- deploy@10.0.0.1\n- host: deploy@10.0.0.2\n  nginx-status-port: 8002' });
    expect(() => resolveHosts(clashOnOne)).toThrow(/must differ on deploy@10\.0\.0\.2 \(got 8001, 8002, 8002\)/);
  });

  it('requires ssh-known-hosts unless the host key check is skipped', () => {
    expect(() => resolveHosts(hostsRead({ 'ssh-known-hosts': '' }))).toThrow(ConfigurationError);
    expect(() => resolveHosts(hostsRead({ 'ssh-known-hosts': '' }))).toThrow(
      /^Input 'ssh-known-hosts': is required unless insecure-skip-host-key-check is true/,
    );
    expect(resolveHosts(hostsRead({ 'ssh-known-hosts': '', 'insecure-skip-host-key-check': 'true' }))).toHaveLength(1);
  });
});

describe('router and the hosts behind HAProxy', () => {
  const behindHaproxy = [
    '- host: deploy@10.0.0.1',
    '  haproxy-socket: /run/haproxy/agent-loop.sock',
    '  haproxy-backend: shop_api',
    '- host: deploy@10.0.0.2',
    '  haproxy-socket: /run/haproxy/other.sock',
    '  haproxy-backend: shop',
  ].join('\n');

  it('is nginx unless named, and reads each host its admin socket and backend', () => {
    expect(hostsRead({}).router).toBe('nginx');
    const inputs = hostsRead({ router: 'haproxy', hosts: behindHaproxy });
    expect(inputs.router).toBe('haproxy');
    const [first, second] = resolveHosts(inputs);
    expect(first).toMatchObject({ haproxySocket: '/run/haproxy/agent-loop.sock', haproxyBackend: 'shop_api' });
    expect(second).toMatchObject({ haproxySocket: '/run/haproxy/other.sock', haproxyBackend: 'shop' });
    // nginx's hosts carry no HAProxy settings.
    expect(Object.keys(resolveHosts(hostsRead({}))[0]!)).not.toContain('haproxySocket');
  });

  it('refuses a name no router is registered under when the inputs are read, listing the registered ones', () => {
    expect(hostProblems({ router: 'envoy' })).toBe("Input 'router': expected one of nginx, haproxy, got 'envoy'");
  });

  it('refuses a host behind HAProxy without its socket or backend, or with ones HAProxy would read otherwise, before any host is contacted', () => {
    expect(() => resolveHosts(hostsRead({ router: 'haproxy' }))).toThrow(
      "Input 'hosts': deploy@10.0.0.5: router haproxy needs the host's haproxy-socket (HAProxy's admin socket) " +
        "and haproxy-backend (the backend of the app's blue and green servers)",
    );
    expect(() =>
      resolveHosts(
        hostsRead({
          router: 'haproxy',
          hosts: '- host: deploy@10.0.0.1\n  haproxy-socket: run/admin.sock\n  haproxy-backend: shop',
        }),
      ),
    ).toThrow("Input 'hosts': deploy@10.0.0.1: invalid haproxy-socket 'run/admin.sock'");
    // The list itself refuses a backend HAProxy's runtime API would read as two words or two commands.
    expect(
      hostProblems({
        router: 'haproxy',
        hosts: '- host: deploy@10.0.0.1\n  haproxy-socket: /run/admin.sock\n  haproxy-backend: "shop;shutdown"',
      }),
    ).toContain('haproxy-backend');
    expect(
      hostProblems({
        router: 'haproxy',
        hosts: '- host: deploy@10.0.0.1\n  haproxy-socket: /run/../admin.sock\n  haproxy-backend: shop',
      }),
    ).toContain('expected a path without ..');
  });

  it("refuses HAProxy's settings on a host whose traffic nginx moves", () => {
    expect(() => resolveHosts(hostsRead({ hosts: behindHaproxy }))).toThrow(
      "Input 'router': is nginx, but the hosts list gives deploy@10.0.0.1 an haproxy-socket or haproxy-backend: " +
        'set router: haproxy to move its traffic through HAProxy, or remove them',
    );
  });
});
