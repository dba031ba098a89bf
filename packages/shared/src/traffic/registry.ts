import { ConfigurationError, errorMessage, Registry, requireInput } from '../action';
import type { HostSpec, Remote } from '../hosts';
import { checkHaproxySite, HaproxyRouter, type HaproxySite } from './haproxy';
import { NginxRouter, type TrafficRouter } from './router';

/**
 * The router seam's registry: every router by the name a session's settings give (nginx unless
 * they name another): nginx's include and reload, and HAProxy's runtime API (each host then
 * gives its admin socket and backend). A new one (a cloud load balancer) implements
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
  /** What the router needs of a host's settings for the app, checked before any host is contacted: throws a ConfigurationError naming the input. */
  check?(host: HostSpec, app: string): void;
  build(context: RouterContext): TrafficRouter;
}

export const DEFAULT_ROUTER = 'nginx';

export const routers = new Registry<RouterEntry>('router', 'router', {
  nginx: {
    build: ({ remote, host, app, splitKey, now }) => new NginxRouter(remote, { app, bluePort: host.bluePort, greenPort: host.greenPort, statusPort: host.nginxStatusPort, splitKey }, host.nginxConfDir, host.nginxCommand, now),
  },
  haproxy: {
    check(host, app) {
      requireInput(!!host.haproxySocket && !!host.haproxyBackend, 'hosts', `${host.target.label}: router haproxy needs the host's haproxy-socket (HAProxy's admin socket) and haproxy-backend (the backend of the app's blue and green servers)`);
      try {
        checkHaproxySite(haproxySite(host, app), host.stateDir);
      } catch (error) {
        throw new ConfigurationError(`Input 'hosts': ${host.target.label}: ${errorMessage(error)}`);
      }
    },
    build: ({ remote, host, app, now }) => new HaproxyRouter(remote, haproxySite(host, app), host.stateDir, now),
  },
});

const haproxySite = (host: HostSpec, app: string): HaproxySite => ({ app, socket: host.haproxySocket ?? '', backend: host.haproxyBackend ?? '' });

/** The router `name` names for one host. */
export function buildRouter(name: string, context: RouterContext): TrafficRouter {
  const entry = routers.get(name);
  entry.check?.(context.host, context.app);
  return entry.build(context);
}
