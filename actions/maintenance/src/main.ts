import {
  action,
  errorMessage,
  hostCell,
  requireInput,
  settleLimit,
  systemClock,
  table,
} from '@agent-loop/shared/action';

import {
  field,
  hostInputs,
  readInputs,
  resolveHosts,
  runtimeInputs,
  type InputReader,
} from '@agent-loop/shared/inputs';
import {
  diskUse,
  pruneHost,
  rollingUpgrade,
  rotateLogs,
  type PruneResult,
  type UpgradeResult,
} from '@agent-loop/shared/procedures';
import { closeSessions, openSessions } from '@agent-loop/shared/fleet';
import { sessionFromInputs } from '@agent-loop/shared/settings';

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
  'upgrade-command': field.string({
    form: "a command line run with sh -c on each host, or empty for the switch helper's upgrade (apt-get update and upgrade as root)",
    pattern: /^[^\0\n\r]*$/,
    max: 4096,
  }),
  'rotate-logs': field.boolean(false),
  'logrotate-config': field.string({
    form: 'an absolute path of letters, digits and . _ / - (a logrotate configuration only root may write)',
    pattern: /^\/[A-Za-z0-9._/-]{0,511}$/,
    default: '/etc/logrotate.conf',
  }),
};

export interface HostPrune {
  host: string;
  ok: boolean;
  result?: PruneResult;
  /** Whether the logs were rotated; absent when rotate-logs is false. */
  rotated?: boolean;
  /** How full the root file system is after the work (`42%`, or `?`). */
  disk?: string;
  error?: string;
}

export function readSettings(read?: InputReader) {
  const inputs = readInputs(inputFields, read);
  requireInput(
    inputs.prune || inputs.upgrade || inputs['rotate-logs'],
    'prune',
    'is false and so are upgrade and rotate-logs: there is nothing to do',
  );
  return { inputs, hosts: resolveHosts({ ...inputs, 'slack-webhook-url': '', environment: 'production' }) };
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const { inputs, hosts } = readSettings(read);
    const session = sessionFromInputs(
      { ...inputs, 'slack-webhook-url': '', environment: 'production' },
      action.runInfo(),
      action.logger,
      systemClock,
    );
    const timeoutMs = inputs['command-timeout-seconds'] * 1000;
    let pruned: HostPrune[] = [];
    if (inputs.prune || inputs['rotate-logs']) {
      const what = [
        inputs.prune ? 'docker prune (keeps both colors and what a rollback needs)' : '',
        inputs['rotate-logs'] ? 'log rotation' : '',
      ];
      pruned = await action.logger.group(what.filter(Boolean).join(', '), async () => {
        const sessions = await openSessions(hosts, session, {
          runId: session.run.runId,
          actor: session.run.actor,
          version: '(maintenance)',
          phase: 'prune',
          time: new Date().toISOString(),
        });
        try {
          const results = await settleLimit(sessions, session.maxParallel, async (host): Promise<HostPrune> => {
            const done: HostPrune = { host: host.label, ok: true };
            try {
              if (inputs.prune)
                done.result = await pruneHost(
                  host,
                  { untilHours: inputs['prune-until-hours'], allImages: inputs['prune-all-images'] },
                  timeoutMs,
                );
              if (inputs['rotate-logs']) {
                done.rotated = false;
                await rotateLogs(host, inputs['logrotate-config'], timeoutMs);
                done.rotated = true;
              }
            } catch (error) {
              done.ok = false;
              done.error = errorMessage(error);
            }
            done.disk = await diskUse(host).catch(() => '?');
            return done;
          });
          return results.map((result, index): HostPrune => {
            const host = sessions[index]!.label;
            if (!result.ok) return { host, ok: false, error: errorMessage(result.error) };
            const value = result.value;
            if (value.result)
              action.logger.info(
                `${host}: removed ${value.result.containers} container(s), ${value.result.images} image(s), ` +
                  `${value.result.networks} network(s); ${value.result.kept.length} kept`,
              );
            if (value.rotated) action.logger.info(`${host}: logs rotated with ${inputs['logrotate-config']}`);
            return value;
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
          upgradeCommand: inputs['upgrade-command'] === '' ? null : ['sh', '-c', inputs['upgrade-command']],
          healthPaths: [inputs['health-path'], ...(inputs['ready-path'] === 'none' ? [] : [inputs['ready-path']])],
          healthTimeoutSeconds: inputs['health-timeout-seconds'],
          commandTimeoutSeconds: inputs['command-timeout-seconds'],
        }),
      );
    }
    const pruneFailures = pruned.filter((host) => !host.ok);
    const ok = pruneFailures.length === 0 && (upgrade?.ok ?? true);
    action.setOutputs({
      [Outputs.Ok]: String(ok),
      [Outputs.FailedHost]: upgrade?.failedHost ?? pruneFailures[0]?.host ?? '',
      [Outputs.Report]: JSON.stringify({ prune: pruned, upgrade }),
    });
    // The errors and details are the hosts' own words: table() makes them inert text.
    const rows = pruned.map((host) => [hostCell(host.host), hostWork(host), host.disk ?? '?']);
    const upgrades = (upgrade?.hosts ?? []).map((host) => [
      hostCell(host.host),
      `${host.outcome}${host.detail ? `: ${host.detail}` : ''}`,
    ]);
    await action.writeSummary(
      [
        `### ${ok ? '✅' : '❌'} Maintenance of ${inputs.app}`,
        '',
        ...(rows.length ? [table(['host', 'prune and logs', 'disk use'], rows), ''] : []),
        ...(upgrades.length ? [table(['host', 'package upgrade'], upgrades), ''] : []),
      ].join('\n'),
    );
    const problems = [
      ...pruneFailures.map(
        (host) => `${host.host}: ${host.rotated === false ? 'log rotation' : 'prune'} failed: ${host.error}`,
      ),
      ...(upgrade && !upgrade.ok ? [upgrade.error ?? 'the package upgrade failed'] : []),
    ];
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });
}

function hostWork(host: HostPrune): string {
  if (!host.ok) return `failed: ${host.error}`;
  const done: string[] = [];
  if (host.result)
    done.push(
      `${host.result.containers} containers, ${host.result.images} images, ${host.result.networks} networks removed; ${host.result.kept.length} kept`,
    );
  if (host.rotated) done.push('logs rotated');
  return done.join('; ');
}
