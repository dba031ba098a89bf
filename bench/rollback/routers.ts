// The router a lab host's sessions drive in the rollback benchmark: nginx, or the host's own HAProxy.
import {
  connect,
  HaproxyRouter,
  NginxRouter,
  settleLimit,
  type HostSession,
  type HostSpec,
  type Remote,
  type TrafficRouter,
} from '@agent-loop/shared';
import type { Lab } from '../../test/lab/index';
import { sessionSettings } from '../../test/support/deploy-settings';

export type RouterName = 'nginx' | 'haproxy';

/** The router of a lab host, as a session would build it (HAProxy: the host's own, next to nginx). */
export function routerFor(name: RouterName, lab: Lab, index: number, spec: HostSpec, remote: Remote): TrafficRouter {
  if (name === 'nginx')
    return new NginxRouter(
      remote,
      {
        app: lab.app,
        bluePort: spec.bluePort,
        greenPort: spec.greenPort,
        statusPort: spec.nginxStatusPort,
        splitKey: '$request_id',
      },
      spec.nginxConfDir,
      spec.nginxCommand,
    );
  const haproxy = lab.hosts[index]?.haproxy;
  if (!haproxy) throw new Error(`lab host ${index + 1} has no HAProxy`);
  return new HaproxyRouter(remote, { app: lab.app, socket: haproxy.socket, backend: haproxy.backend }, spec.stateDir);
}

/** Sets `to`'s weights on every host to what `from` serves there (not timed): the lab's two routers agree again. */
export async function mirror(lab: Lab, hosts: readonly HostSpec[], from: RouterName, to: RouterName): Promise<void> {
  const connectOptions = sessionSettings(lab).connect;
  const results = await settleLimit(hosts, 20, async (spec) => {
    const remote = await connect(spec.target, connectOptions);
    try {
      const index = hosts.indexOf(spec);
      const live = await routerFor(from, lab, index, spec, remote).getWeights();
      if (live) await routerFor(to, lab, index, spec, remote).setWeights(live.weights);
    } finally {
      remote.close();
    }
  });
  const failed = results.find((result) => !result.ok);
  if (failed && !failed.ok) throw failed.error;
}

/**
 * Until the router registry lets a session build the router its inputs name (issue 20: the wiring
 * is not done yet), the sessions a monitor holds are given the host's HAProxy router here; the
 * deploys before them move nginx, and `mirror` copies their weights onto HAProxy first.
 */
export function useRouter(
  sessions: readonly HostSession[],
  lab: Lab,
  hosts: readonly HostSpec[],
  name: RouterName,
): void {
  if (name === 'nginx') return;
  for (const session of sessions) {
    const index = hosts.findIndex((spec) => spec.target.label === session.spec.target.label);
    Object.assign(session, { router: routerFor(name, lab, index, session.spec, session.remote) });
  }
}
