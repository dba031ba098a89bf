import { ConfigurationError, Registry, requireInput } from '../../action';
import type { Color } from '../../domain';
import type { HostSpec, Remote } from '../../hosts';
import type { MetricSource } from '..';
import { HaproxyLogSource } from './haproxy-log';
import { HostSource, type HostMemory } from './host';
import type { LogMark } from './log-mark';
import { NginxLogSource } from './nginx-log';
import { ProbeSource } from './probe';
import { PrometheusSource, type PrometheusSourceOptions } from './prometheus';

/**
 * The metric source seam's registry: every source by the name the `sources` input lists. A new
 * one (Datadog, CloudWatch) implements `MetricSource` (analysis/types.ts: sample a window, per
 * color) in a file of this folder and is registered here, or from outside the core with
 * `metricSources.register`; the monitor builds whatever the input lists and judges only samples.
 */

/** What the sources are set with: the monitor's inputs, read and checked (inputs/monitor-inputs.ts: sourceOptions). */
export interface SourceOptions {
  /** health-path: what the host source checks on each color. */
  healthPath: string;
  /** probe-path and probe-requests: what the probe source requests, how many times per color per sample. */
  probePath: string;
  probeRequests: number;
  /** memory: where the host source reads memory from. */
  memory: HostMemory['kind'];
  /** prometheus-url and prometheus-queries (null without a URL). */
  prometheus: Omit<PrometheusSourceOptions, 'app' | 'colors' | 'versions'> | null;
  /** router: what moves the hosts' traffic, and so which access log there is to read (nginx's or HAProxy's). Absent: not known, not checked. */
  router?: string;
}

/**
 * One watched host: its remote (batched: one SSH command per host per interval for every source),
 * its settings, and where its access log stood at the canary switch.
 */
export interface SourceHost {
  remote: Remote;
  host: HostSpec;
  logMark?: LogMark;
}

/** What a source is built from when a watch starts. */
export interface SourceContext {
  app: string;
  hosts: readonly SourceHost[];
  /** The colors running (both, or only the promoted one), and the version of each. */
  colors: readonly Color[];
  versions: Partial<Record<Color, string>>;
  options: SourceOptions;
}

export interface SourceEntry {
  /** What the source needs of the inputs, checked when they are read, before any host: throws a ConfigurationError naming the input. */
  check?(options: SourceOptions): void;
  /** One source or several (one per host); the monitor adds up their samples. */
  build(context: SourceContext): MetricSource[];
  /** It reads the access log from where the deploy marked it at the switch: a canary's analysis then starts at the switch, not when the monitor does. */
  fromSwitch?: boolean;
}

const portsOf = (host: HostSpec): Record<Color, number> => ({ blue: host.bluePort, green: host.greenPort });

export const metricSources = new Registry<SourceEntry>('metric source', 'sources', {
  'nginx-log': {
    check: (options) =>
      requireInput(
        options.router !== 'haproxy',
        'sources',
        "lists nginx-log, which reads nginx's access log, but router is haproxy: list haproxy-log instead " +
          "(HAProxy's log, with access-log naming it, e.g. /var/log/haproxy.log)",
      ),
    build: ({ app, hosts }) => [
      new NginxLogSource(
        hosts.map(({ remote, host, logMark }) => ({ remote, accessLog: host.accessLog, app, mark: logMark })),
      ),
    ],
    fromSwitch: true,
  },
  'haproxy-log': {
    // The app's requests are told from the others by the backend, which each host names behind router haproxy.
    check: (options) =>
      requireInput(
        options.router === undefined || options.router === 'haproxy',
        'sources',
        "lists haproxy-log, which reads HAProxy's log of each host's haproxy-backend, " +
          `but router is ${options.router}: set router: haproxy, or list nginx-log`,
      ),
    build: ({ hosts }) => [
      new HaproxyLogSource(
        hosts.map(({ remote, host, logMark }) => {
          if (!host.haproxyBackend)
            throw new ConfigurationError(
              `Input 'sources': lists haproxy-log, but ${host.target.label} has no haproxy-backend in the hosts list: ` +
                "set router: haproxy and each host's haproxy-socket and haproxy-backend",
            );
          return { remote, accessLog: host.accessLog, backend: host.haproxyBackend, mark: logMark };
        }),
      ),
    ],
    fromSwitch: true,
  },
  host: {
    build: ({ app, hosts, colors, options }) => {
      const memory: HostMemory = options.memory === 'compose' ? { kind: 'compose', app } : { kind: options.memory };
      return hosts.map(
        ({ remote, host }) =>
          new HostSource({ remote, ports: portsOf(host), colors, healthPath: options.healthPath, memory }),
      );
    },
  },
  probe: {
    build: ({ hosts, colors, options }) =>
      hosts.map(
        ({ remote, host }) =>
          new ProbeSource({
            remote,
            ports: portsOf(host),
            colors,
            path: options.probePath,
            requestsPerSample: options.probeRequests,
          }),
      ),
  },
  prometheus: {
    check: (options) =>
      requireInput(options.prometheus !== null, 'prometheus-url', 'is required when sources include prometheus'),
    build: ({ app, colors, versions, options }) => {
      requireInput(options.prometheus !== null, 'prometheus-url', 'is required when sources include prometheus');
      return [new PrometheusSource({ ...options.prometheus!, app, colors, versions })];
    },
  },
});

/** Checks the sources `names` lists against the options, before any host. */
export function checkSources(names: readonly string[], options: SourceOptions): void {
  for (const name of names) metricSources.get(name).check?.(options);
}

/** Whether a source `names` lists reads the access log from the deploy's mark at the switch (nginx-log, haproxy-log). */
export function readsFromSwitch(names: readonly string[]): boolean {
  return names.some((name) => metricSources.has(name) && metricSources.get(name).fromSwitch === true);
}

/** The sources `names` lists, in the order they were registered. */
export function buildMetricSources(names: readonly string[], context: SourceContext): MetricSource[] {
  for (const name of names) metricSources.get(name);
  return metricSources.names().flatMap((name) => (names.includes(name) ? metricSources.get(name).build(context) : []));
}
