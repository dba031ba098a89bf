import { Registry } from '../action';
import type { HostSpec, Remote } from '../hosts';
import { NginxRouter, type TrafficRouter } from './router';

/**
 * The router seam's registry: every router by the name the `router` input gives (nginx unless it
 * names another). A new one (HAProxy's runtime API, a cloud load balancer) implements
 * `TrafficRouter` (router.ts: set the weights, read them back, inspect) and is registered here, or
 * from outside the core with `routers.register`. Sessions and the status build a host's router
 * through it; the procedures only ever hold the interface.
 */

/** What a router is built from: one host, reached, and the app it routes. */
export interface RouterContext {
  remote: Remote;
  host: HostSpec;
  app: string;
  /** nginx variables that pick a client's share (split-key); a router without a hash of its own ignores it. */
  splitKey: string;
  /** The clock's now: a switch's generation is stamped with it. */
  now: () => number;
}

export interface RouterEntry {
  /** What the router needs of a host's settings, checked when the inputs are read, before any host: throws a ConfigurationError naming the input. */
  check?(host: HostSpec): void;
  build(context: RouterContext): TrafficRouter;
}

export const DEFAULT_ROUTER = 'nginx';

export const routers = new Registry<RouterEntry>('router', 'router', {
  nginx: {
    build: ({ remote, host, app, splitKey, now }) => new NginxRouter(remote, { app, bluePort: host.bluePort, greenPort: host.greenPort, statusPort: host.nginxStatusPort, splitKey }, host.nginxConfDir, host.nginxCommand, now),
  },
});

/** The router `name` names for one host. */
export function buildRouter(name: string, context: RouterContext): TrafficRouter {
  const entry = routers.get(name);
  entry.check?.(context.host);
  return entry.build(context);
}
