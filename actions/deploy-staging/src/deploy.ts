import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { action } from '@agent-loop/shared/action';
import { ansibleEnv, runPlaybook, type HostSpec } from '@agent-loop/shared/hosts';
import { deploy, promote, type DeploySettings, type PromoteSettings } from '@agent-loop/shared/procedures';
import { type StagingDeployReport } from '@agent-loop/shared/staging';
import { type PhaseResult } from '@agent-loop/shared/fleet';
import { prepareCollections, type CollectionsResult } from './collections';

/** The two ways this action updates staging before testing it. Each returns what happened; neither throws for a failed deploy. */

export interface AnsibleDeploy {
  playbook: string;
  inventory: string;
  limit: string;
  /** Absolute path of the requirements file, or null for none. */
  requirements: string | null;
  extraVars: Record<string, string>;
  workspace: string;
  timeoutMs: number;
  /** The SSH key and known_hosts lines the playbook's hosts are reached with (the job's environment secrets); empty: the runner's own. */
  privateKey: string;
  knownHosts: string;
}

export type AnsibleReport = StagingDeployReport & { collections: CollectionsResult | null };

export async function deployWithAnsible(settings: AnsibleDeploy, now: () => number): Promise<AnsibleReport> {
  const started = now();
  const workDir = mkdtempSync(join(process.env.RUNNER_TEMP ?? tmpdir(), 'agent-loop-ansible-'));
  const env = ansibleEnv(workDir);
  sshCredentials(env, workDir, settings);
  let collections: CollectionsResult | null = null;
  const report = (ok: boolean, detail: string, error?: string): AnsibleReport => ({
    method: 'ansible',
    ok,
    durationMs: now() - started,
    detail,
    collections,
    ...(error ? { error } : {}),
  });
  if (settings.requirements) {
    // Same path on every run, so a cache entry restores where the playbook looks. First in the
    // search path; collections installed on the runner itself stay usable.
    const dir = join(process.env.RUNNER_TEMP ?? tmpdir(), 'agent-loop-ansible-collections');
    env.ANSIBLE_COLLECTIONS_PATH = [dir, process.env.ANSIBLE_COLLECTIONS_PATH || '/usr/share/ansible/collections'].join(
      ':',
    );
    try {
      collections = await prepareCollections({
        requirements: settings.requirements,
        dir,
        env,
        cwd: settings.workspace,
        timeoutMs: settings.timeoutMs,
      });
    } catch (error) {
      return report(false, 'installing the collections failed', (error as Error).message);
    }
  }
  const ran = await runPlaybook(
    {
      playbook: settings.playbook,
      inventory: settings.inventory,
      limit: settings.limit,
      extraVars: settings.extraVars,
    },
    { workDir, env, cwd: settings.workspace, timeoutMs: settings.timeoutMs, log: action.logger },
  );
  const collectionsNote = collections
    ? `; collections from ${collections.requirements} (cache: ${collections.cache})`
    : '';
  if (!ran.ok) return report(false, `ansible-playbook ${settings.playbook} failed${collectionsNote}`, ran.error);
  return report(true, `ansible-playbook ${settings.playbook}${collectionsNote}`);
}

/**
 * The playbook's SSH logins use the key and the known hosts the action was given, as ssh-compose
 * does: written 0600 in the action's own folder, named to ansible by its environment, host keys
 * checked. Without a key, ansible uses the runner's own SSH set-up (an inventory may still name one).
 */
function sshCredentials(env: NodeJS.ProcessEnv, workDir: string, settings: AnsibleDeploy): void {
  if (settings.privateKey === '') return;
  const key = join(workDir, 'ssh-key');
  writeFileSync(key, settings.privateKey.endsWith('\n') ? settings.privateKey : `${settings.privateKey}\n`, {
    mode: 0o600,
  });
  env.ANSIBLE_PRIVATE_KEY_FILE = key;
  if (settings.knownHosts !== '') {
    const known = join(workDir, 'known_hosts');
    writeFileSync(known, `${settings.knownHosts.trim()}\n`, { mode: 0o600 });
    env.ANSIBLE_HOST_KEY_CHECKING = 'True';
    env.ANSIBLE_SSH_ARGS =
      `${env.ANSIBLE_SSH_ARGS ?? ''} -o UserKnownHostsFile=${known} -o StrictHostKeyChecking=yes`.trim();
  }
}

export type ComposeReport = StagingDeployReport & { deploy: PhaseResult | null; promote: PhaseResult | null };

/** Zero downtime on every host: the new color takes all traffic only after its checks (a canary of 100%), then the old one is stopped. */
export async function deployWithCompose(
  hosts: readonly HostSpec[],
  deploySettings: DeploySettings,
  promoteSettings: PromoteSettings,
  now: () => number,
): Promise<ComposeReport> {
  const started = now();
  const label = `${deploySettings.app} ${deploySettings.version} to ${hosts.length} host${hosts.length === 1 ? '' : 's'}`;
  const deployed = await action.logger.group(`deploy ${label}`, () => deploy(hosts, deploySettings));
  if (!deployed.ok)
    return {
      method: 'ssh-compose',
      ok: false,
      durationMs: now() - started,
      detail: `deploy ${label} failed`,
      error: deployed.error ?? 'deploy failed',
      deploy: deployed,
      promote: null,
    };
  const promoted = await action.logger.group(`promote ${label}`, () => promote(hosts, promoteSettings));
  return {
    method: 'ssh-compose',
    ok: promoted.ok,
    durationMs: now() - started,
    detail: promoted.ok
      ? `${label}: ${promoted.version ?? deploySettings.version} serves all traffic on ${promoted.activeColor ?? '?'}`
      : `promote ${label} failed`,
    ...(promoted.ok ? {} : { error: promoted.error ?? 'promote failed' }),
    deploy: deployed,
    promote: promoted,
  };
}
