import { action, ConfigurationError } from '@agent-loop/shared/action';
import { onEachHost, setupHost, type HostSetupPlan, type HostSpec, type Remote } from '@agent-loop/shared/hosts';
import { hostSetupInputs, hostSetupPlans, readInputs, type InputReader } from '@agent-loop/shared/inputs';
import { doctor } from '@agent-loop/shared/runtime';
import { helperFile, routers } from '@agent-loop/shared/traffic';
import { doctorOutcome, setupOutcome } from '@agent-loop/shared/report';
import { connectOptions } from '@agent-loop/shared/settings';

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

export const inputFields = hostSetupInputs;

export function readSettings(read?: InputReader) {
  const inputs = readInputs(inputFields, read);
  return { inputs, hosts: hostSetupPlans(inputs) };
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const { inputs, hosts } = readSettings(read);
    const onHost = <R>(task: (remote: Remote, plan: HostSetupPlan, host: HostSpec) => Promise<R>) =>
      onEachHost(
        hosts,
        inputs['max-parallel'],
        { ...connectOptions(inputs), warn: action.logger.warn },
        (remote, host) => task(remote, host.plan, host.host),
      );
    const labels = hosts.map((host) => host.target.label);
    if (inputs.phase === 'doctor') {
      const outcome = doctorOutcome(
        labels,
        await onHost((remote, plan, host) =>
          doctor(remote, {
            stateDir: plan.stateDir,
            includeDir: plan.includeDir,
            nginx: plan.nginx,
            accessLog: plan.accessLog,
            app: inputs.app,
            router: { name: inputs.router, host, app: inputs.app },
          }),
        ),
      );
      for (const label of outcome.ready) action.logger.info(`${label}: ready`);
      action.setOutputs({
        [Outputs.Report]: JSON.stringify(outcome.report),
        [Outputs.Missing]: outcome.missing,
        [Outputs.Changed]: 0,
        [Outputs.NginxCommand]: '',
      });
      await action.writeSummary(outcome.summary);
      if (outcome.problems.length > 0) throw new ConfigurationError(outcome.problems.join('\n'));
      return;
    }

    // nginx's part is host-setup's own script; another router's (HAProxy: the deploy user's access to its socket) is the router's.
    const routerSetup = routers.get(inputs.router).setup;
    const outcome = setupOutcome(
      labels,
      await onHost(async (remote, plan, host) => {
        const report = await setupHost(remote, plan, (nginx) => helperFile({ includeDir: plan.includeDir, nginx }));
        if (routerSetup && !report.fatal)
          report.items.push(...(await routerSetup({ remote, host, app: inputs.app, deployUser: plan.deployUser })));
        return report;
      }),
      hosts[0]!.plan,
    );
    for (const line of outcome.lines) action.logger.info(line);
    action.setOutputs({
      [Outputs.Report]: JSON.stringify(outcome.reports),
      [Outputs.Changed]: outcome.changed,
      [Outputs.Missing]: outcome.problems.length,
      [Outputs.NginxCommand]: outcome.nginxCommand,
    });
    await action.writeSummary(outcome.summary);
    const { problems, changed, nginxCommand } = outcome;
    if (problems.length > 0)
      throw new ConfigurationError(
        `host set-up left ${problems.length} thing${problems.length === 1 ? '' : 's'} to do:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
      );
    action.logger.info(
      `host set-up done: ${changed} change(s); deploy with ${nginxCommand ? `nginx-command: ${nginxCommand}` : `router: ${inputs.router}`}`,
    );
  });
}
