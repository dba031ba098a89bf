// The bundles as GitHub runs them (dist/index.js under Node 24, INPUT_* variables) with
// runtime: compose on a lab host with its own Docker Engine and a loopback registry:
// blue-green deploy and promote, rollback to a named version whose image must be pulled again,
// and deploy-staging's ssh-compose method.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// Real engines and image pulls on a shared 2-core machine: a phase can take a minute under load.
vi.setConfig({ testTimeout: 240_000 });
import type { AppState } from '@agent-loop/shared';
import { onHost, startContainerLab, type ContainerLab } from './lab/containers';
import type { LabHost } from './lab/index';
import { runAction, type RunActionResult } from './lab/run-action';
import { sendTraffic } from './lab/traffic';

let ct: ContainerLab;
let host: LabHost;
const image: Record<string, string> = {};

const state = (): AppState => JSON.parse(readFileSync(`${host.stateDir}/${ct.lab.app}/state.json`, 'utf8')) as AppState;
const errors = (result: RunActionResult): string[] =>
  result.stdout.split('\n').filter((line) => line.startsWith('::error'));

function inputs(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    hosts: ct.lab.hostsInput,
    'ssh-private-key': ct.lab.clientKey,
    'ssh-known-hosts': ct.lab.knownHosts,
    app: ct.lab.app,
    runtime: 'compose',
    'compose-file': ct.composeFile,
    'health-timeout-seconds': '20',
    'split-key': '$request_id',
    'min-free-disk-mb': '1',
    'min-free-memory-mb': '1',
    'drain-seconds': '0',
    ...overrides,
  };
}

async function served(requests = 50): Promise<Record<string, number>> {
  const result = await sendTraffic({ url: host.proxyUrl, maxRequests: requests, concurrency: 4 });
  expect(result.non2xx + result.failed).toBe(0);
  return result.byVersion;
}

beforeAll(async () => {
  ct = await startContainerLab({ hosts: 1 });
  host = ct.lab.hosts[0]!;
  for (const version of ['v1', 'v2', 'v3']) image[version] = await ct.buildImage(version);
}, 240_000);

afterAll(async () => {
  await ct?.stop();
}, 120_000);

describe('bundles with runtime: compose on a real engine', () => {
  it('blue-green: deploy, canary, promote', async () => {
    const first = await runAction({
      action: 'blue-green',
      inputs: inputs({ phase: 'deploy', image: image.v1!, version: 'v1' }),
      timeoutMs: 180_000,
    });
    expect(errors(first)).toEqual([]);
    expect(first.outputs).toMatchObject({ 'active-color': 'blue', version: 'v1' });
    await ct.lab.enableSite();
    expect(await served()).toEqual({ v1: 50 });

    const canary = await runAction({
      action: 'blue-green',
      inputs: inputs({ phase: 'deploy', image: image.v2!, version: 'v2', 'canary-percent': '50' }),
      timeoutMs: 180_000,
    });
    expect(errors(canary)).toEqual([]);
    expect(canary.outputs).toMatchObject({ 'active-color': 'green', 'canary-percent': '50' });
    const promoted = await runAction({
      action: 'blue-green',
      inputs: inputs({ phase: 'promote', version: 'v2' }),
      timeoutMs: 180_000,
    });
    expect(errors(promoted)).toEqual([]);
    expect(await served()).toEqual({ v2: 50 });
    expect(state()).toMatchObject({
      active: 'green',
      colors: { blue: { version: 'v1', status: 'stopped' }, green: { version: 'v2', status: 'running' } },
    });
  });

  it('rollback to a named version whose image is gone from the host: pulled again by digest, then switched', async () => {
    const recorded = state().colors.blue!.image;
    expect(recorded).toMatch(/@sha256:/);
    // The stopped color's container and every copy of its image are removed from the host.
    await onHost(
      ct.lab,
      host,
      `env AGENT_LOOP_IMAGE=x AGENT_LOOP_PORT=1 AGENT_LOOP_APP=x AGENT_LOOP_COLOR=x docker compose -p ${ct.lab.app}-blue ` +
        `-f ${ct.composeFile} down && docker image rm --force $(docker image inspect --format '{{.Id}}' ${recorded})`,
    );
    await expect(onHost(ct.lab, host, `docker image inspect ${recorded}`)).rejects.toThrow(/No such image/);

    const result = await runAction({
      action: 'rollback',
      inputs: inputs({ target: 'version', 'target-version': 'v1', reason: 'v2 answers slowly' }),
      timeoutMs: 180_000,
    });
    expect(errors(result)).toEqual([]);
    expect(await served()).toEqual({ v1: 50 });
    expect(state()).toMatchObject({
      active: 'blue',
      colors: { blue: { version: 'v1', status: 'running', image: recorded } },
    });
    expect(
      (
        await onHost(ct.lab, host, `docker image inspect --format '{{index .RepoDigests 0}}' ${recorded}`)
      ).stdout.trim(),
    ).toBe(recorded);
  });

  it("deploy-staging's ssh-compose: the new version on the idle color, promoted, then smoke and load through nginx", async () => {
    const result = await runAction({
      action: 'deploy-staging',
      inputs: {
        ...inputs(),
        method: 'ssh-compose',
        'base-url': host.proxyUrl,
        image: image.v3!,
        'smoke-repeat': '3',
        'load-rate-per-minute': '600',
        'load-duration-seconds': '3',
      },
      timeoutMs: 180_000,
    });
    expect(errors(result)).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.outputs).toMatchObject({ 'smoke-passed': 'true', 'load-passed': 'true' });
    expect(await served()).toEqual({ v3: 50 });
    expect(state()).toMatchObject({
      active: 'green',
      canary: null,
      colors: { green: { version: 'v3', status: 'running' } },
    });
  });
});
