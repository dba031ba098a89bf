import { describe, expect, it } from 'vitest';
import { ConfigurationError, requireInput, silentLogger, type Clock } from '../src/action';
import { emptyColorSample, type MetricSource, type Sample, type TimeWindow } from '../src/analysis';
import {
  buildMetricSources,
  metricSources,
  type SourceContext,
  type SourceEntry,
  type SourceHost,
  type SourceOptions,
} from '../src/analysis/sources';
import type { Color } from '../src/domain';
import { HostSession, sessionRouter, type SessionSettings } from '../src/fleet';
import { emptyState, type HostSpec, type HostWrite, type Remote } from '../src/hosts';
import {
  checkRuntimeInputs,
  hostInputs,
  monitorPhaseInputs,
  monitorPolicy,
  readInputs,
  runtimeInputs,
} from '../src/inputs';
import { monitorSessions, type MonitorSettings } from '../src/procedures';
import { runtimes, type PrepareStep, type Runtime, type RuntimeEntry, type RuntimeOptions } from '../src/runtime';
import { monitorSettings, runtimeFromInputs, sessionFromInputs } from '../src/settings';
import {
  routers,
  weightsFor,
  type LiveWeights,
  type RouterContext,
  type RouterEntry,
  type RouterView,
  type SwitchResult,
  type TrafficRouter,
  type Weights,
} from '../src/traffic';

/**
 * The seams as a team plugs into them: a router, a runtime and a metric source written here, from
 * outside the core, registered through each seam's registry and named by the inputs, as a team
 * would add HAProxy's cousin, a systemd runtime or Datadog. No file of the core knows them; the
 * inputs accept their names, the settings build them, and the sessions and the monitor drive them.
 * (rollback-methods.test.ts does the same for a rollback method.)
 */

const read = (values: Record<string, string>) => (name: string) => values[name] ?? '';

/** A session's settings as an action reads them (the secrets left out: reading them prints the runner's masks). */
function session(clock?: Clock): SessionSettings {
  const { 'ssh-private-key': _key, 'slack-webhook-url': _webhook, ...fields } = hostInputs;
  const inputs = readInputs(
    { ...fields, 'split-key': runtimeInputs['split-key'] },
    read({ hosts: 'deploy@10.0.0.5', 'insecure-skip-host-key-check': 'true', app: 'shop' }),
  );
  return sessionFromInputs(
    { ...inputs, 'ssh-private-key': '', 'slack-webhook-url': '' },
    { runId: 'run-1', actor: 'octocat', runUrl: '' },
    silentLogger,
    clock,
  );
}

// ------------------------------------------------------------------------------------- a runtime

/** systemd units per color, `<app>-<color>.service`, whose environment file names the image. */
const systemdRuntime = (): Runtime => ({
  kind: 'systemd',
  prepare: (release): PrepareStep[] => [
    {
      what: `write the environment of ${release.app}-${release.color}`,
      argv: [
        'sh',
        '-c',
        'printf "IMAGE=%s\\nPORT=%s\\n" "$1" "$2" > "$3"',
        'sh',
        release.image,
        String(release.port),
        `/etc/${release.app}/${release.color}.env`,
      ],
    },
  ],
  start: (release) => ['sudo', 'systemctl', 'restart', `${release.app}-${release.color}.service`],
  stop: (release) => ['sudo', 'systemctl', 'stop', `${release.app}-${release.color}.service`],
});

const systemd: RuntimeEntry = {
  check: (options: RuntimeOptions) =>
    requireInput(
      options.startCommand === '',
      'start-command',
      'is for runtime command: runtime systemd starts the unit <app>-<color>.service',
    ),
  build: systemdRuntime,
};
runtimes.register('systemd', systemd);

describe('a runtime added from outside the core', () => {
  it('is named by the runtime input and built by the settings', () => {
    const inputs = readInputs(runtimeInputs, read({ runtime: 'systemd' }));
    checkRuntimeInputs(inputs);
    const runtime = runtimeFromInputs(inputs);
    expect(runtime.kind).toBe('systemd');
    expect(runtime.start({ app: 'shop', color: 'green', port: 8002, image: 'shop:v2', version: 'v2' })).toEqual([
      'sudo',
      'systemctl',
      'restart',
      'shop-green.service',
    ]);
  });

  it('checks its own inputs when they are read, before any host', () => {
    const inputs = readInputs(runtimeInputs, read({ runtime: 'systemd', 'start-command': 'docker run {image}' }));
    expect(() => checkRuntimeInputs(inputs)).toThrow(
      "Input 'start-command': is for runtime command: runtime systemd starts the unit <app>-<color>.service",
    );
  });

  it('is listed with the built-in ones when the input names none of them', () => {
    expect(() => readInputs(runtimeInputs, read({ runtime: 'podman' }))).toThrow(
      new ConfigurationError("Input 'runtime': expected one of compose, command, systemd, got 'podman'"),
    );
  });
});

// -------------------------------------------------------------------------------------- a router

/** A load balancer that keeps its weights in memory, per host, and the files the session asks it to write. */
class MemoryRouter implements TrafficRouter {
  weights: Weights | null = null;
  readonly files = new Map<string, string>();

  constructor(readonly host: string) {}

  async setWeights(
    weights: Weights,
    options: { before?: readonly HostWrite[]; after?: readonly HostWrite[] } = {},
  ): Promise<SwitchResult> {
    for (const write of options.before ?? []) this.files.set(write.path, write.content);
    this.weights = weights;
    for (const write of options.after ?? []) this.files.set(write.path, write.content);
    return { weights, liveMs: 1, settledMs: 1, recorded: (options.after ?? []).length > 0 };
  }

  async getWeights(): Promise<LiveWeights | null> {
    return this.weights ? { weights: this.weights, generation: 'memory' } : null;
  }

  async inspect(): Promise<RouterView> {
    const live = await this.getWeights();
    return { live, file: live, health: {} };
  }
}

const built: MemoryRouter[] = [];
const memory: RouterEntry = {
  check: (host) => requireInput(host.bluePort !== host.greenPort, 'blue-port', 'must differ from green-port'),
  build: ({ host }: RouterContext) => {
    const router = new MemoryRouter(host.target.label);
    built.push(router);
    return router;
  },
};
routers.register('memory', memory);

const spec: HostSpec = {
  target: { user: 'deploy', host: '10.0.0.5', port: 22, label: 'deploy@10.0.0.5' },
  bluePort: 8001,
  greenPort: 8002,
  nginxStatusPort: 8099,
  stateDir: '/var/lib/agent-loop',
  nginxConfDir: '/etc/nginx/conf.d',
  nginxCommand: ['nginx'],
  accessLog: '/var/log/nginx/agent-loop.access.log',
};
const remote: Remote = {
  label: spec.target.label,
  run: () => Promise.reject(new Error('no command reaches this host')),
  close: () => undefined,
};

describe('a router added from outside the core', () => {
  it("is the one a session builds for each host when the settings name it, and the session's traffic switch goes through it", async () => {
    const settings: SessionSettings = { ...session(), router: 'memory' };
    const router = sessionRouter(spec, remote, settings);
    expect(router).toBe(built.at(-1));
    const host = new HostSession(
      spec,
      remote,
      settings,
      emptyState('shop', '2026-01-01T00:00:00Z'),
      () => Promise.resolve(),
      router,
    );
    const intent = { ...host.state, active: 'green' as Color };
    await host.switchWithIntent(intent, weightsFor('green', 100), intent);
    expect(await router.getWeights()).toEqual({ weights: { blue: 0, green: 100 }, generation: 'memory' });
    // The write-ahead record went to the router with the switch, as nginx's include does.
    expect([...(router as MemoryRouter).files.keys()]).toEqual([host.paths.state]);
  });

  it('is nginx unless the settings name another', () => {
    const settings = {
      app: 'shop',
      splitKey: '$request_id',
      clock: { now: () => 0, sleep: () => Promise.resolve() } satisfies Clock,
    };
    expect(sessionRouter(spec, remote, settings).constructor.name).toBe('NginxRouter');
  });

  it('checks a host before any is contacted, and an unknown name is told with the registered ones', () => {
    const settings = { app: 'shop', splitKey: '$request_id', clock: { now: () => 0, sleep: () => Promise.resolve() } };
    expect(() => sessionRouter({ ...spec, greenPort: 8001 }, remote, { ...settings, router: 'memory' })).toThrow(
      "Input 'blue-port': must differ from green-port",
    );
    expect(() => sessionRouter(spec, remote, { ...settings, router: 'envoy' })).toThrow(
      new ConfigurationError("Input 'router': expected one of nginx, haproxy, memory, got 'envoy'"),
    );
  });

  it("sits beside the built-in HAProxy router, which a session builds from the host's admin socket and backend, and refuses a host without them", () => {
    const settings = {
      app: 'shop',
      router: 'haproxy',
      splitKey: '$request_id',
      clock: { now: () => 0, sleep: () => Promise.resolve() },
    };
    expect(
      sessionRouter({ ...spec, haproxySocket: '/run/haproxy/admin.sock', haproxyBackend: 'shop' }, remote, settings)
        .constructor.name,
    ).toBe('HaproxyRouter');
    expect(() => sessionRouter(spec, remote, settings)).toThrow(
      "Input 'hosts': deploy@10.0.0.5: router haproxy needs the host's haproxy-socket (HAProxy's admin socket) " +
        "and haproxy-backend (the backend of the app's blue and green servers)",
    );
    expect(() =>
      sessionRouter({ ...spec, haproxySocket: 'admin.sock', haproxyBackend: 'shop' }, remote, settings),
    ).toThrow("Input 'hosts': deploy@10.0.0.5: invalid haproxy-socket 'admin.sock'");
  });
});

// ------------------------------------------------------------------------------- a metric source

/** What a metrics service answers for the app: a canary (green) with `canaryErrors` of every 1000 requests failing. */
function serviceSource(context: SourceContext, canaryErrors: number): MetricSource {
  return {
    name: 'service',
    async sample(window: TimeWindow): Promise<Sample> {
      const colors: Sample['colors'] = {};
      // Every request answered within 25 ms (the histogram's third bucket).
      for (const color of context.colors)
        colors[color] = {
          ...emptyColorSample(),
          requests: 1000,
          errors: color === 'green' ? canaryErrors : 0,
          latency: emptyColorSample().latency.map((_, index) => (index === 2 ? 1000 : 0)),
        };
      return { start: window.start, end: window.end, colors };
    },
  };
}

let canaryErrors = 0;
const service: SourceEntry = {
  check: (options: SourceOptions) => requireInput(options.probeRequests > 0, 'probe-requests', 'must be above 0'),
  build: (context) => [serviceSource(context, canaryErrors)],
};
metricSources.register('service', service);

/** A host whose canary (green) takes 10%: only what the monitor asks of a session. */
function watchedHost(label: string): Parameters<typeof monitorSessions>[0][number] {
  const since = '2026-01-01T00:00:00Z';
  const session = {
    label,
    spec: { ...spec, target: { ...spec.target, label } },
    remote: { ...remote, label },
    lockLost: false,
    state: {
      ...emptyState('shop', since),
      active: 'blue',
      colors: {
        blue: { image: 'shop:v1', version: 'v1', port: 8001, status: 'running', since },
        green: { image: 'shop:v2', version: 'v2', port: 8002, status: 'running', since },
      },
      canary: { color: 'green', version: 'v2', image: 'shop:v2', percent: 10, since, runId: 'run-1' },
    },
    clearAbortRequest: () => Promise.resolve(),
    abortRequest: () => Promise.resolve(null),
    holdRequest: () => Promise.resolve(null),
  };
  return session as unknown as Parameters<typeof monitorSessions>[0][number];
}

function watch(sources: string): MonitorSettings {
  let now = Date.parse('2026-01-01T00:10:00Z');
  const clock: Clock = { now: () => now, sleep: (ms) => Promise.resolve(void (now += ms)) };
  const inputs = readInputs(
    { ...runtimeInputs, ...monitorPhaseInputs },
    read({ sources, duration: '60', interval: '5', 'auto-rollback': 'false' }),
  );
  return monitorSettings(inputs, session(clock), monitorPolicy(inputs));
}

describe('a metric source added from outside the core', () => {
  it('is named by the sources input, and the monitor judges the canary by its samples alone', async () => {
    canaryErrors = 0;
    expect((await monitorSessions([watchedHost('h1')], watch('service'))).verdict).toBe('success');
    canaryErrors = 200;
    const failed = await monitorSessions([watchedHost('h1'), watchedHost('h2')], watch('service'));
    expect(failed.verdict).toBe('failure');
    expect(failed.reason).toContain('error-rate');
  });

  it('is built beside the built-in ones the input lists', () => {
    const watched: SourceHost = { remote, host: spec };
    const context: SourceContext = {
      app: 'shop',
      hosts: [watched],
      colors: ['blue', 'green'],
      versions: {},
      options: { healthPath: '/health', probePath: '/health', probeRequests: 3, memory: 'host', prometheus: null },
    };
    expect(buildMetricSources(['service', 'probe'], context).map((source) => source.name)).toEqual([
      'probe',
      'service',
    ]);
  });

  it('checks its own inputs when they are read, and an unknown name is told with the registered ones', () => {
    const inputs = readInputs(monitorPhaseInputs, read({ sources: 'service, host' }));
    expect(inputs.sources).toEqual(['service', 'host']);
    expect(() => monitorPolicy({ ...inputs, 'probe-requests': 0 })).toThrow("Input 'probe-requests': must be above 0");
    expect(() => readInputs(monitorPhaseInputs, read({ sources: 'nginx-log, datadog' }))).toThrow(
      "Input 'sources': [1]: expected one of nginx-log, haproxy-log, host, probe, prometheus, service, got 'datadog'",
    );
  });
});
