import { action, ConfigurationError, settleLimit } from '@agent-loop/shared/action';
import { connect, setupHost, USER_NAME, type HostSetupPlan } from '@agent-loop/shared/hosts';
import { field, hostInputs, readInputs, requireInput, type InputReader } from '@agent-loop/shared/inputs';
import { HOST_PATH } from '@agent-loop/shared/vocabulary';
import { doctor } from '@agent-loop/shared/runtime';
import { doctorOutcome, setupOutcome } from '@agent-loop/shared/report';

/**
 * Prepares hosts for an unprivileged deploy user (phase setup, run once by a sudo-capable login),
 * or lists what a host still lacks, with the command that fixes each (phase doctor, run as the
 * deploy user: the same check a deploy runs before it takes its lock).
 */
export const Outputs = {
  Report: 'report',
  Changed: 'changed',
  Missing: 'missing',
  NginxCommand: 'nginx-command',
} as const;

export const inputFields = {
  phase: field.choice(['setup', 'doctor'], 'setup'),
  hosts: hostInputs.hosts,
  'ssh-private-key': hostInputs['ssh-private-key'],
  'ssh-known-hosts': hostInputs['ssh-known-hosts'],
  'insecure-skip-host-key-check': hostInputs['insecure-skip-host-key-check'],
  'ssh-connect-timeout-seconds': hostInputs['ssh-connect-timeout-seconds'],
  'max-parallel': hostInputs['max-parallel'],
  'deploy-user': field.string({ form: 'the deploy user on the hosts: a lower-case user name such as deploy', pattern: USER_NAME, max: 32 }),
  'state-dir': hostInputs['state-dir'],
  'nginx-conf-dir': hostInputs['nginx-conf-dir'],
  'nginx-command': hostInputs['nginx-command'],
  'access-log': field.string({ form: 'the nginx access log the canary monitor reads, e.g. /var/log/nginx/agent-loop.access.log, or none', pattern: /^(none|(?!.*(?:^|\/)\.\.(?:\/|$))\/[A-Za-z0-9._/+@-]+)$/, default: '/var/log/nginx/access.log' }),
  'sudoers-file': field.string({ form: 'an absolute path under /etc/sudoers.d without dots in the file name, e.g. /etc/sudoers.d/agent-loop', pattern: /^\/etc\/sudoers\.d\/[A-Za-z0-9_-]+$/, default: '/etc/sudoers.d/agent-loop' }),
};

export function readSettings(read?: InputReader) {
  const inputs = readInputs(inputFields, read);
  requireInput(inputs.phase !== 'setup' || inputs['deploy-user'] !== '', 'deploy-user', 'is required for phase setup: the user the deploy actions log in as, e.g. deploy');
  requireInput(
    inputs['insecure-skip-host-key-check'] || inputs['ssh-known-hosts'] !== '',
    'ssh-known-hosts',
    'is required unless insecure-skip-host-key-check is true: the known_hosts lines of every host, e.g. the output of `ssh-keyscan -p 22 HOST`',
  );
  // host-setup writes the rule for nginx itself: a leading sudo (as deploys use it) is dropped.
  const nginx = inputs['nginx-command'][0] === 'sudo' ? inputs['nginx-command'].slice(1).filter((word, index) => !(index === 0 && word.startsWith('-'))) : inputs['nginx-command'];
  requireInput(nginx.length > 0 && HOST_PATH.test(nginx[0]!), 'nginx-command', 'expected the nginx command line, e.g. nginx or /usr/sbin/nginx -p /opt/nginx/');
  const hosts = inputs.hosts.map(({ target, overrides }) => ({
    target,
    plan: {
      deployUser: inputs['deploy-user'],
      stateDir: overrides.stateDir ?? inputs['state-dir'],
      includeDir: overrides.nginxConfDir ?? inputs['nginx-conf-dir'],
      accessLog: (overrides.accessLog ?? inputs['access-log']) === 'none' ? '' : (overrides.accessLog ?? inputs['access-log']),
      sudoersFile: inputs['sudoers-file'],
      nginx: overrides.nginxCommand ?? nginx,
    } satisfies HostSetupPlan,
  }));
  return { inputs, hosts };
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const { inputs, hosts } = readSettings(read);
    const connectOptions = {
      privateKey: inputs['ssh-private-key'],
      knownHosts: inputs['ssh-known-hosts'],
      insecureSkipHostKeyCheck: inputs['insecure-skip-host-key-check'],
      connectTimeoutMs: inputs['ssh-connect-timeout-seconds'] * 1000,
      warn: action.logger.warn,
    };
    const onHost = <R>(task: (remote: Awaited<ReturnType<typeof connect>>, plan: HostSetupPlan) => Promise<R>) =>
      settleLimit(hosts, inputs['max-parallel'], async ({ target, plan }) => {
        const remote = await connect(target, connectOptions);
        try {
          return await task(remote, plan);
        } finally {
          remote.close();
        }
      });

    const labels = hosts.map((host) => host.target.label);
    if (inputs.phase === 'doctor') {
      const outcome = doctorOutcome(labels, await onHost((remote, plan) => doctor(remote, { stateDir: plan.stateDir, includeDir: plan.includeDir, nginx: plan.nginx, accessLog: plan.accessLog })));
      for (const label of outcome.ready) action.logger.info(`${label}: ready`);
      action.setOutputs({ [Outputs.Report]: JSON.stringify(outcome.report), [Outputs.Missing]: outcome.missing, [Outputs.Changed]: 0, [Outputs.NginxCommand]: '' });
      await action.writeSummary(outcome.summary);
      if (outcome.problems.length > 0) throw new ConfigurationError(outcome.problems.join('\n'));
      return;
    }

    const outcome = setupOutcome(labels, await onHost((remote, plan) => setupHost(remote, plan)), hosts[0]!.plan);
    for (const line of outcome.lines) action.logger.info(line);
    action.setOutputs({
      [Outputs.Report]: JSON.stringify(outcome.reports),
      [Outputs.Changed]: outcome.changed,
      [Outputs.Missing]: outcome.problems.length,
      [Outputs.NginxCommand]: outcome.nginxCommand,
    });
    await action.writeSummary(outcome.summary);
    const { problems, changed, nginxCommand } = outcome;
    if (problems.length > 0) throw new ConfigurationError(`host set-up left ${problems.length} thing${problems.length === 1 ? '' : 's'} to do:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    action.logger.info(`host set-up done: ${changed} change(s); deploy with nginx-command: ${nginxCommand}`);
  });
}
