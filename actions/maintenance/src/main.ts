import { action, errorMessage, hostCell, settleLimit, systemClock } from '@agent-loop/shared/action';

import { field, hostInputs, readInputs, requireInput, resolveHosts, runtimeInputs, sessionFromInputs, type InputReader } from '@agent-loop/shared/inputs';
import { APT_UPGRADE, pruneHost, rollingUpgrade, type PruneResult, type UpgradeResult } from '@agent-loop/shared/procedures';
import { closeSessions, openSessions } from '@agent-loop/shared/fleet';
import { table } from '@agent-loop/shared/report';

export const Outputs = {
  Ok: 'ok',
  FailedHost: 'failed-host',
  Report: 'report',
} as const;

const { 'slack-webhook-url': _slack, environment: _environment, ...hostFields } = hostInputs;

export const inputFields = {
  ...hostFields,
  'split-key': runtimeInputs['split-key'],
  'health-path': runtimeInputs['health-path'],
  'ready-path': runtimeInputs['ready-path'],
  'health-timeout-seconds': runtimeInputs['health-timeout-seconds'],
  'command-timeout-seconds': runtimeInputs['command-timeout-seconds'],
  prune: field.boolean(true),
  'prune-until-hours': field.integer({ min: 0, max: 100_000, default: 168, unit: 'hours unused' }),
  'prune-all-images': field.boolean(false),
  upgrade: field.boolean(false),
  // The workflow author's own command, like start-command: it runs in a shell on each host.
  'upgrade-command': field.string({ form: 'a command line run with sh -c on each host, or empty for apt-get update and upgrade', pattern: /^[^\0\n\r]*$/, max: 4096 }),
};

export interface HostPrune {
  host: string;
  ok: boolean;
  result?: PruneResult;
  error?: string;
}

export function readSettings(read?: InputReader) {
  const inputs = readInputs(inputFields, read);
  requireInput(inputs.prune || inputs.upgrade, 'prune', 'is false and so is upgrade: there is nothing to do');
  return { inputs, hosts: resolveHosts({ ...inputs, 'slack-webhook-url': '', environment: 'production' }) };
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const { inputs, hosts } = readSettings(read);
    const session = sessionFromInputs({ ...inputs, 'slack-webhook-url': '', environment: 'production' }, action.runInfo(), action.logger, systemClock);
    const timeoutMs = inputs['command-timeout-seconds'] * 1000;
    let pruned: HostPrune[] = [];
    if (inputs.prune) {
      pruned = await action.logger.group('docker prune (keeps both colors and what a rollback needs)', async () => {
        const sessions = await openSessions(hosts, session, { runId: session.run.runId, actor: session.run.actor, version: '(maintenance)', phase: 'prune', time: new Date().toISOString() });
        try {
          const results = await settleLimit(sessions, session.maxParallel, (host) => pruneHost(host, { untilHours: inputs['prune-until-hours'], allImages: inputs['prune-all-images'] }, timeoutMs));
          return results.map((result, index): HostPrune => {
            const host = sessions[index]!.label;
            if (!result.ok) return { host, ok: false, error: errorMessage(result.error) };
            action.logger.info(`${host}: removed ${result.value.containers} container(s), ${result.value.images} image(s), ${result.value.networks} network(s); ${result.value.kept.length} kept`);
            return { host, ok: true, result: result.value };
          });
        } finally {
          await closeSessions(sessions);
        }
      });
    }
    let upgrade: UpgradeResult | null = null;
    if (inputs.upgrade) {
      upgrade = await action.logger.group('package upgrade, one host at a time', () =>
        rollingUpgrade(hosts, {
          ...session,
          upgradeCommand: inputs['upgrade-command'] === '' ? APT_UPGRADE : ['sh', '-c', inputs['upgrade-command']],
          healthPaths: [inputs['health-path'], ...(inputs['ready-path'] === 'none' ? [] : [inputs['ready-path']])],
          healthTimeoutSeconds: inputs['health-timeout-seconds'],
          commandTimeoutSeconds: inputs['command-timeout-seconds'],
        }),
      );
    }
    const pruneFailures = pruned.filter((host) => !host.ok);
    const ok = pruneFailures.length === 0 && (upgrade?.ok ?? true);
    action.setOutputs({ [Outputs.Ok]: String(ok), [Outputs.FailedHost]: upgrade?.failedHost ?? pruneFailures[0]?.host ?? '', [Outputs.Report]: JSON.stringify({ prune: pruned, upgrade }) });
    // The errors and details are the hosts' own words: table() makes them inert text.
    const rows = pruned.map((host) => [hostCell(host.host), host.ok ? `${host.result!.containers} containers, ${host.result!.images} images, ${host.result!.networks} networks removed; ${host.result!.kept.length} kept` : `failed: ${host.error}`]);
    const upgrades = (upgrade?.hosts ?? []).map((host) => [hostCell(host.host), `${host.outcome}${host.detail ? `: ${host.detail}` : ''}`]);
    await action.writeSummary(
      [`### ${ok ? '✅' : '❌'} Maintenance of ${inputs.app}`, '', ...(rows.length ? [table(['host', 'prune'], rows), ''] : []), ...(upgrades.length ? [table(['host', 'package upgrade'], upgrades), ''] : [])].join('\n'),
    );
    const problems = [...pruneFailures.map((host) => `${host.host}: prune failed: ${host.error}`), ...(upgrade && !upgrade.ok ? [upgrade.error ?? 'the package upgrade failed'] : [])];
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });
}
