import { ConfigurationError } from '../action';
import { quote, type Remote } from '../hosts';
import {
  drivesNginx,
  nginxName,
  routerPrerequisites,
  switchHelperPath,
  SWITCH_HELPER_PATH,
  type Prerequisite,
} from '../traffic';
import { doctorCommand, parseDoctor, type DoctorFacts, type DoctorTarget } from './doctor-script';
import { accessLogLine, proxyLine } from './host-facts';

/**
 * The doctor's verdict: what a host lacks, each with the command that fixes it, run on a
 * connected host on its own, as a gate, or to explain a first step that failed.
 */

const q = (word: string) => quote(word);

/**
 * What is missing, each with the command that fixes it (run as a sudo-capable user, or run
 * host-setup). A user that is not root drives nginx only through the switch helper: a directory
 * it may write that nginx (root) loads, or nginx itself through sudo next to such a directory,
 * would make it root in all but name, and is reported as a problem, not as a way to deploy.
 */
export function judgeDoctor(facts: DoctorFacts, target: DoctorTarget): Prerequisite[] {
  const user = facts.user || 'DEPLOY_USER';
  const found: Prerequisite[] = [];
  const helper = switchHelperPath(target.nginx);
  const nginxWords =
    target.nginx[0] === 'sudo'
      ? target.nginx.filter((word, index) => index > 0 && !(word.startsWith('-') && index === 1))
      : [...target.nginx];
  const nginxLine = nginxWords.join(' ');
  const setUp = `run host-setup with deploy-user ${user}, then set nginx-command: sudo -n ${helper ?? SWITCH_HELPER_PATH}`;
  if (facts.stateDir === 'denied')
    found.push({
      problem: `${user} cannot write the state directory ${target.stateDir} (state-dir)`,
      fix: `sudo install -d -o ${q(user)} -g ${q(user)} -m 0750 ${q(target.stateDir)}`,
    });
  if (facts.nginxSkipped) {
    if (!facts.curl)
      found.push({
        problem: 'curl is not installed (the health checks run it on the host)',
        fix: 'sudo apt-get install -y --no-install-recommends curl',
      });
    if (facts.accessLog === 'denied') found.push(accessLogFix(user, target.accessLog));
    return found;
  }
  if (facts.includeDir === 'missing')
    found.push({
      problem: `the nginx include directory ${target.includeDir} does not exist (nginx-conf-dir)`,
      fix: `sudo install -d -o root -g root -m 0755 ${q(target.includeDir)}`,
    });
  if (!facts.curl)
    found.push({
      problem: 'curl is not installed (the health checks run it on the host)',
      fix: 'sudo apt-get install -y --no-install-recommends curl',
    });
  const privileged = /permission denied|not permitted|a password is required|not allowed|sudo:/i.test(
    facts.nginxOutput,
  );
  if (helper) {
    if (!facts.root && facts.includeDir === 'writable') {
      found.push({
        problem:
          `${user} can write the nginx include directory ${target.includeDir}, which nginx loads as root: ` +
          `${user} could make nginx write any file (nginx-conf-dir)`,
        fix: `sudo chown root:root ${q(target.includeDir)} && sudo chmod go-w ${q(target.includeDir)} (or run host-setup)`,
      });
    }
    if (!facts.nginxFound)
      found.push({
        problem: `the nginx helper ${helper} is not installed`,
        fix: `run host-setup with deploy-user ${user} (it installs ${helper} and the sudoers rule for it)`,
      });
    else if (!facts.nginxOk && privileged && !facts.root)
      found.push({
        problem: `${user} may not run ${helper} through sudo: ${facts.nginxOutput.split('\n')[0] ?? ''}`,
        fix: `run host-setup with deploy-user ${user} (its sudoers rule allows ${helper} and nothing else)`,
      });
    else if (!facts.nginxOk)
      found.push({
        problem: `nginx's configuration is invalid before any change: ${facts.nginxOutput || 'no output'}`,
        fix: `fix the configuration until 'sudo ${helper} check' passes`,
        kind: 'configuration',
      });
  } else if (!facts.root && facts.viaSudo) {
    found.push({
      problem:
        `nginx-command runs nginx itself through sudo: ${user} would then write nginx's include directory ` +
        `${target.includeDir}, which nginx loads as root, and could become root`,
      fix: setUp,
    });
  } else if (!facts.nginxFound) {
    found.push(
      facts.nginxInSbin
        ? {
            problem: `'${nginxWords[0]}' is not on ${user}'s PATH (a non-root PATH on Debian has no /usr/sbin)`,
            fix: facts.root ? `set nginx-command: ${[facts.nginxInSbin, ...nginxWords.slice(1)].join(' ')}` : setUp,
          }
        : {
            problem: `nginx ('${nginxWords[0]}') is not installed`,
            fix: 'sudo apt-get install -y --no-install-recommends nginx',
          },
    );
  } else if (!facts.nginxOk) {
    if (privileged && !facts.root)
      found.push({
        problem: `${user} cannot run '${nginxLine} -t': ${facts.nginxOutput.split('\n')[0] ?? ''}`,
        fix: setUp,
      });
    else
      found.push({
        problem: `nginx's configuration is invalid before any change: ${facts.nginxOutput || 'no output'}`,
        fix: `fix the configuration until '${nginxLine} -t' passes`,
        kind: 'configuration',
      });
  } else if (facts.includeDir === 'denied') {
    found.push({
      problem: `${user} cannot write the nginx include directory ${target.includeDir} (nginx-conf-dir)`,
      fix: setUp,
    });
  }
  // The server block, from nginx's own view of its configuration: the two lines the README asks for.
  if (target.app && facts.server) {
    const variable = `$${nginxName(target.app)}`;
    if (!facts.server.proxy)
      found.push({
        problem: `no server block proxies to ${variable}: requests for ${target.app} never reach its colors, and a deploy's canary gets none`,
        fix:
          `add '${proxyLine(target.app)}' to the location of the server block that serves ${target.app} ` +
          `(nginx knows ${variable} once a deploy has written agent-loop-${target.app}.conf), then reload nginx`,
      });
    if (facts.server.log === false)
      found.push({
        problem: `no server block writes ${target.accessLog} in the agent_loop format: the canary monitor reading it (access-log) sees no request`,
        fix: `add '${accessLogLine(target.accessLog)}' next to that proxy_pass, then reload nginx`,
      });
  } else if (target.app && facts.serverUnknown) {
    found.push({
      problem: `the switch helper cannot check the server block (${facts.serverUnknown.slice(0, 120)}): it was installed by an older host-setup`,
      fix: `run host-setup again (it updates ${helper ?? SWITCH_HELPER_PATH})`,
    });
  }
  if (facts.accessLog === 'denied') found.push(accessLogFix(user, target.accessLog));
  return found;
}

const accessLogFix = (user: string, accessLog: string): Prerequisite => ({
  problem: `${user} cannot read the access log ${accessLog} (access-log)`,
  fix: `sudo setfacl -m u:${q(user)}:r ${q(accessLog)} (or run host-setup with access-log ${accessLog})`,
});

export function formatPrerequisites(host: string, missing: readonly Prerequisite[]): string {
  return [
    `${host}: ${missing.length} prerequisite${missing.length === 1 ? '' : 's'} missing (run the host-setup action once, or these commands):`,
    ...missing.map((item) => `  - ${item.problem}\n    fix: ${item.fix}`),
  ].join('\n');
}

/** Runs the doctor on a connected host; returns what is missing (empty when ready): the host's, then the router's own when it is not nginx. */
export async function doctor(remote: Remote, target: DoctorTarget): Promise<Prerequisite[]> {
  const router = target.router;
  const [result, routerMissing] = await Promise.all([
    remote.run(doctorCommand(target), { timeoutMs: 60_000 }),
    router && !drivesNginx(router.name)
      ? routerPrerequisites(router.name, { remote, host: router.host, app: router.app })
      : Promise.resolve([]),
  ]);
  return [...judgeDoctor(parseDoctor(result.stdout), target), ...routerMissing];
}

/** The doctor as a gate: throws a ConfigurationError listing every missing prerequisite with its fix. */
export async function requirePrerequisites(remote: Remote, target: DoctorTarget): Promise<void> {
  const missing = await doctor(remote, target);
  if (missing.length > 0) throw new ConfigurationError(formatPrerequisites(remote.label, missing));
}

/**
 * When a first step on a host fails (taking the lock in the state directory), asks the doctor why:
 * an unprepared host gets the whole list of what is missing, with fixes, instead of a bare
 * `mkdir: Permission denied`. Anything else is passed on as it was.
 */
export async function explainUnprepared(remote: Remote, target: DoctorTarget, error: unknown): Promise<never> {
  let missing: Prerequisite[] = [];
  try {
    missing = await doctor(remote, target);
  } catch {
    // The doctor could not run either: the original error says more.
  }
  if (missing.length > 0) throw new ConfigurationError(formatPrerequisites(remote.label, missing));
  throw error;
}
