import { ConfigurationError, HostError } from '../action';
import { APP_NAME } from '../vocabulary';
import { locateCommand, SETUP_SCRIPT } from './hostsetup-script';
import { script, type Argv } from './shell';
import type { Remote } from './ssh';

/**
 * Prepares a host, once, for an unprivileged deploy user (in the manner of `kamal setup`): run by a
 * user that is root or may use sudo without a password, it makes the state directory the deploy
 * user's, keeps the nginx include directory root's, installs the switch helper (a root-owned
 * program that writes an app's include from a fixed template and reloads nginx) and a sudoers
 * drop-in that allows that helper and nothing else (checked with `visudo -c` first), lets the deploy
 * user read the one access log the canary monitor reads (an ACL on that file, no group), and makes
 * sure nginx knows the agent_loop log format and includes the include directory. Every file is
 * written as a temporary file in a directory that only root may write, then renamed into place.
 * Each step checks before it changes, so a second run changes nothing; each reports `changed`,
 * `ok` or `todo`. A host whose traffic goes through another router (HAProxy) has no nginx to set
 * up: it gets the state directory, the access log, and the helper with its maintenance verbs alone
 * (the package upgrade and the log rotation as root) with the same sudoers rule.
 */

/** The access log format the canary monitor reads (one JSON object per request). */
export const AGENT_LOOP_LOG_FORMAT =
  'log_format agent_loop escape=json \'{"time":$msec,"status":$status,"request_time":$request_time,' +
  '"upstream":"$proxy_host","upstream_addr":"$upstream_addr","upstream_status":"$upstream_status",' +
  '"upstream_time":"$upstream_response_time","method":"$request_method","uri":"$uri"}\';';

export interface HostSetupPlan {
  /**
   * The router that moves the host's traffic (its registered name): the include directory and nginx are set up
   * only for nginx; another router's host gets the helper with its maintenance verbs alone. Absent: nginx.
   */
  router?: string;
  deployUser: string;
  stateDir: string;
  includeDir: string;
  /** Empty: not checked. */
  accessLog: string;
  sudoersFile: string;
  /** Where the switch helper is installed (the deploys' nginx-command is `sudo -n` and this path). */
  switchHelper: string;
  /** The nginx command without sudo, e.g. ['nginx'] or ['/usr/sbin/nginx', '-p', '/opt/nginx/']. */
  nginx: readonly string[];
  /** An app whose split variable is defined before its first deploy; empty for none. */
  app?: string;
  /** That app's placeholder include (traffic's placeholderInclude), written when it has none yet. */
  placeholder?: string;
}

export interface SetupItem {
  outcome: 'changed' | 'ok' | 'todo';
  what: string;
}

export const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/**
 * The sudoers drop-in: the deploy user may run, as root and without a password, the switch helper
 * (absolute path), which checks its own arguments. Nothing else: not nginx itself, whose include
 * directories would then have to be the deploy user's.
 */
export function sudoersRule(deployUser: string, helperPath: string): string {
  if (!USER_NAME.test(deployUser)) throw new ConfigurationError(`'${deployUser}' is not a user name`);
  // Plain path characters only: sudoers reads `, : =`, backslashes and white space as syntax.
  if (!/^\/[A-Za-z0-9._/-]+$/.test(helperPath))
    throw new ConfigurationError(
      `the switch helper must be an absolute path of letters, digits and . _ - /, got '${helperPath}'`,
    );
  return [
    '# Written by agent-loop host-setup: the deploy user may run the switch helper as root, and nothing else.',
    `${deployUser} ALL=(root) NOPASSWD: ${helperPath}`,
    '',
  ].join('\n');
}

/** The nginx-command the deploy user's actions use after set-up: the helper through sudo, without a prompt. */
export function deployNginxCommand(helperPath: string): string {
  return ['sudo', '-n', helperPath].join(' ');
}

/** Whether the plan's router is nginx (the helper, its sudoers rule, the include directory are set up only then). */
const drivesNginx = (plan: HostSetupPlan): boolean => (plan.router ?? 'nginx') === 'nginx';

/**
 * The set-up script for a host whose nginx is at nginxPath (from locateCommand); `helperText` is
 * the switch helper's file for that nginx (traffic's helperFile). For another router than nginx,
 * no include directory and no nginx (nginxPath is not used): the state directory, the access log,
 * and the helper with its maintenance verbs alone, with its sudoers rule.
 */
export function setupCommand(plan: HostSetupPlan, nginxPath: string, helperText: string): Argv {
  if (!USER_NAME.test(plan.deployUser)) throw new ConfigurationError(`'${plan.deployUser}' is not a user name`);
  const nginxArgs = plan.nginx.slice(1);
  const rule = sudoersRule(plan.deployUser, plan.switchHelper);
  // An app's split variable is written only with its placeholder text.
  const placeholder = plan.placeholder ?? '';
  const app = placeholder === '' ? '' : (plan.app ?? '');
  if (app !== '' && !APP_NAME.test(app)) throw new ConfigurationError(`'${app}' is not an app name`);
  return script('al-host-setup', SETUP_SCRIPT, [
    plan.deployUser,
    plan.stateDir,
    plan.includeDir,
    plan.accessLog,
    plan.sudoersFile,
    AGENT_LOOP_LOG_FORMAT,
    rule,
    plan.switchHelper,
    helperText,
    app,
    placeholder,
    drivesNginx(plan) ? 'yes' : 'no',
    ...(drivesNginx(plan) ? [nginxPath, ...nginxArgs] : []),
  ]);
}

export interface SetupReport {
  host: string;
  nginxPath: string;
  items: SetupItem[];
  fatal?: string;
}

export function parseSetup(host: string, output: string): SetupReport {
  const report: SetupReport = { host, nginxPath: '', items: [] };
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'fatal') report.fatal = value;
    else if (key === 'nginx_path') report.nginxPath = value;
    else if (key === 'changed' || key === 'ok' || key === 'todo') report.items.push({ outcome: key, what: value });
  }
  return report;
}

/**
 * Runs the set-up on one host (as the admin login) and returns what it changed, found in order, or
 * left to do. `helperFor` gives the switch helper's file for nginx as root runs it there (for
 * another router than nginx, for no nginx: `[]`).
 */
export async function setupHost(
  remote: Remote,
  plan: HostSetupPlan,
  helperFor: (nginx: readonly string[]) => string,
): Promise<SetupReport> {
  if (!drivesNginx(plan)) {
    // No nginx to locate: the helper holds the maintenance verbs alone.
    const result = await remote.run(setupCommand(plan, '', helperFor([])), { timeoutMs: 120_000 });
    const report = parseSetup(remote.label, result.stdout);
    if (result.code !== 0 && !report.fatal)
      throw new HostError(
        remote.label,
        `host set-up failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(-800)}`,
      );
    return report;
  }
  const name = plan.nginx[0] ?? 'nginx';
  const located = parseSetup(
    remote.label,
    (await remote.run(locateCommand(name), { timeoutMs: 30_000 })).stdout,
  ).nginxPath;
  if (!located)
    return {
      host: remote.label,
      nginxPath: '',
      items: [],
      fatal: `nginx (${name}) is not installed, or not found by root: sudo apt-get install -y --no-install-recommends nginx`,
    };
  const result = await remote.run(setupCommand(plan, located, helperFor([located, ...plan.nginx.slice(1)])), {
    timeoutMs: 120_000,
  });
  const report = parseSetup(remote.label, result.stdout);
  report.nginxPath = located;
  if (result.code !== 0 && !report.fatal)
    throw new HostError(
      remote.label,
      `host set-up failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(-800)}`,
    );
  return report;
}
