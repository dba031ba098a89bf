import { USER_NAME, type HostSetupPlan, type HostSpec, type SshTarget } from '../hosts';
import { DEFAULT_ROUTER, placeholderInclude, routers, SWITCH_HELPER_PATH } from '../traffic';
import { APP_NAME, HOST_PATH } from '../vocabulary';
import { hostInputs, type HostInputs } from './host-inputs';
import { DEFAULT_ACCESS_LOG } from './host-settings';
import { field } from './inputs';
import { requireInput } from '../action';

/**
 * host-setup's inputs: the same host inputs as the deploys (so one `hosts` list serves both), the
 * deploy user, and where its sudo rule goes. Each host's plan is built here, checked before any
 * host is contacted.
 */
export const hostSetupInputs = {
  phase: field.choice(['setup', 'doctor'], 'setup'),
  hosts: hostInputs.hosts,
  'ssh-private-key': hostInputs['ssh-private-key'],
  'ssh-known-hosts': hostInputs['ssh-known-hosts'],
  'insecure-skip-host-key-check': hostInputs['insecure-skip-host-key-check'],
  'ssh-connect-timeout-seconds': hostInputs['ssh-connect-timeout-seconds'],
  'max-parallel': hostInputs['max-parallel'],
  // nginx: the switch helper, its sudoers rule and the include; another router: what it needs (HAProxy: the deploy user's access to its admin socket).
  router: hostInputs.router,
  // Setup defines this app's split variable before its first deploy; the doctor checks its server
  // block (its proxy_pass and access_log lines) from nginx -T.
  app: field.string({
    form: 'an application name of lower-case letters, digits and hyphens, starting with a letter (at most 40), or empty',
    pattern: APP_NAME,
    max: 40,
  }),
  'deploy-user': field.string({
    form: 'the deploy user on the hosts: a lower-case user name such as deploy',
    pattern: USER_NAME,
    max: 32,
  }),
  'state-dir': hostInputs['state-dir'],
  'nginx-conf-dir': hostInputs['nginx-conf-dir'],
  'nginx-command': hostInputs['nginx-command'],
  'access-log': field.string({
    form: 'the nginx access log the canary monitor reads, e.g. /var/log/nginx/agent-loop.access.log, or none',
    pattern: /^(none|(?!.*(?:^|\/)\.\.(?:\/|$))\/[A-Za-z0-9._/+@-]+)$/,
    default: DEFAULT_ACCESS_LOG,
  }),
  'switch-helper': field.string({
    form:
      'an absolute path whose file name is agent-loop-nginx (or agent-loop-nginx-SUFFIX), ' +
      'in a directory only root may write, e.g. /usr/local/sbin/agent-loop-nginx',
    pattern: /^(?!.*(?:^|\/)\.\.(?:\/|$))\/(?:[A-Za-z0-9._-]+\/)*agent-loop-nginx(?:[-.][A-Za-z0-9_.-]+)?$/,
    default: SWITCH_HELPER_PATH,
  }),
  'sudoers-file': field.string({
    form: 'an absolute path under /etc/sudoers.d without dots in the file name, e.g. /etc/sudoers.d/agent-loop',
    pattern: /^\/etc\/sudoers\.d\/[A-Za-z0-9_-]+$/,
    default: '/etc/sudoers.d/agent-loop',
  }),
};

/** The SSH inputs every action that contacts hosts takes. */
export type ConnectInputs = Pick<
  HostInputs,
  'ssh-private-key' | 'ssh-known-hosts' | 'insecure-skip-host-key-check' | 'ssh-connect-timeout-seconds'
>;

type SetupInputs = Pick<HostInputs, 'hosts' | 'state-dir' | 'nginx-conf-dir' | 'nginx-command' | 'router'> &
  ConnectInputs & {
    phase: 'setup' | 'doctor';
    app: string;
    'deploy-user': string;
    'access-log': string;
    'sudoers-file': string;
    'switch-helper': string;
  };

/** The host inputs host-setup does not take read as a deploy reads them when not given (the ports). */
const DEFAULT_PORTS = {
  bluePort: hostInputs['blue-port'].parse(''),
  greenPort: hostInputs['green-port'].parse(''),
  nginxStatusPort: hostInputs['nginx-status-port'].parse(''),
};

/**
 * Each host's set-up plan (the deploy user, its folders, nginx as root runs it), its per-host
 * overrides applied, and the host as a deploy sees it (`host`: what the router checks and the
 * doctor asks of it). The router's check runs here, before any host is contacted.
 */
export function hostSetupPlans(inputs: SetupInputs): Array<{ target: SshTarget; plan: HostSetupPlan; host: HostSpec }> {
  requireInput(
    inputs.phase !== 'setup' || inputs['deploy-user'] !== '',
    'deploy-user',
    'is required for phase setup: the user the deploy actions log in as, e.g. deploy',
  );
  requireInput(
    inputs['insecure-skip-host-key-check'] || inputs['ssh-known-hosts'] !== '',
    'ssh-known-hosts',
    'is required unless insecure-skip-host-key-check is true: the known_hosts lines of every host, e.g. the output of `ssh-keyscan -p 22 HOST`',
  );
  // host-setup writes the rule for nginx itself: a leading sudo (as deploys use it) is dropped.
  const nginx =
    inputs['nginx-command'][0] === 'sudo'
      ? inputs['nginx-command'].slice(1).filter((word, index) => !(index === 0 && word.startsWith('-')))
      : inputs['nginx-command'];
  requireInput(
    nginx.length > 0 && HOST_PATH.test(nginx[0]!),
    'nginx-command',
    'expected the nginx command line, e.g. nginx or /usr/sbin/nginx -p /opt/nginx/',
  );
  const router = routers.get(inputs.router);
  // Another router's settings are the app's (HAProxy's backend): without the app there is nothing to check them against.
  requireInput(
    inputs.router === DEFAULT_ROUTER || inputs.app !== '',
    'app',
    `is required with router ${inputs.router}: the application the hosts are prepared for (its settings on each host are checked)`,
  );
  return inputs.hosts.map(({ target, overrides }) => {
    const accessLog = overrides.accessLog ?? inputs['access-log'];
    const host: HostSpec = {
      target,
      bluePort: overrides.bluePort ?? DEFAULT_PORTS.bluePort,
      greenPort: overrides.greenPort ?? DEFAULT_PORTS.greenPort,
      nginxStatusPort: overrides.nginxStatusPort ?? DEFAULT_PORTS.nginxStatusPort,
      stateDir: overrides.stateDir ?? inputs['state-dir'],
      nginxConfDir: overrides.nginxConfDir ?? inputs['nginx-conf-dir'],
      nginxCommand: overrides.nginxCommand ?? inputs['nginx-command'],
      accessLog: accessLog === 'none' ? '' : accessLog,
      ...(overrides.haproxySocket === undefined ? {} : { haproxySocket: overrides.haproxySocket }),
      ...(overrides.haproxyBackend === undefined ? {} : { haproxyBackend: overrides.haproxyBackend }),
    };
    router.check?.(host, inputs.app);
    return {
      target,
      host,
      plan: {
        router: inputs.router,
        deployUser: inputs['deploy-user'],
        stateDir: overrides.stateDir ?? inputs['state-dir'],
        includeDir: overrides.nginxConfDir ?? inputs['nginx-conf-dir'],
        accessLog: accessLog === 'none' ? '' : accessLog,
        sudoersFile: inputs['sudoers-file'],
        switchHelper: inputs['switch-helper'],
        nginx: overrides.nginxCommand ?? nginx,
        app: inputs.app,
        placeholder: inputs.app === '' ? '' : placeholderInclude(inputs.app),
      },
    };
  });
}
