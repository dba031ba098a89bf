import { HostError } from '../action';
import { renderTemplate, runChecked, script, type Argv, type Remote } from '../hosts';
import type { Release } from '../domain';

/** One check or preparation a runtime runs on a host before anything there changes. */
export interface PrepareStep {
  what: string;
  argv: Argv;
  /** The step prints `image=REF`: the exact image to run (a tag resolved to its registry digest). */
  resolvesImage?: boolean;
}

/** Starts and stops one color of an app on a host. Decides the commands; `runOn` runs them. */
export interface Runtime {
  /** The name it is registered under (registry.ts): `compose`, `command`. */
  readonly kind: string;
  /** Commands that check the host and fetch what `release` needs (engine, pull); each must exit 0. Nothing is stopped yet. */
  prepare(release: Release): PrepareStep[];
  start(release: Release): Argv;
  stop(release: Release): Argv;
}

export const TEMPLATE_PLACEHOLDERS = ['app', 'color', 'port', 'image', 'version'] as const;

const templateValues = (release: Release): Record<string, string> => ({
  app: release.app,
  color: release.color,
  port: String(release.port),
  image: release.image,
  version: release.version,
});

export interface ComposeOptions {
  /** Bound of `up --wait` (the action's health-timeout-seconds). */
  waitTimeoutSeconds?: number;
  /** Free space required under the engine's data root, where images are pulled (min-free-disk-mb); 0 checks nothing. */
  minFreeDiskMb?: number;
}

const DEFAULT_WAIT_SECONDS = 120;

// The image is pulled under the engine's data root, often another disk than the state folder's:
// its free space is checked there (df needs no access to the folder itself).
// A backslash-newline inside double quotes is removed by the shell: each message is one line.
const ENGINE_SCRIPT = `min_mb=$1
if ! out=$(docker info --format '{{.ServerVersion}}' 2>&1); then
  echo "the Docker engine does not answer (docker info: $(printf '%s' "$out" | tail -n 3))" >&2; exit 1
fi
if [ "$min_mb" -gt 0 ]; then
  root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null)
  free_kb=$(df -Pk "$root" 2>/dev/null | awk 'NR==2 {print $4}')
  if [ -n "$free_kb" ] && [ "$free_kb" -lt $(( min_mb * 1024 )) ]; then
    echo "only $(( free_kb / 1024 )) MB of disk free under the Docker data root $root, $min_mb MB required (min-free-disk-mb): \\
prune unused images (the maintenance action) or free space there" >&2; exit 1
  fi
fi
if ! v=$(docker compose version --short 2>&1); then
  echo "docker compose v2 is not installed (docker compose version: $(printf '%s' "$v" | tail -n 1)); compose v1 (docker-compose) has no up --wait" >&2; exit 1
fi
echo "engine=$out compose=$v"`;

// Pull every time: a tag may have moved since the last pull (compose only pulls missing images).
// Then resolve the tag to its registry digest, so that the color records, and a rollback restarts,
// exactly what ran. An image built on the host and never pushed has no digest and is used as is.
const PULL_SCRIPT = `img=$1
case "$img" in
  *@sha256:*)
    docker image inspect --format '{{.Id}}' "$img" >/dev/null 2>&1 || docker pull --quiet "$img" >/dev/null || exit 1
    echo "image=$img"; exit 0 ;;
esac
if ! out=$(docker pull --quiet "$img" 2>&1); then
  if [ "$(docker image inspect --format '{{len .RepoDigests}}' "$img" 2>/dev/null)" = 0 ]; then
    echo "image=$img"; echo "note=$img was built on this host (no registry digest); used as it is"; exit 0
  fi
  printf '%s\n' "$out" >&2
  case "$out" in *"no basic auth credentials"*|*unauthorized*|*"authentication required"*|*denied*)
    echo "the registry refused the pull: log this host in to it (docker login, as the SSH user)" >&2 ;;
  esac
  exit 1
fi
repo=\${img%:*}
case "\${img##*/}" in *:*) ;; *) repo=$img ;; esac
digest=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$img" 2>/dev/null | grep -F "$repo@" | head -n 1)
echo "image=\${digest:-$img}"`;

// A color whose container exists, stopped, with the very image asked for, was started (and checked)
// before: start it and let the procedure's own health check (every 0.2 s) confirm it, instead of
// waiting on the first healthcheck probe. Anything else is created and awaited with up --wait; a
// failed wait leaves no unhealthy container running.
const UP_SCRIPT = `wait=$1; project=$2; image=$3; shift 3
ids=$(docker ps --all --quiet --filter "label=com.docker.compose.project=$project")
if [ -n "$ids" ] && [ "$(docker inspect --format '{{.State.Running}}' $ids | sort -u)" = false ] &&
   [ "$(docker inspect --format '{{.Image}}' $ids | sort -u)" = "$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null)" ]; then
  exec "$@" up --detach --remove-orphans
fi
"$@" up --detach --remove-orphans --wait --wait-timeout "$wait"
rc=$?
ids=$(docker ps --all --quiet --filter "label=com.docker.compose.project=$project")
# Success is every container running and, where it has a healthcheck, healthy: checked here as
# well, so that nothing unproven is ever left to take traffic.
if [ "$rc" = 0 ]; then
  states=$(docker inspect --format '{{.State.Status}}{{if .State.Health}} {{.State.Health.Status}}{{end}}' $ids 2>&1) || states=failed
  bad=$(printf '%s\\n' "$states" | grep -v -x -e running -e 'running healthy')
  [ -z "$bad" ] && exit 0
  echo "compose reported the project up, but its containers are: $(printf '%s' "$states" | tr '\\n' ',')" >&2
  rc=1
fi
for id in $ids; do
  docker ps --all --filter "id=$id" --format '{{.Names}}: {{.Status}}'
  docker logs --tail 5 "$id" 2>&1 | sed 's/^/  log: /'
done >&2
"$@" stop >/dev/null 2>&1
left=$(docker ps --quiet --filter "label=com.docker.compose.project=$project")
if [ -n "$left" ]; then
  echo "docker compose stop left $(echo $left | wc -w) container(s) running: killed" >&2
  docker kill $left >/dev/null 2>&1
fi
exit "$rc"`;

// Nothing of the project running (a color already stopped, or never started): nothing to stop,
// and no compose start-up (about 0.3 s) on a rollback's way to safety.
const STOP_SCRIPT = `project=$1; shift
[ -n "$(docker ps --quiet --filter "label=com.docker.compose.project=$project")" ] || exit 0
exec "$@" stop`;

/**
 * docker compose, one project per color (`<app>-<color>`). The compose file reads the image and
 * port from the environment: `image: ${AGENT_LOOP_IMAGE}` and `ports: ["127.0.0.1:${AGENT_LOOP_PORT}:8000"]`.
 */
export function composeRuntime(composeFile: string, options: ComposeOptions = {}): Runtime {
  const project = (release: Release): string => `${release.app}-${release.color}`;
  const compose = (release: Release): Argv => [
    'env',
    `AGENT_LOOP_APP=${release.app}`,
    `AGENT_LOOP_COLOR=${release.color}`,
    `AGENT_LOOP_PORT=${release.port}`,
    `AGENT_LOOP_IMAGE=${release.image}`,
    `AGENT_LOOP_VERSION=${release.version}`,
    'docker',
    'compose',
    '--project-name',
    project(release),
    '--file',
    composeFile,
  ];
  const waitSeconds = options.waitTimeoutSeconds ?? DEFAULT_WAIT_SECONDS;
  return {
    kind: 'compose',
    prepare: (release) => [
      {
        what: 'the Docker engine answers, has room for the image and docker compose v2 is installed',
        argv: script('al-engine', ENGINE_SCRIPT, [String(options.minFreeDiskMb ?? 0)]),
      },
      { what: `the compose file ${composeFile} exists`, argv: ['test', '-f', composeFile] },
      {
        what: `the image ${release.image} can be pulled`,
        argv: script('al-pull', PULL_SCRIPT, [release.image]),
        resolvesImage: true,
      },
    ],
    start: (release) =>
      script('al-up', UP_SCRIPT, [String(waitSeconds), project(release), release.image, ...compose(release)]),
    stop: (release) => script('al-stop', STOP_SCRIPT, [project(release), ...compose(release)]),
  };
}

/** The user's own start and stop commands, with `{app} {color} {port} {image} {version}` filled in quoted. */
export function commandRuntime(startTemplate: string, stopTemplate: string): Runtime {
  return {
    kind: 'command',
    prepare: () => [],
    start: (release) => ['sh', '-c', renderTemplate(startTemplate, templateValues(release))],
    stop: (release) => ['sh', '-c', renderTemplate(stopTemplate, templateValues(release))],
  };
}

/**
 * Runs the runtime's checks and pulls for `release` before anything on the host changes; returns
 * the release with the image it must run (a tag resolved to its digest by the compose runtime).
 */
export async function prepareRelease(
  remote: Remote,
  runtime: Runtime,
  release: Release,
  timeoutMs: number,
): Promise<Release> {
  let image = release.image;
  for (const step of runtime.prepare(release)) {
    const stdout = await runChecked(remote, step.argv, `checking that ${step.what}`, { timeoutMs });
    const resolved = step.resolvesImage ? /^image=(\S+)$/m.exec(stdout)?.[1] : undefined;
    if (resolved) image = resolved;
  }
  return { ...release, image };
}

/** Starts a prepared release (see `prepareRelease`). */
export async function launchRelease(
  remote: Remote,
  runtime: Runtime,
  release: Release,
  timeoutMs: number,
): Promise<void> {
  const result = await remote.run(runtime.start(release), { timeoutMs });
  if (result.code !== 0) {
    const detail = (result.stderr || result.stdout).trim().split('\n').slice(-12).join('\n');
    throw new HostError(
      remote.label,
      `starting ${release.app} ${release.version} as ${release.color} on port ${release.port} failed (exit ${result.code})${detail ? `: ${detail}` : ''}`,
    );
  }
}

/** Prepares then starts `release`; returns what was started. */
export async function startRelease(
  remote: Remote,
  runtime: Runtime,
  release: Release,
  timeoutMs: number,
): Promise<Release> {
  const prepared = await prepareRelease(remote, runtime, release, timeoutMs);
  await launchRelease(remote, runtime, prepared, timeoutMs);
  return prepared;
}

export async function stopRelease(
  remote: Remote,
  runtime: Runtime,
  release: Release,
  timeoutMs: number,
): Promise<void> {
  await runChecked(remote, runtime.stop(release), `stopping ${release.color} (${release.version})`, { timeoutMs });
}
