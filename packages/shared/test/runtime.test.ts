import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HostError } from '../src/errors';
import { TEMPLATE_PLACEHOLDERS, commandRuntime, composeRuntime, startRelease, stopRelease, type Release } from '../src/runtime';
import { toShell } from '../src/shell';
import { localRemote, tempDir } from './support/local-remote';

const release: Release = { app: 'shop', color: 'green', port: 8002, image: 'ghcr.io/acme/shop:1.4.0', version: '1.4.0' };

let dir: string;
let bin: string;
let dockerLog: string;

beforeAll(async () => {
  dir = await tempDir('runtime');
  bin = path.join(dir, 'bin');
  dockerLog = path.join(dir, 'docker.log');
  await fs.mkdir(bin);
  // No Docker engine runs here: a stand-in `docker` records each call (argv and the AGENT_LOOP_* environment).
  // `image inspect` fails (the image is missing), `up` fails when FAIL_UP is set.
  await fs.writeFile(
    path.join(bin, 'docker'),
    `#!/bin/sh
{ printf 'argv:'; for a in "$@"; do printf ' [%s]' "$a"; done; printf '\\n'; env | grep '^AGENT_LOOP_' | sort; } >> "${dockerLog}"
case "$1 $2" in "image inspect") exit 1 ;; esac
case " $* " in *" up "*) if [ -n "$FAIL_UP" ]; then echo "Error: port is already allocated" >&2; exit 17; fi ;; esac
exit 0
`,
    { mode: 0o755 },
  );
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await fs.rm(dockerLog, { force: true });
});

const withDocker = (extra: Record<string, string> = {}) => localRemote('compose-host', { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, ...extra });
const dockerCalls = async (): Promise<string> => fs.readFile(dockerLog, 'utf8').catch(() => '');

describe('composeRuntime', () => {
  const runtime = composeRuntime('/srv/shop/compose.yaml');
  const environment = ['env', 'AGENT_LOOP_APP=shop', 'AGENT_LOOP_COLOR=green', 'AGENT_LOOP_PORT=8002', 'AGENT_LOOP_IMAGE=ghcr.io/acme/shop:1.4.0', 'AGENT_LOOP_VERSION=1.4.0'];
  const compose = ['docker', 'compose', '--project-name', 'shop-green', '--file', '/srv/shop/compose.yaml'];

  it('starts one compose project per color, waiting until it is up', () => {
    expect(runtime.kind).toBe('compose');
    expect(runtime.start(release)).toEqual([...environment, ...compose, 'up', '--detach', '--wait', '--remove-orphans']);
  });

  it('stops the color project', () => {
    expect(runtime.stop(release)).toEqual([...environment, ...compose, 'stop']);
    expect(runtime.stop({ ...release, color: 'blue', port: 8001 })).toEqual([
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
      'stop',
    ]);
  });

  it('prepares by checking docker compose and the file, and pulling a missing image', () => {
    expect(runtime.prepare(release)).toEqual([
      { what: 'docker compose is available', argv: ['docker', 'compose', 'version', '--short'] },
      { what: 'the compose file /srv/shop/compose.yaml exists', argv: ['test', '-f', '/srv/shop/compose.yaml'] },
      {
        what: 'the image ghcr.io/acme/shop:1.4.0 is present (pulled when missing)',
        argv: ['sh', '-c', 'docker image inspect --format "{{.Id}}" "$1" >/dev/null 2>&1 || docker pull --quiet "$1"', 'al-image', 'ghcr.io/acme/shop:1.4.0'],
      },
    ]);
  });

  it('runs for real against a stand-in docker: prepare, pull the missing image, then up with the environment', async () => {
    const composeFile = path.join(dir, 'compose.yaml');
    await fs.writeFile(composeFile, 'services: {}\n');
    await startRelease(withDocker(), composeRuntime(composeFile), release, 10_000);
    const calls = (await dockerCalls()).split('\n').filter((line) => line.startsWith('argv:'));
    expect(calls).toEqual([
      'argv: [compose] [version] [--short]',
      'argv: [image] [inspect] [--format] [{{.Id}}] [ghcr.io/acme/shop:1.4.0]',
      'argv: [pull] [--quiet] [ghcr.io/acme/shop:1.4.0]',
      `argv: [compose] [--project-name] [shop-green] [--file] [${composeFile}] [up] [--detach] [--wait] [--remove-orphans]`,
    ]);
    expect(await dockerCalls()).toContain(
      ['AGENT_LOOP_APP=shop', 'AGENT_LOOP_COLOR=green', 'AGENT_LOOP_IMAGE=ghcr.io/acme/shop:1.4.0', 'AGENT_LOOP_PORT=8002', 'AGENT_LOOP_VERSION=1.4.0'].join('\n'),
    );
  });

  it('stops before starting when the compose file is missing', async () => {
    const missing = path.join(dir, 'missing.yaml');
    const error = await startRelease(withDocker(), composeRuntime(missing), release, 10_000).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HostError);
    expect((error as Error).message).toBe(`compose-host: checking that the compose file ${missing} exists failed (exit 1)`);
    expect(await dockerCalls()).not.toContain('[up]');
  });

  it('reports a failed start with the end of its output', async () => {
    const composeFile = path.join(dir, 'compose.yaml');
    await fs.writeFile(composeFile, 'services: {}\n');
    const error = await startRelease(withDocker({ FAIL_UP: '1' }), composeRuntime(composeFile), release, 10_000).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HostError);
    expect((error as Error).message).toBe('compose-host: starting shop 1.4.0 as green on port 8002 failed (exit 17): Error: port is already allocated');
  });

  it('stops through docker compose stop', async () => {
    await stopRelease(withDocker(), composeRuntime('/srv/c.yaml'), release, 10_000);
    expect(await dockerCalls()).toContain('argv: [compose] [--project-name] [shop-green] [--file] [/srv/c.yaml] [stop]');
  });
});

describe('commandRuntime', () => {
  it('renders the templates with quoted values into sh -c', () => {
    const runtime = commandRuntime('start-app {app} --color {color} --port {port} --image {image} --version {version}', 'stop-app {app}-{color}');
    expect(runtime.kind).toBe('command');
    expect(runtime.prepare(release)).toEqual([]);
    expect(runtime.start(release)).toEqual(['sh', '-c', 'start-app shop --color green --port 8002 --image ghcr.io/acme/shop:1.4.0 --version 1.4.0']);
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
    await expect(startRelease(localRemote('cmd-host'), runtime, release, 10_000)).rejects.toThrow('cmd-host: starting shop 1.4.0 as green on port 8002 failed (exit 4): cannot start shop');
    await expect(stopRelease(localRemote('cmd-host'), runtime, release, 10_000)).rejects.toThrow('cmd-host: stopping green (1.4.0) failed (exit 5): still running');
  });

  it('times out a start that hangs', async () => {
    const runtime = commandRuntime('sleep 5', 'true');
    await expect(startRelease(localRemote('cmd-host'), runtime, release, 200)).rejects.toThrow(/cmd-host: command timed out/);
  });
});
