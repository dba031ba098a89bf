import { action, ConfigurationError, errorMessage, settleLimit } from '@agent-loop/shared/action';
import { connect, deployNginxCommand, setupHost, USER_NAME, type HostSetupPlan, type SetupReport } from '@agent-loop/shared/hosts';
import { field, hostInputs, readInputs, requireInput, type InputReader } from '@agent-loop/shared/inputs';
import { HOST_PATH } from '@agent-loop/shared/vocabulary';
import { doctor, formatPrerequisites, type Prerequisite } from '@agent-loop/shared/runtime';

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

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

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

    if (inputs.phase === 'doctor') {
      const results = await onHost((remote, plan) => doctor(remote, { stateDir: plan.stateDir, includeDir: plan.includeDir, nginx: plan.nginx, accessLog: plan.accessLog }));
      const lines: string[] = [];
      const report: Record<string, Prerequisite[] | { error: string }> = {};
      let missing = 0;
      results.forEach((result, index) => {
        const label = hosts[index]!.target.label;
        if (!result.ok) {
          missing++;
          report[label] = { error: errorMessage(result.error) };
          lines.push(`${label}: could not be checked: ${errorMessage(result.error)}`);
        } else if (result.value.length > 0) {
          missing += result.value.length;
          report[label] = result.value;
          lines.push(formatPrerequisites(label, result.value));
        } else {
          report[label] = [];
          action.logger.info(`${label}: ready`);
        }
      });
      action.setOutputs({ [Outputs.Report]: JSON.stringify(report), [Outputs.Missing]: missing, [Outputs.Changed]: 0, [Outputs.NginxCommand]: '' });
      await action.writeSummary(
        ['## Host doctor', '', '| host | missing | fix |', '| --- | --- | --- |', ...Object.entries(report).flatMap(([host, items]) => (Array.isArray(items) ? (items.length === 0 ? [`| ${host} | nothing: ready | |`] : items.map((item) => `| ${host} | ${cell(item.problem)} | \`${cell(item.fix)}\` |`)) : [`| ${host} | could not be checked | ${cell(items.error)} |`])), ''].join('\n'),
      );
      if (lines.length > 0) throw new ConfigurationError(lines.join('\n'));
      return;
    }

    const results = await onHost((remote, plan) => setupHost(remote, plan));
    const reports: SetupReport[] = [];
    const problems: string[] = [];
    results.forEach((result, index) => {
      const label = hosts[index]!.target.label;
      if (!result.ok) {
        problems.push(`${label}: ${errorMessage(result.error)}`);
        return;
      }
      const report = result.value;
      reports.push(report);
      if (report.fatal) problems.push(`${label}: ${report.fatal}`);
      for (const item of report.items) {
        action.logger.info(`${label}: ${item.outcome}: ${item.what}`);
        if (item.outcome === 'todo') problems.push(`${label}: ${item.what}`);
      }
    });
    const changed = reports.reduce((sum, report) => sum + report.items.filter((item) => item.outcome === 'changed').length, 0);
    const nginxPath = reports.find((report) => report.nginxPath)?.nginxPath ?? '';
    const firstPlan = hosts[0]!.plan;
    const nginxCommand = nginxPath ? deployNginxCommand(nginxPath, firstPlan.nginx.slice(1)) : '';
    action.setOutputs({
      [Outputs.Report]: JSON.stringify(reports),
      [Outputs.Changed]: changed,
      [Outputs.Missing]: problems.length,
      [Outputs.NginxCommand]: nginxCommand,
    });
    await action.writeSummary(
      [
        '## Host set-up',
        '',
        `Deploy user \`${firstPlan.deployUser}\`: ${changed} change${changed === 1 ? '' : 's'}. Deploy with \`nginx-command: ${nginxCommand}\`.`,
        '',
        '| host | outcome | what |',
        '| --- | --- | --- |',
        ...reports.flatMap((report) => [...(report.fatal ? [`| ${report.host} | failed | ${cell(report.fatal)} |`] : []), ...report.items.map((item) => `| ${report.host} | ${item.outcome} | ${cell(item.what)} |`)]),
        '',
      ].join('\n'),
    );
    if (problems.length > 0) throw new ConfigurationError(`host set-up left ${problems.length} thing${problems.length === 1 ? '' : 's'} to do:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    action.logger.info(`host set-up done: ${changed} change(s); deploy with nginx-command: ${nginxCommand}`);
  });
}
