// The behaviour every router behind the TrafficRouter seam owes the rollout logic, run against both
// real routers: nginx (an include and a reload) and HAProxy (weights on its admin socket).
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostError, UnrecordedSwitchError } from '../src/action';
import type { TrafficRouter, Weights } from '../src/traffic';
import { startTraffic } from '../../../test/lab/traffic';
import { colorApps, colorsServed, haproxyWorld, nginxWorld, type ColorApps, type RouterWorld } from './support/routers';

let apps: ColorApps;
beforeAll(async () => {
  apps = await colorApps();
});
afterAll(async () => {
  await apps?.close();
});

describe.each([
  ['nginx', nginxWorld],
  ['haproxy', haproxyWorld],
] as const)('the router seam on %s', (_name, start) => {
  let world: RouterWorld;
  let router: TrafficRouter;

  beforeAll(async () => {
    world = await start(apps);
    router = world.router();
  });
  afterAll(async () => {
    await world?.stop();
  });

  const served = async (count: number): Promise<Record<string, number>> => {
    await world.settle();
    return colorsServed(world.url, count);
  };
  const live = async (): Promise<Weights | undefined> => (await router.getWeights())?.weights;

  it('reads nothing before the first switch', async () => {
    expect(await router.getWeights()).toBeNull();
    const view = await router.inspect();
    expect(view.live).toBeNull();
    expect(view.file).toBeNull();
  });

  it('switches: a canary of 10% gets about a tenth of the requests, and the weights read back', async () => {
    const result = await router.setWeights({ blue: 90, green: 10 });
    expect(result.weights).toEqual({ blue: 90, green: 10 });
    expect(result.liveMs).toBeGreaterThanOrEqual(0);
    expect(result.liveMs).toBeLessThan(5000);
    const seen = await served(200);
    expect((seen.blue ?? 0) + (seen.green ?? 0)).toBe(200);
    expect(seen.green).toBeGreaterThan(5);
    expect(seen.green).toBeLessThan(45);
    const view = await router.inspect();
    expect(view.live?.weights).toEqual({ blue: 90, green: 10 });
    expect(view.file).toEqual(view.live);
    expect(await router.getWeights()).toEqual(view.live);
  });

  it('promotes: 0/100 sends every request to the new color', async () => {
    await router.setWeights({ blue: 0, green: 100 });
    expect(await served(30)).toEqual({ green: 30 });
    expect(await live()).toEqual({ blue: 0, green: 100 });
  });

  it('rolls back: the previous weights serve again, with a new generation', async () => {
    const before = await router.getWeights();
    await router.setWeights({ blue: 100, green: 0 });
    expect(await served(30)).toEqual({ blue: 30 });
    const after = await router.getWeights();
    expect(after?.weights).toEqual({ blue: 100, green: 0 });
    expect(after?.generation).not.toBe(before?.generation);
  });

  it('writes the write-ahead record before touching traffic, and does not touch it when that record cannot be written', async () => {
    const records = path.join(world.dir, 'records');
    await fs.mkdir(records, { recursive: true });
    const record = path.join(records, 'state.json');
    const done = await router.setWeights(
      { blue: 90, green: 10 },
      {
        before: [{ path: record, content: 'intent\n', mode: '644' }],
        after: [{ path: record, content: 'outcome\n', mode: '644' }],
      },
    );
    expect(done.recorded).toBe(true);
    expect(await fs.readFile(record, 'utf8')).toBe('outcome\n');

    await fs.writeFile(path.join(records, 'a-file'), 'x');
    const error = await router
      .setWeights(
        { blue: 0, green: 100 },
        { before: [{ path: path.join(records, 'a-file', 'state.json'), content: '{}', mode: '644' }] },
      )
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HostError);
    expect((error as Error).message).toContain(
      'the switch could not be recorded before making it, so traffic was not touched',
    );
    expect(await live()).toEqual({ blue: 90, green: 10 });
  });

  it('says so when the weights are live but their outcome cannot be recorded (the caller puts traffic back)', async () => {
    const blocked = path.join(world.dir, 'records', 'a-file');
    const error = await router
      .setWeights(
        { blue: 100, green: 0 },
        { after: [{ path: path.join(blocked, 'state.json'), content: 'outcome\n', mode: '644' }] },
      )
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UnrecordedSwitchError);
    expect((error as Error).message).toContain('the new weights are live, but their outcome could not be recorded');
    expect(await live()).toEqual({ blue: 100, green: 0 });
  });

  it('fails a switch it cannot confirm, and the previous weights stay live', async () => {
    const unconfirmed = await world.unconfirmed();
    const error = await unconfirmed.setWeights({ blue: 10, green: 90 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HostError);
    expect((error as Error).message).toMatch(/did not serve the new weights/);
    expect(await live()).toEqual({ blue: 100, green: 0 });
    expect(await served(20)).toEqual({ blue: 20 });
  });

  it('reports the status of probed URLs with the weights, in the same round trip', async () => {
    const view = await router.inspect([world.url, 'http://127.0.0.1:9/']);
    expect(view.live?.weights).toEqual({ blue: 100, green: 0 });
    expect(view.health).toEqual({ [world.url]: 200, 'http://127.0.0.1:9/': 0 });
  });

  it('moves traffic under keep-alive load without a failed request', async () => {
    const traffic = startTraffic({ url: world.url, concurrency: 8, durationMs: 60_000 });
    for (const weights of [
      { blue: 90, green: 10 },
      { blue: 0, green: 100 },
      { blue: 50, green: 50 },
      { blue: 100, green: 0 },
    ]) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      await router.setWeights(weights);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
    const result = await traffic.stop();
    expect(result.sent).toBeGreaterThan(100);
    expect(result.failed).toBe(0);
    expect(result.non2xx).toBe(0);
    expect(Object.keys(result.byColor).sort()).toEqual(['blue', 'green']);
    // HAProxy changes weights in the running process: no connection is closed. An nginx reload
    // may close idle keep-alive connections (FACTS: a few per reload), which a GET retries.
    if (world.name === 'haproxy') expect(result.resets).toBe(0);
  });
});
