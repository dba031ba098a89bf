import { Registry, requireInput } from '../../action';
import type { Color } from '../../domain';
import type { HostSpec, Remote } from '../../hosts';
import type { MetricSource } from '..';
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
}

/** One watched host: its remote (batched: one SSH command per host per interval for every source), its settings, and where its access log stood at the canary switch. */
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
}

const portsOf = (host: HostSpec): Record<Color, number> => ({ blue: host.bluePort, green: host.greenPort });

export const metricSources = new Registry<SourceEntry>('metric source', 'sources', {
  'nginx-log': {
    build: ({ app, hosts }) => [new NginxLogSource(hosts.map(({ remote, host, logMark }) => ({ remote, accessLog: host.accessLog, app, mark: logMark })))],
  },
  host: {
    build: ({ app, hosts, colors, options }) => {
      const memory: HostMemory = options.memory === 'compose' ? { kind: 'compose', app } : { kind: options.memory };
      return hosts.map(({ remote, host }) => new HostSource({ remote, ports: portsOf(host), colors, healthPath: options.healthPath, memory }));
    },
  },
  probe: {
    build: ({ hosts, colors, options }) => hosts.map(({ remote, host }) => new ProbeSource({ remote, ports: portsOf(host), colors, path: options.probePath, requestsPerSample: options.probeRequests })),
  },
  prometheus: {
    check: (options) => requireInput(options.prometheus !== null, 'prometheus-url', 'is required when sources include prometheus'),
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

/** The sources `names` lists, in the order they were registered. */
export function buildMetricSources(names: readonly string[], context: SourceContext): MetricSource[] {
  for (const name of names) metricSources.get(name);
  return metricSources.names().flatMap((name) => (names.includes(name) ? metricSources.get(name).build(context) : []));
}
