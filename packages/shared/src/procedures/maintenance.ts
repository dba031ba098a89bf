import { errorMessage, HostError } from '../action';
import { waitHealthy } from '../runtime';
import { runChecked, script, type AppState, type Argv, type HostSpec, type Remote } from '../hosts';
import { closeSessions, openSessions, type HostSession, type SessionSettings } from '../fleet';
import { drivesNginx, nginxControl, routerPrerequisites } from '../traffic';
import { COLORS } from '../domain';

/**
 * Host maintenance as the deployment procedure writes it: Docker prune that never touches what a
 * color serves or what a rollback may need, and the package upgrade done one host at a time so
 * that the fleet keeps serving.
 */

// ------------------------------------------------------------------------------------------ prune

export interface PruneOptions {
  /** Only what has been unused for longer than this many hours. */
  untilHours: number;
  /** Also unused tagged images (`--all`), not only dangling ones. */
  allImages: boolean;
}

/** How many of the latest deployed versions' images are kept besides the two colors'. */
export const KEPT_DEPLOYS = 3;

/**
 * Images a rollback may need on this host: both colors' recorded images (running or stopped), the
 * canary's, and those of the last KEPT_DEPLOYS deploys in the history.
 */
export function protectedImages(state: AppState): string[] {
  const images = new Set<string>();
  for (const color of COLORS) {
    const image = state.colors[color]?.image;
    if (image) images.add(image);
  }
  if (state.canary?.image) images.add(state.canary.image);
  const deploys = state.history.filter(
    (entry) => entry.action === 'deploy' && entry.outcome === 'success' && entry.image !== '',
  );
  for (const entry of deploys.slice(-KEPT_DEPLOYS)) images.add(entry.image);
  return [...images];
}

// `docker system prune` would remove a stopped color's container (and with --all its image, and its
// network), which a rollback restarts. This does what it does, piece by piece, skipping the app's
// compose projects (<app>-blue, <app>-green: their containers and networks) and the protected images.
const PRUNE_SCRIPT = `until_h=$1; all=$2; app=$3; shift 3
now=$(date +%s); cutoff=$((now - until_h * 3600))
protected_project() { [ "$1" = "$app-blue" ] || [ "$1" = "$app-green" ]; }
older() { t=$(date -d "$1" +%s 2>/dev/null) || return 1; [ "$t" -le "$cutoff" ]; }
# Image ids that must stay: the protected references, and every image a container still uses.
keep=" "
for ref in "$@"; do id=$(docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null) && keep="$keep$id "; done
for id in $(docker ps --all --quiet --no-trunc); do keep="$keep$(docker inspect --format '{{.Image}}' "$id") "; done
containers=0; images=0; networks=0
for id in $(docker ps --all --quiet --no-trunc --filter status=exited --filter status=created --filter status=dead); do
  project=$(docker inspect --format '{{index .Config.Labels "com.docker.compose.project"}}' "$id")
  if protected_project "$project"; then echo "kept container $(docker inspect --format '{{.Name}}' "$id") ($project)"; continue; fi
  finished=$(docker inspect --format '{{.State.FinishedAt}}' "$id")
  case "$finished" in 0001-*) finished=$(docker inspect --format '{{.Created}}' "$id") ;; esac
  older "$finished" || continue
  docker rm "$id" >/dev/null && containers=$((containers + 1))
done
# Containers removed above no longer hold their images.
keep=" "
for ref in "$@"; do id=$(docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null) && keep="$keep$id "; done
for id in $(docker ps --all --quiet --no-trunc); do keep="$keep$(docker inspect --format '{{.Image}}' "$id") "; done
if [ "$all" = true ]; then list=$(docker image ls --quiet --no-trunc); else list=$(docker image ls --quiet --no-trunc --filter dangling=true); fi
for id in $(printf '%s\\n' $list | sort -u); do
  case "$keep" in *" $id "*) echo "kept image $id"; continue ;; esac
  older "$(docker image inspect --format '{{.Created}}' "$id")" || continue
  docker image rm --force "$id" >/dev/null 2>&1 && images=$((images + 1))
done
for id in $(docker network ls --quiet --no-trunc --filter type=custom); do
  project=$(docker network inspect --format '{{index .Labels "com.docker.compose.project"}}' "$id")
  protected_project "$project" && continue
  [ "$(docker network inspect --format '{{len .Containers}}' "$id")" = 0 ] || continue
  older "$(docker network inspect --format '{{.Created.Format "2006-01-02T15:04:05Z07:00"}}' "$id")" || continue
  docker network rm "$id" >/dev/null 2>&1 && networks=$((networks + 1))
done
docker builder prune --force --filter "until=\${until_h}h" >/dev/null 2>&1 || true
echo "removed containers=$containers images=$images networks=$networks"`;

export function pruneCommand(app: string, keepImages: readonly string[], options: PruneOptions): Argv {
  return script('al-prune', PRUNE_SCRIPT, [String(options.untilHours), String(options.allImages), app, ...keepImages]);
}

export interface PruneResult {
  containers: number;
  images: number;
  networks: number;
  kept: string[];
}

export function parsePrune(output: string): PruneResult {
  const counts = /^removed containers=(\d+) images=(\d+) networks=(\d+)$/m.exec(output);
  if (!counts) throw new Error(`prune printed no summary: ${output.trim().split('\n').slice(-3).join(' / ')}`);
  return {
    containers: Number(counts[1]),
    images: Number(counts[2]),
    networks: Number(counts[3]),
    kept: output.split('\n').filter((line) => line.startsWith('kept ')),
  };
}

/** Prunes one host; what the app's colors and a rollback need is kept (see `protectedImages`). */
export async function pruneHost(session: HostSession, options: PruneOptions, timeoutMs: number): Promise<PruneResult> {
  const keep = protectedImages(session.state);
  const output = await runChecked(session.remote, pruneCommand(session.state.app, keep, options), 'docker prune', {
    timeoutMs,
  });
  return parsePrune(output);
}

// -------------------------------------------------------------------------------- rolling upgrade

export interface UpgradeSettings extends SessionSettings {
  /**
   * Run on each host as argv; null runs the helper's `upgrade` verb on each (upkeep.ts: apt-get
   * update and upgrade as root, or the admin's own upgrade program), which an unprivileged deploy
   * user may run through sudo.
   */
  upgradeCommand: Argv | null;
  healthPaths: string[];
  healthTimeoutSeconds: number;
  commandTimeoutSeconds: number;
}

/** The helper's maintenance verb on this host: the installed helper through sudo, or its text as root. */
export function upkeepCommand(spec: HostSpec, verb: 'upgrade' | 'rotate-logs', args: readonly string[] = []): Argv {
  return [...nginxControl(spec.nginxCommand, spec.nginxConfDir), verb, ...args];
}

/** Rotates the host's logs with a root-owned logrotate configuration, through the helper. */
export async function rotateLogs(session: HostSession, config: string, timeoutMs: number): Promise<void> {
  await runChecked(session.remote, upkeepCommand(session.spec, 'rotate-logs', [config]), 'log rotation', { timeoutMs });
}

/** How full the host's root file system is, as df prints it (`42%`), or `?`. */
export async function diskUse(session: HostSession): Promise<string> {
  const result = await session.remote.run(['df', '-P', '/'], { timeoutMs: 30_000 });
  const use = result.code === 0 ? /^\S+\s+\d+\s+\d+\s+\d+\s+(\d{1,3}%)/m.exec(result.stdout)?.[1] : undefined;
  return use ?? '?';
}

export interface HostUpgrade {
  host: string;
  outcome: 'upgraded' | 'failed' | 'not started';
  ms: number;
  detail?: string;
}

export interface UpgradeResult {
  ok: boolean;
  hosts: HostUpgrade[];
  /** The host that failed, when one did: the hosts after it were left untouched. */
  failedHost: string | null;
  error?: string;
}

/**
 * Upgrades the hosts one at a time: upgrade, then the router must still work (nginx's configuration
 * valid; HAProxy answering on its admin socket) and the live color must answer its health check, before the next host is touched. Stops at the first host
 * that fails, naming it; the hosts after it are not touched.
 */
export async function rollingUpgrade(hosts: readonly HostSpec[], settings: UpgradeSettings): Promise<UpgradeResult> {
  const results: HostUpgrade[] = hosts.map((spec) => ({ host: spec.target.label, outcome: 'not started', ms: 0 }));
  for (const [index, spec] of hosts.entries()) {
    const started = settings.clock.now();
    const result = results[index]!;
    let sessions: HostSession[] = [];
    try {
      sessions = await openSessions([spec], settings, {
        runId: settings.run.runId,
        actor: settings.run.actor,
        version: '(maintenance)',
        phase: 'upgrade',
        time: new Date(started).toISOString(),
      });
      const session = sessions[0]!;
      result.host = session.label;
      settings.log.info(`${session.label}: upgrading packages (${index + 1} of ${hosts.length})`);
      await runChecked(
        session.remote,
        settings.upgradeCommand ?? upkeepCommand(spec, 'upgrade'),
        'the package upgrade',
        { timeoutMs: settings.commandTimeoutSeconds * 1000 },
      );
      await checkServing(session.remote, session, settings);
      await session.audit('package upgrade', { ok: true });
      result.outcome = 'upgraded';
    } catch (error) {
      result.outcome = 'failed';
      result.detail = errorMessage(error);
      result.ms = settings.clock.now() - started;
      if (sessions[0]) await sessions[0].audit('package upgrade', { ok: false, detail: result.detail });
      await closeSessions(sessions);
      const untouched = results.slice(index + 1).map((other) => other.host);
      return {
        ok: false,
        hosts: results,
        failedHost: result.host,
        error: `${result.detail}\nstopped at ${result.host}; ${untouched.length > 0 ? `not touched: ${untouched.join(', ')}` : 'it was the last host'}`,
      };
    }
    result.ms = settings.clock.now() - started;
    await closeSessions(sessions);
  }
  return { ok: true, hosts: results, failedHost: null };
}

/**
 * After a host's upgrade: its router still works (nginx: nginx -t; another router: its prerequisites,
 * HAProxy's socket answering at level admin with the app's servers), and the live color answers.
 */
async function checkServing(remote: Remote, session: HostSession, settings: UpgradeSettings): Promise<void> {
  if (drivesNginx(settings.router)) {
    const nginx = await remote.run([...nginxControl(session.spec.nginxCommand, session.spec.nginxConfDir), 'check'], {
      timeoutMs: 60_000,
    });
    if (nginx.code !== 0)
      throw new HostError(
        remote.label,
        `after the upgrade, nginx -t fails: ${(nginx.stderr || nginx.stdout).trim().split('\n').slice(-4).join(' / ')}`,
      );
  } else {
    const router = settings.router as string;
    const missing = await routerPrerequisites(router, { remote, host: session.spec, app: settings.app });
    if (missing.length > 0)
      throw new HostError(
        remote.label,
        `after the upgrade, router ${router} does not work: ${missing.map((item) => item.problem).join('; ')}`,
      );
  }
  const active = session.state.active;
  if (!active) return;
  try {
    await waitHealthy(
      remote,
      session.port(active),
      settings.healthPaths,
      settings.healthTimeoutSeconds,
      settings.clock,
    );
  } catch (error) {
    throw new HostError(
      remote.label,
      `after the upgrade, the live color ${active} does not answer its health check: ${errorMessage(error)}`,
    );
  }
}
