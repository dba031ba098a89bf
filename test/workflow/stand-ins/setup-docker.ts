// docker/setup-qemu-action and docker/setup-buildx-action: nothing to install here. The one
// engine builds for its own platform only, so both are recorded in the log with what they would
// have given.
import { randomUUID } from 'node:crypto';
import type { StandIn } from './index';
import { NATIVE_PLATFORM } from './docker';
import { listInput, noteInputs } from './inputs';

export const setupQemu: StandIn = async (inputs, ctx) => {
  noteInputs(ctx, inputs, {
    handled: ['platforms'],
    ignored: {
      image: 'no binfmt image is run',
      'cache-image': 'no binfmt image is run',
      reset: 'no emulators are installed',
    },
  });
  const asked = listInput(inputs, 'platforms');
  const narrowed = asked.length > 0 && asked.join(',') !== 'all' ? ` (asked for ${asked.join(', ')})` : '';
  ctx.log(`QEMU is not installed by the stand-in: this machine builds ${NATIVE_PLATFORM} only${narrowed}`);
  return { outputs: { platforms: NATIVE_PLATFORM } };
};

export const setupBuildx: StandIn = async (inputs, ctx) => {
  noteInputs(ctx, inputs, {
    handled: ['name', 'platforms'],
    ignored: {
      version: 'no buildx is installed',
      driver: 'builds go to the engine itself',
      'driver-opts': 'builds go to the engine itself',
      'buildkitd-flags': 'no BuildKit daemon is started',
      'buildkitd-config': 'no BuildKit daemon is started',
      'buildkitd-config-inline': 'no BuildKit daemon is started',
      install: 'no buildx is installed',
      use: 'the engine is the only builder',
      endpoint: 'the builder is the engine of DOCKER_HOST',
      append: 'one node only',
      'keep-state': 'no builder state',
      cache_binary: 'no buildx is installed',
      'cache-binary': 'no buildx is installed',
      cleanup: 'nothing to remove',
    },
  });
  const name = inputs.name?.trim() || `builder-${randomUUID()}`;
  const endpoint = ctx.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  ctx.log(
    `Buildx is not installed by the stand-in: the build-push stand-in builds with the engine at ${endpoint} for ${NATIVE_PLATFORM} only, the one platform here`,
  );
  const nodes = [{ name: `${name}0`, endpoint, status: 'running', platforms: NATIVE_PLATFORM }];
  return {
    outputs: {
      name,
      driver: 'docker',
      platforms: NATIVE_PLATFORM,
      nodes: JSON.stringify(nodes),
      endpoint,
      status: 'running',
    },
  };
};
