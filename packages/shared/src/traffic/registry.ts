import { ConfigurationError, errorMessage, Registry, requireInput } from '../action';
import type { HostSpec, Remote } from '../hosts';
import type { SetupItem } from '../hosts';
import { checkHaproxySite, HaproxyRouter, type HaproxySite } from './haproxy';
import { haproxyPrerequisites } from './haproxy-prerequisites';
import { haproxySetup } from './haproxy-setup';
import { NginxRouter } from './nginx-router';
import type { Prerequisite, TrafficRouter } from './router';

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

/** One host, reached, as a router's own checks see it: the doctor's and host-setup's. */
export interface RouterHostContext {
  remote: Remote;
  host: HostSpec;
  app: string;
}

export interface RouterEntry {
  /** What the router needs of a host's settings for the app, checked before any host is contacted: throws a ConfigurationError naming the input. */
  check?(host: HostSpec, app: string): void;
  build(context: RouterContext): TrafficRouter;
  /**
   * What the deploy user needs on a host for this router, checked as that user, each missing thing
   * with the command that fixes it: host-setup's doctor lists them, a deploy's preflight and the
   * maintenance's check after an upgrade refuse a host that lacks one. nginx has none here: its
   * own (the switch helper, the include directory, nginx -t, the server block) are the doctor's and
   * the preflight's (runtime/preflight.ts), which check nginx only when the router is nginx.
   */
  prerequisites?(context: RouterHostContext): Promise<Prerequisite[]>;
  /**
   * host-setup's part for this router, run as the admin login for the deploy user: what it found
   * fine, changed, or leaves to do (with the command). nginx's (the helper, its sudoers rule, the
   * include directory) is host-setup's own script (hosts/hostsetup.ts).
   */
  setup?(context: RouterHostContext & { deployUser: string }): Promise<SetupItem[]>;
}

export const DEFAULT_ROUTER = 'nginx';

export const routers = new Registry<RouterEntry>('router', 'router', {
  nginx: {
    build: ({ remote, host, app, splitKey, now }) =>
      new NginxRouter(
        remote,
        { app, bluePort: host.bluePort, greenPort: host.greenPort, statusPort: host.nginxStatusPort, splitKey },
        host.nginxConfDir,
        host.nginxCommand,
        now,
      ),
  },
  haproxy: {
    check(host, app) {
      requireInput(
        !!host.haproxySocket && !!host.haproxyBackend,
        'hosts',
        `${host.target.label}: router haproxy needs the host's haproxy-socket (HAProxy's admin socket) ` +
          "and haproxy-backend (the backend of the app's blue and green servers)",
      );
      try {
        checkHaproxySite(haproxySite(host, app), host.stateDir);
      } catch (error) {
        throw new ConfigurationError(`Input 'hosts': ${host.target.label}: ${errorMessage(error)}`);
      }
    },
    build: ({ remote, host, app, now }) => new HaproxyRouter(remote, haproxySite(host, app), host.stateDir, now),
    // The deploy user reaches HAProxy only through its admin socket: socat, the socket through its group, level admin, the app's two servers.
    prerequisites: ({ remote, host, app }) =>
      haproxyPrerequisites(remote, haproxySite(host, app), { blue: host.bluePort, green: host.greenPort }),
    setup: ({ remote, host, app, deployUser }) => haproxySetup(remote, haproxySite(host, app), deployUser),
  },
});

const haproxySite = (host: HostSpec, app: string): HaproxySite => ({
  app,
  socket: host.haproxySocket ?? '',
  backend: host.haproxyBackend ?? '',
});

/** Whether the router named drives nginx (the include, the switch helper): the doctor, the preflight and host-setup check nginx only then. */
export const drivesNginx = (router: string | undefined): boolean => (router ?? DEFAULT_ROUTER) === 'nginx';

/** What the router named needs on one host that it lacks, as the deploy user sees it ([] for a router that says nothing). */
export async function routerPrerequisites(name: string, context: RouterHostContext): Promise<Prerequisite[]> {
  return (await routers.get(name).prerequisites?.(context)) ?? [];
}

/** The router `name` names for one host. */
export function buildRouter(name: string, context: RouterContext): TrafficRouter {
  const entry = routers.get(name);
  entry.check?.(context.host, context.app);
  return entry.build(context);
}
