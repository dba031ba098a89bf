import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEMPLATE_PLACEHOLDERS, commandRuntime, composeRuntime, stopRelease } from '../src/runtime';
import { toShell } from '../src/hosts';
import { localRemote, tempDir } from './support/local-remote';
import type { Release } from '../src/domain';
import { startRelease } from '../src/runtime/runtime';

const release: Release = {
  app: 'shop',
  color: 'green',
  port: 8002,
  image: 'ghcr.io/acme/shop:1.4.0',
  version: '1.4.0',
};

let dir: string;

beforeAll(async () => {
  dir = await tempDir('runtime');
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('composeRuntime', () => {
  const runtime = composeRuntime('/srv/shop/compose.yaml');
  const environment = [
    'env',
    'AGENT_LOOP_APP=shop',
    'AGENT_LOOP_COLOR=green',
    'AGENT_LOOP_PORT=8002',
    'AGENT_LOOP_IMAGE=ghcr.io/acme/shop:1.4.0',
    'AGENT_LOOP_VERSION=1.4.0',
  ];
  const compose = ['docker', 'compose', '--project-name', 'shop-green', '--file', '/srv/shop/compose.yaml'];

  it('starts one compose project per color, waiting on its healthcheck at most the health timeout', () => {
    expect(runtime.kind).toBe('compose');
    const start = runtime.start(release);
    expect(start.slice(0, 2)).toEqual(['sh', '-c']);
    expect(start[2]).toContain('"$@" up --detach --remove-orphans --wait --wait-timeout "$wait"');
    expect(start.slice(3)).toEqual([
      'al-up',
      '120',
      'shop-green',
      'ghcr.io/acme/shop:1.4.0',
      ...environment,
      ...compose,
    ]);
    expect(composeRuntime('/srv/shop/compose.yaml', { waitTimeoutSeconds: 7 }).start(release)[4]).toBe('7');
  });

  it('stops the color project, and skips compose when nothing of it runs', () => {
    const stop = runtime.stop(release);
    expect(stop.slice(0, 2)).toEqual(['sh', '-c']);
    expect(stop.slice(3)).toEqual(['al-stop', 'shop-green', ...environment, ...compose]);
    expect(stop[2]).toContain('exec "$@" stop');
    expect(stop[2]).toContain(
      '[ -n "$(docker ps --quiet --filter "label=com.docker.compose.project=$project")" ] || exit 0',
    );
    expect(runtime.stop({ ...release, color: 'blue', port: 8001 }).slice(3)).toEqual([
      'al-stop',
      'shop-blue',
      'env',
      'AGENT_LOOP_APP=shop',
      'AGENT_LOOP_COLOR=blue',
      'AGENT_LOOP_PORT=8001',
      'AGENT_LOOP_IMAGE=ghcr.io/acme/shop:1.4.0',
      'AGENT_LOOP_VERSION=1.4.0',
      'docker',
      'compose',
      '--project-name',
      'shop-blue',
      '--file',
      '/srv/shop/compose.yaml',
    ]);
  });

  it('prepares by checking the engine and compose v2, the file, then pulling the image and resolving its digest', () => {
    const steps = runtime.prepare(release);
    expect(steps.map((step) => step.what)).toEqual([
      'the Docker engine answers, has room for the image and docker compose v2 is installed',
      'the compose file /srv/shop/compose.yaml exists',
      'the image ghcr.io/acme/shop:1.4.0 can be pulled',
    ]);
    expect(steps[1]!.argv).toEqual(['test', '-f', '/srv/shop/compose.yaml']);
    expect(steps[2]!.argv.slice(3)).toEqual(['al-pull', 'ghcr.io/acme/shop:1.4.0']);
    expect(steps.map((step) => step.resolvesImage ?? false)).toEqual([false, false, true]);
  });
  // What these commands do on a real engine, registry and compose v2: test/compose-runtime.test.ts.
});

describe('commandRuntime', () => {
  it('renders the templates with quoted values into sh -c', () => {
    const runtime = commandRuntime(
      'start-app {app} --color {color} --port {port} --image {image} --version {version}',
      'stop-app {app}-{color}',
    );
    expect(runtime.kind).toBe('command');
    expect(runtime.prepare(release)).toEqual([]);
    expect(runtime.start(release)).toEqual([
      'sh',
      '-c',
      'start-app shop --color green --port 8002 --image ghcr.io/acme/shop:1.4.0 --version 1.4.0',
    ]);
    expect(runtime.stop({ ...release, image: 'a b' })).toEqual(['sh', '-c', 'stop-app shop-green']);
    expect(TEMPLATE_PLACEHOLDERS).toEqual(['app', 'color', 'port', 'image', 'version']);
  });

  it('never runs what a value contains, when run for real', async () => {
    const pwned = path.join(dir, 'pwned');
    const out = path.join(dir, 'out.txt');
    const image = `$(touch ${pwned})\`touch ${pwned}\`; touch ${pwned} #'"`;
    const runtime = commandRuntime(`printf '%s\\n' {image} {version} > ${out}`, 'true');
    await startRelease(localRemote(), runtime, { ...release, image, version: "1.0'; touch " + pwned + "; '" }, 10_000);
    await expect(fs.access(pwned)).rejects.toThrow();
    expect(await fs.readFile(out, 'utf8')).toBe(`${image}\n1.0'; touch ${pwned}; '\n`);
    // The same argv through a second shell (as the SSH remote runs it) keeps the value inert too.
    const argv = runtime.start({ ...release, image });
    execFileSync('sh', ['-c', toShell(argv)]);
    await expect(fs.access(pwned)).rejects.toThrow();
  });

  it('refuses an unknown placeholder when the command is made', () => {
    const runtime = commandRuntime('start {app} {tag}', 'stop');
    expect(() => runtime.start(release)).toThrow('unknown placeholder {tag}');
  });

  it('reports a failing start or stop with its output', async () => {
    const runtime = commandRuntime('echo cannot start {app} >&2; exit 4', 'echo still running; exit 5');
    await expect(startRelease(localRemote('cmd-host'), runtime, release, 10_000)).rejects.toThrow(
      'cmd-host: starting shop 1.4.0 as green on port 8002 failed (exit 4): cannot start shop',
    );
    await expect(stopRelease(localRemote('cmd-host'), runtime, release, 10_000)).rejects.toThrow(
      'cmd-host: stopping green (1.4.0) failed (exit 5): still running',
    );
  });

  it('times out a start that hangs', async () => {
    const runtime = commandRuntime('sleep 5', 'true');
    await expect(startRelease(localRemote('cmd-host'), runtime, release, 200)).rejects.toThrow(
      /cmd-host: command timed out/,
    );
  });
});
