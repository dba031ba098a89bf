import { HostError } from './errors';
import { renderTemplate, script, type Argv } from './shell';
import { runChecked, type Remote } from './ssh';
import type { Color } from './state';

/** What a color runs: the values a runtime command may use. */
export interface Release {
  app: string;
  color: Color;
  port: number;
  image: string;
  version: string;
}

/** Starts and stops one color of an app on a host. Decides the commands; `runOn` runs them. */
export interface Runtime {
  readonly kind: 'compose' | 'command';
  /** Commands that prepare the host for `release` (checks, pulls); each must exit 0. */
  prepare(release: Release): Array<{ what: string; argv: Argv }>;
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

/**
 * docker compose, one project per color (`<app>-<color>`). The compose file reads the image and
 * port from the environment: `image: ${AGENT_LOOP_IMAGE}` and `ports: ["127.0.0.1:${AGENT_LOOP_PORT}:8000"]`.
 */
export function composeRuntime(composeFile: string): Runtime {
  const compose = (release: Release, ...args: string[]): Argv => [
    'env',
    `AGENT_LOOP_APP=${release.app}`,
    `AGENT_LOOP_COLOR=${release.color}`,
    `AGENT_LOOP_PORT=${release.port}`,
    `AGENT_LOOP_IMAGE=${release.image}`,
    `AGENT_LOOP_VERSION=${release.version}`,
    'docker',
    'compose',
    '--project-name',
    `${release.app}-${release.color}`,
    '--file',
    composeFile,
    ...args,
  ];
  return {
    kind: 'compose',
    prepare: (release) => [
      { what: 'docker compose is available', argv: ['docker', 'compose', 'version', '--short'] },
      { what: `the compose file ${composeFile} exists`, argv: ['test', '-f', composeFile] },
      {
        what: `the image ${release.image} is present (pulled when missing)`,
        argv: script('al-image', 'docker image inspect --format "{{.Id}}" "$1" >/dev/null 2>&1 || docker pull --quiet "$1"', [release.image]),
      },
    ],
    start: (release) => compose(release, 'up', '--detach', '--wait', '--remove-orphans'),
    stop: (release) => compose(release, 'stop'),
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

/** Runs the runtime's checks and pulls for `release`; done before anything is stopped, so a missing image changes nothing. */
export async function prepareRelease(remote: Remote, runtime: Runtime, release: Release, timeoutMs: number): Promise<void> {
  for (const step of runtime.prepare(release)) await runChecked(remote, step.argv, `checking that ${step.what}`, { timeoutMs });
}

export async function startRelease(remote: Remote, runtime: Runtime, release: Release, timeoutMs: number, options: { prepared?: boolean } = {}): Promise<void> {
  if (!options.prepared) await prepareRelease(remote, runtime, release, timeoutMs);
  const result = await remote.run(runtime.start(release), { timeoutMs });
  if (result.code !== 0) {
    const detail = (result.stderr || result.stdout).trim().split('\n').slice(-8).join('\n');
    throw new HostError(remote.label, `starting ${release.app} ${release.version} as ${release.color} on port ${release.port} failed (exit ${result.code})${detail ? `: ${detail}` : ''}`);
  }
}

export async function stopRelease(remote: Remote, runtime: Runtime, release: Release, timeoutMs: number): Promise<void> {
  await runChecked(remote, runtime.stop(release), `stopping ${release.color} (${release.version})`, { timeoutMs });
}
