/**
 * Both real routers behind the `TrafficRouter` seam, each with two color apps behind it, for tests
 * that run the same behaviour against nginx and HAProxy: `nginxWorld` (a private nginx, the app's
 * include written by NginxRouter and a server block proxying to its split variable) and
 * `haproxyWorld` (a private HAProxy with a backend of servers `blue` and `green`, driven by
 * HaproxyRouter over its admin socket).
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Remote } from '../../src/hosts';
import {
  HaproxyRouter,
  includeFileName,
  nginxName,
  NginxRouter,
  placeholderInclude,
  type NginxSite,
  type TrafficRouter,
} from '../../src/traffic';
import { startHaproxy, type Haproxy, type HaproxyOptions } from '../../../../test/lab/haproxy';
import { freePort, localRemote, nginxPrefix, tempDir, type NginxPrefix } from './local-remote';

export type Color = 'blue' | 'green';

export interface ColorApps {
  bluePort: number;
  greenPort: number;
  close(): Promise<void>;
}

/**
 * Two keep-alive apps answering with their color (body and `x-color`); `/slow` answers after
 * 300 ms, for a request in flight while the weights move.
 */
export async function colorApps(): Promise<ColorApps> {
  const servers = (['blue', 'green'] as const).map((color) => {
    const server = http.createServer((request, response) => {
      const answer = () => {
        response.setHeader('x-color', color);
        response.setHeader('x-version', color);
        response.end(color);
      };
      if (request.url === '/slow') setTimeout(answer, 300);
      else answer();
    });
    server.keepAliveTimeout = 65_000;
    return server;
  });
  const ports = await Promise.all(
    servers.map(
      (server) =>
        new Promise<number>((resolve) =>
          server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
        ),
    ),
  );
  return {
    bluePort: ports[0] as number,
    greenPort: ports[1] as number,
    close: async () => {
      for (const server of servers) server.closeAllConnections();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}

/** One GET on a fresh connection: the status and the body. */
export function get(
  url: string,
  agent: http.Agent | false = false,
): Promise<{ status: number; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, reused: request.reusedSocket }));
    });
    request.on('error', reject);
  });
}

/** The colors that answer `count` requests, one after the other, each on a fresh connection. */
export async function colorsServed(url: string, count: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const answer = await get(url);
    const key = answer.status === 200 ? answer.body : `status ${answer.status}`;
    seen[key] = (seen[key] ?? 0) + 1;
  }
  return seen;
}

export interface RouterWorld {
  name: 'nginx' | 'haproxy';
  /** Where the app is served through the router. */
  url: string;
  /** A folder of the world's own, for records written by the tests. */
  dir: string;
  router(remote?: Remote): TrafficRouter;
  /** Waits until every request the router takes serves its current weights (nginx: old workers gone). */
  settle(): Promise<void>;
  /** The router after a switch that the router says yes to but that never serves the new weights. */
  unconfirmed(): Promise<TrafficRouter>;
  stop(): Promise<void>;
}

export const APP = 'shop-api';

export async function nginxWorld(apps: ColorApps): Promise<RouterWorld> {
  const live: NginxPrefix = await nginxPrefix('seam');
  const proxyPort = await freePort();
  const site: NginxSite = {
    app: APP,
    bluePort: apps.bluePort,
    greenPort: apps.greenPort,
    statusPort: await freePort(),
    splitKey: '$request_id',
  };
  // As host-setup leaves it before a first deploy: the split variable, pointing nowhere.
  await fs.writeFile(path.join(live.confDir, includeFileName(APP)), placeholderInclude(APP));
  await fs.writeFile(
    path.join(live.sitesDir, 'shop.conf'),
    `server {\n  listen 127.0.0.1:${proxyPort};\n  location / {\n    proxy_pass http://$${nginxName(APP)};\n    proxy_http_version 1.1;\n    proxy_set_header Connection "";\n    proxy_next_upstream error timeout http_502;\n  }\n}\n`,
  );
  await live.start();
  return {
    name: 'nginx',
    url: `http://127.0.0.1:${proxyPort}/`,
    dir: live.dir,
    router: (remote = localRemote('nginx-host')) => new NginxRouter(remote, site, live.confDir, live.command),
    settle: () => live.settle(),
    async unconfirmed() {
      // An nginx command whose reload says yes and does nothing: the status server never serves the new weights.
      const bin = path.join(live.dir, 'reload-does-nothing');
      await fs.mkdir(bin, { recursive: true });
      const wrapper = path.join(bin, 'nginx');
      await fs.writeFile(wrapper, `#!/bin/sh\nfor a; do [ "$a" = reload ] && exit 0; done\nexec nginx "$@"\n`, {
        mode: 0o755,
      });
      return new NginxRouter(localRemote('nginx-host'), site, live.confDir, [wrapper, ...live.command.slice(1)]);
    },
    stop: () => live.destroy(),
  };
}

export interface HaproxyWorld extends RouterWorld {
  haproxy: Haproxy;
  stateDir: string;
  router(remote?: Remote): HaproxyRouter;
  /**
   * A router whose commands find a `socat` stand-in first on PATH: `body` runs first (the real one
   * is `$REAL_SOCAT`), then the real socat with the same arguments unless `body` ran it.
   */
  withSocat(name: string, body: string): Promise<HaproxyRouter>;
}

export async function haproxyWorld(apps: ColorApps, options: Partial<HaproxyOptions> = {}): Promise<HaproxyWorld> {
  const dir = await tempDir('haproxy');
  const haproxy = await startHaproxy({
    dir: path.join(dir, 'haproxy'),
    frontendPort: await freePort(),
    bluePort: apps.bluePort,
    greenPort: apps.greenPort,
    ...options,
  });
  const stateDir = path.join(dir, 'state');
  const site = { app: APP, socket: haproxy.socket, backend: haproxy.backend };
  const realSocat = (await fs.realpath('/usr/bin/socat').catch(() => 'socat')) || 'socat';
  const withSocat = async (name: string, body: string): Promise<HaproxyRouter> => {
    const bin = path.join(dir, name);
    await fs.mkdir(bin, { recursive: true });
    await fs.writeFile(
      path.join(bin, 'socat'),
      `#!/bin/sh\nREAL_SOCAT=${realSocat}\n${body}\nexec "$REAL_SOCAT" "$@"\n`,
      { mode: 0o755 },
    );
    return new HaproxyRouter(
      localRemote('haproxy-host', { ...process.env, PATH: `${bin}:${process.env.PATH}` }),
      site,
      stateDir,
    );
  };
  return {
    name: 'haproxy',
    url: `${haproxy.url}/`,
    dir,
    haproxy,
    stateDir,
    router: (remote = localRemote('haproxy-host')) => new HaproxyRouter(remote, site, stateDir),
    settle: async () => {},
    withSocat,
    // A socat that turns the first line setting weights into one setting both servers to 1: HAProxy
    // takes it, and reads back weights that are not the ones asked for.
    unconfirmed: () =>
      withSocat(
        'sets-other-weights',
        [
          `line=$(cat); case $line in "set server"*) [ -e "${dir}/once" ] || {`,
          `  : > "${dir}/once"; line=$(printf '%s' "$line" | sed 's/weight [0-9]*;/weight 1;/g'); } ;; esac`,
          `printf '%s\\n' "$line" | exec "$REAL_SOCAT" "$@"`,
        ].join('\n'),
      ),
    async stop() {
      await haproxy.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
