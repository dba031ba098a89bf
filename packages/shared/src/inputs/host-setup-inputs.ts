import { USER_NAME, type HostSetupPlan, type SshTarget } from '../hosts';
import { placeholderInclude, SWITCH_HELPER_PATH } from '../traffic';
import { APP_NAME, HOST_PATH } from '../vocabulary';
import { DEFAULT_ACCESS_LOG, field, hostInputs, type HostInputs } from './inputs';
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
  // Setup defines this app's split variable before its first deploy; the doctor checks its server
  // block (its proxy_pass and access_log lines) from nginx -T.
  app: field.string({ form: 'an application name of lower-case letters, digits and hyphens, starting with a letter (at most 40), or empty', pattern: APP_NAME, max: 40 }),
  'deploy-user': field.string({ form: 'the deploy user on the hosts: a lower-case user name such as deploy', pattern: USER_NAME, max: 32 }),
  'state-dir': hostInputs['state-dir'],
  'nginx-conf-dir': hostInputs['nginx-conf-dir'],
  'nginx-command': hostInputs['nginx-command'],
  'access-log': field.string({ form: 'the nginx access log the canary monitor reads, e.g. /var/log/nginx/agent-loop.access.log, or none', pattern: /^(none|(?!.*(?:^|\/)\.\.(?:\/|$))\/[A-Za-z0-9._/+@-]+)$/, default: DEFAULT_ACCESS_LOG }),
  'switch-helper': field.string({ form: 'an absolute path whose file name is agent-loop-nginx (or agent-loop-nginx-SUFFIX), in a directory only root may write, e.g. /usr/local/sbin/agent-loop-nginx', pattern: /^(?!.*(?:^|\/)\.\.(?:\/|$))\/(?:[A-Za-z0-9._-]+\/)*agent-loop-nginx(?:[-.][A-Za-z0-9_.-]+)?$/, default: SWITCH_HELPER_PATH }),
  'sudoers-file': field.string({ form: 'an absolute path under /etc/sudoers.d without dots in the file name, e.g. /etc/sudoers.d/agent-loop', pattern: /^\/etc\/sudoers\.d\/[A-Za-z0-9_-]+$/, default: '/etc/sudoers.d/agent-loop' }),
};

/** The SSH inputs every action that contacts hosts takes. */
export type ConnectInputs = Pick<HostInputs, 'ssh-private-key' | 'ssh-known-hosts' | 'insecure-skip-host-key-check' | 'ssh-connect-timeout-seconds'>;

type SetupInputs = Pick<HostInputs, 'hosts' | 'state-dir' | 'nginx-conf-dir' | 'nginx-command'> & ConnectInputs & { phase: 'setup' | 'doctor'; app: string; 'deploy-user': string; 'access-log': string; 'sudoers-file': string; 'switch-helper': string };

/** Each host's set-up plan (the deploy user, its folders, nginx as root runs it), its per-host overrides applied. */
export function hostSetupPlans(inputs: SetupInputs): Array<{ target: SshTarget; plan: HostSetupPlan }> {
  requireInput(inputs.phase !== 'setup' || inputs['deploy-user'] !== '', 'deploy-user', 'is required for phase setup: the user the deploy actions log in as, e.g. deploy');
  requireInput(
    inputs['insecure-skip-host-key-check'] || inputs['ssh-known-hosts'] !== '',
    'ssh-known-hosts',
    'is required unless insecure-skip-host-key-check is true: the known_hosts lines of every host, e.g. the output of `ssh-keyscan -p 22 HOST`',
  );
  // host-setup writes the rule for nginx itself: a leading sudo (as deploys use it) is dropped.
  const nginx = inputs['nginx-command'][0] === 'sudo' ? inputs['nginx-command'].slice(1).filter((word, index) => !(index === 0 && word.startsWith('-'))) : inputs['nginx-command'];
  requireInput(nginx.length > 0 && HOST_PATH.test(nginx[0]!), 'nginx-command', 'expected the nginx command line, e.g. nginx or /usr/sbin/nginx -p /opt/nginx/');
  return inputs.hosts.map(({ target, overrides }) => {
    const accessLog = overrides.accessLog ?? inputs['access-log'];
    return {
      target,
      plan: {
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
