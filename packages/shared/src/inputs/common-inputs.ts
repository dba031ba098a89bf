import { requireInput, systemClock, type Clock, type Logger, type RunInfo } from '../action';
import { field, type HostInputs } from './inputs';
import { connectOptions } from './host-setup-inputs';
import { HOST_PATH, IMAGE_REF, NGINX_KEY, URL_PATH, VERSION } from '../vocabulary';
import { commandRuntime, composeRuntime, DEFAULT_SMOKE_REQUESTS, SMOKE_CHECKS_FORM, smokeChecksSchema, TEMPLATE_PLACEHOLDERS, type Runtime } from '../runtime';
import type { SessionSettings } from '../fleet';

/** `none`, or a path as URL_PATH has it. */
const URL_PATH_OR_NONE = new RegExp(`^(?:none|${URL_PATH.source.slice(1, -1)})$`);

/** A list of smoke checks in the one vocabulary (runtime's smokeChecksSchema): blue-green's smoke-requests, deploy-staging's smoke-checks. */
export function smokeChecksField(defaultChecks: string) {
  return field.yaml(smokeChecksSchema, { form: SMOKE_CHECKS_FORM, default: defaultChecks });
}

/** Inputs that every action which starts, checks or routes a color takes: same names, same forms. */
export const runtimeInputs = {
  runtime: field.choice(['compose', 'command'], 'compose'),
  'compose-file': field.string({ form: "the compose file on the host (absolute, or relative to the SSH user's home)", pattern: HOST_PATH, default: 'docker-compose.yml' }),
  'start-command': field.template(TEMPLATE_PLACEHOLDERS),
  'stop-command': field.template(TEMPLATE_PLACEHOLDERS),
  'health-path': field.string({ form: 'a URL path such as /health', pattern: URL_PATH, default: '/health' }),
  'ready-path': field.string({ form: 'a URL path such as /ready, or none', pattern: URL_PATH_OR_NONE, default: '/ready' }),
  'health-timeout-seconds': field.integer({ min: 1, max: 3600, default: 120, unit: 'seconds' }),
  'command-timeout-seconds': field.integer({ min: 1, max: 7200, default: 600, unit: 'seconds' }),
  'split-key': field.string({ form: "nginx variables that pick a client's share, such as $remote_addr, $request_id or $cookie_session", pattern: NGINX_KEY, default: '$remote_addr', max: 128 }),
};

/** The deploy phase's inputs: blue-green's phase deploy and the command line's deploy. */
export const deployPhaseInputs = {
  image: field.string({ form: 'an image reference such as ghcr.io/org/app:1.2.3 (lower-case name, optional tag or @sha256 digest)', pattern: IMAGE_REF, max: 512 }),
  version: field.string({ form: 'a version label of letters, digits, . _ + - (e.g. v1.4.2 or sha-1a2b3c4)', pattern: VERSION, max: 128 }),
  'canary-percent': field.integer({ min: 0, max: 100, default: 10, unit: 'percent of requests for the new color' }),
  'smoke-requests': smokeChecksField(DEFAULT_SMOKE_REQUESTS),
  'min-free-disk-mb': field.integer({ min: 0, max: 10_000_000, default: 1024, unit: 'MB' }),
  'min-free-memory-mb': field.integer({ min: 0, max: 10_000_000, default: 256, unit: 'MB' }),
};

/** The promote phase's inputs (with the deploy phase's `version`, the canary it must be). */
export const promotePhaseInputs = {
  'drain-seconds': field.integer({ min: 0, max: 3600, default: 10, unit: 'seconds' }),
  'keep-previous': field.boolean(false),
};

export type RuntimeInputs = {
  runtime: 'compose' | 'command';
  'compose-file': string;
  'start-command': string;
  'stop-command': string;
  'health-path': string;
  'ready-path': string;
  'health-timeout-seconds'?: number;
  /** The actions that deploy a new image check this much room for it (under Docker's data root with compose). */
  'min-free-disk-mb'?: number;
};

export function checkRuntimeInputs(inputs: RuntimeInputs): void {
  if (inputs.runtime === 'command') {
    requireInput(inputs['start-command'] !== '', 'start-command', 'is required when runtime is command, e.g. "docker run -d --name {app}-{color} -p 127.0.0.1:{port}:8000 {image}"');
    requireInput(inputs['stop-command'] !== '', 'stop-command', 'is required when runtime is command, e.g. "docker rm -f {app}-{color}"');
  }
}

export function buildRuntime(inputs: RuntimeInputs): Runtime {
  return inputs.runtime === 'compose'
    ? composeRuntime(inputs['compose-file'], { waitTimeoutSeconds: inputs['health-timeout-seconds'], minFreeDiskMb: inputs['min-free-disk-mb'] ?? 0 })
    : commandRuntime(inputs['start-command'], inputs['stop-command']);
}

export function healthPaths(inputs: RuntimeInputs): string[] {
  return [inputs['health-path'], ...(inputs['ready-path'] === 'none' ? [] : [inputs['ready-path']])];
}

/** Session settings (connection, lock, parallelism, who acts) from the shared host inputs. */
export function sessionFromInputs(inputs: HostInputs & { 'split-key': string }, run: RunInfo, log: Logger, clock: Clock = systemClock, signal?: AbortSignal): SessionSettings {
  return {
    app: inputs.app,
    splitKey: inputs['split-key'],
    connect: connectOptions(inputs),
    lock: { waitSeconds: inputs['lock-wait-seconds'], staleSeconds: inputs['lock-stale-seconds'], breakStale: inputs['break-stale-lock'], takeOver: inputs['take-over-lock'] },
    maxParallel: inputs['max-parallel'],
    run,
    clock,
    log,
    repairState: inputs['repair-state'],
    ...(signal ? { signal } : {}),
  };
}
