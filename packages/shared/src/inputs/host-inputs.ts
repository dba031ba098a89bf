import { requireInput } from '../action';
import type { HostSpec } from '../hosts';
import { DEFAULT_ROUTER, routers } from '../traffic';
import { DEFAULT_ACCESS_LOG, hostSettingInputs } from './host-settings';
import { field, type Values } from './inputs';

/**
 * The host inputs of every action that moves or reads traffic: the host settings (inputs.ts) and
 * the router that moves their traffic, by its name in the router registry. Apart from inputs.ts,
 * so that an action that contacts no host, which reads its inputs with inputs.ts, does not bundle
 * the routers (and the SSH client they reach hosts with).
 */
export const hostInputs = {
  ...hostSettingInputs,
  // What moves each host's traffic (traffic/registry.ts): nginx's include and reload, or HAProxy's admin socket.
  router: field.registered(routers, DEFAULT_ROUTER),
};

export type HostInputs = Values<typeof hostInputs>;

/**
 * Merges the action-level settings with each host's overrides and checks what must hold per host,
 * the router's needs among them (HAProxy's: each host's haproxy-socket and haproxy-backend), before
 * any host is contacted.
 */
export function resolveHosts(inputs: HostInputs & { 'access-log'?: string }): HostSpec[] {
  requireInput(
    inputs['insecure-skip-host-key-check'] || inputs['ssh-known-hosts'] !== '',
    'ssh-known-hosts',
    'is required unless insecure-skip-host-key-check is true: the known_hosts lines of every host, e.g. the output of `ssh-keyscan -p 22 HOST`',
  );
  return inputs.hosts.map(({ target, overrides }) => {
    const spec: HostSpec = {
      target,
      bluePort: overrides.bluePort ?? inputs['blue-port'],
      greenPort: overrides.greenPort ?? inputs['green-port'],
      nginxStatusPort: overrides.nginxStatusPort ?? inputs['nginx-status-port'],
      stateDir: overrides.stateDir ?? inputs['state-dir'],
      nginxConfDir: overrides.nginxConfDir ?? inputs['nginx-conf-dir'],
      nginxCommand: overrides.nginxCommand ?? inputs['nginx-command'],
      accessLog: overrides.accessLog ?? (inputs['access-log'] || DEFAULT_ACCESS_LOG),
      ...(overrides.haproxySocket === undefined ? {} : { haproxySocket: overrides.haproxySocket }),
      ...(overrides.haproxyBackend === undefined ? {} : { haproxyBackend: overrides.haproxyBackend }),
    };
    const ports = [spec.bluePort, spec.greenPort, spec.nginxStatusPort];
    requireInput(
      new Set(ports).size === 3,
      'blue-port',
      `blue-port, green-port and nginx-status-port must differ on ${target.label} (got ${ports.join(', ')})`,
    );
    // A host that names HAProxy's socket while nginx moves the traffic would be deployed to through nginx, unseen.
    requireInput(
      inputs.router !== DEFAULT_ROUTER || (spec.haproxySocket === undefined && spec.haproxyBackend === undefined),
      'router',
      `is ${DEFAULT_ROUTER}, but the hosts list gives ${target.label} an haproxy-socket or haproxy-backend: ` +
        'set router: haproxy to move its traffic through HAProxy, or remove them',
    );
    routers.get(inputs.router).check?.(spec, inputs.app);
    return spec;
  });
}
