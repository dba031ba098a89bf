import { ConfigurationError, printable, requireInput } from '../action';
import type { RuntimeRecord } from '../domain';
import { DEPLOYMENT_ID, HOST_PATH, IMAGE_REF, NGINX_KEY, URL_PATH, VERSION } from '../vocabulary';
import {
  DEFAULT_SMOKE_REQUESTS,
  runtimes,
  SMOKE_CHECKS_FORM,
  smokeChecksSchema,
  TEMPLATE_PLACEHOLDERS,
  type RuntimeOptions,
} from '../runtime';
import { z } from 'zod';
import { field, type Values } from './inputs';

/** `none`, or a path as URL_PATH has it. */
const URL_PATH_OR_NONE = new RegExp(`^(?:none|${URL_PATH.source.slice(1, -1)})$`);

/** A list of smoke checks in the one vocabulary (runtime's smokeChecksSchema): blue-green's smoke-requests, deploy-staging's smoke-checks. */
export function smokeChecksField(defaultChecks: string) {
  return field.yaml(smokeChecksSchema, { form: SMOKE_CHECKS_FORM, default: defaultChecks });
}

/** Inputs that every action which starts, checks or routes a color takes: same names, same forms. */
export const runtimeInputs = {
  runtime: field.registered(runtimes, 'compose'),
  'compose-file': field.string({
    form: "the compose file on the host (absolute, or relative to the SSH user's home)",
    pattern: HOST_PATH,
    default: 'docker-compose.yml',
  }),
  'start-command': field.template(TEMPLATE_PLACEHOLDERS),
  'stop-command': field.template(TEMPLATE_PLACEHOLDERS),
  'health-path': field.string({ form: 'a URL path such as /health', pattern: URL_PATH, default: '/health' }),
  'ready-path': field.string({
    form: 'a URL path such as /ready, or none',
    pattern: URL_PATH_OR_NONE,
    default: '/ready',
  }),
  'health-timeout-seconds': field.integer({ min: 1, max: 3600, default: 120, unit: 'seconds' }),
  'command-timeout-seconds': field.integer({ min: 1, max: 7200, default: 600, unit: 'seconds' }),
  'split-key': field.string({
    form: "nginx variables that pick a client's share, such as $remote_addr, $request_id or $cookie_session",
    pattern: NGINX_KEY,
    default: '$remote_addr',
    max: 128,
  }),
};

/** The deploy phase's inputs: blue-green's phase deploy and the command line's deploy. */
export const deployPhaseInputs = {
  image: field.string({
    form: 'an image reference such as ghcr.io/org/app:1.2.3 (lower-case name, optional tag or @sha256 digest)',
    pattern: IMAGE_REF,
    max: 512,
  }),
  version: field.string({
    form: 'a version label of letters, digits, . _ + - (e.g. v1.4.2 or sha-1a2b3c4)',
    pattern: VERSION,
    max: 128,
  }),
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
  /** A runtime's registered name (runtime/registry.ts). */
  runtime: string;
  'compose-file': string;
  'start-command': string;
  'stop-command': string;
  'health-path': string;
  'ready-path': string;
  'health-timeout-seconds'?: number;
  /** The actions that deploy a new image check this much room for it (under Docker's data root with compose). */
  'min-free-disk-mb'?: number;
};

/** What the runtime the inputs name is built from (runtime/registry.ts). */
export function runtimeOptions(inputs: RuntimeInputs): RuntimeOptions {
  return {
    composeFile: inputs['compose-file'],
    startCommand: inputs['start-command'],
    stopCommand: inputs['stop-command'],
    ...(inputs['health-timeout-seconds'] === undefined
      ? {}
      : { healthTimeoutSeconds: inputs['health-timeout-seconds'] }),
    minFreeDiskMb: inputs['min-free-disk-mb'] ?? 0,
  };
}

/** What the runtime the inputs name needs of them (the command runtime: its two commands), before any host. */
export function checkRuntimeInputs(inputs: RuntimeInputs): void {
  runtimes.get(inputs.runtime).check?.(runtimeOptions(inputs));
}

/**
 * The runtime inputs of a rollback (the rollback action, the command line's rollback, abort and
 * monitor, the canary monitor's rollback): `runtime` may be left empty, meaning "as recorded":
 * each color is stopped and started with the runtime recorded with the release it runs
 * (settings/phases.ts). Named, it is used for every color, as a deploy uses it.
 */
export const rollbackRuntimeInputs = { ...runtimeInputs, runtime: field.registered(runtimes, '') };

/** The rollback's runtime inputs checked before any host: a named runtime's own check; commands without a runtime are refused, never ignored. */
export function checkRollbackRuntimeInputs(inputs: RuntimeInputs): void {
  if (inputs.runtime !== '') return checkRuntimeInputs(inputs);
  const given = (['start-command', 'stop-command'] as const).find((name) => inputs[name] !== '');
  if (given)
    requireInput(
      false,
      'runtime',
      `is required with ${given}: pass runtime: command too (left empty, each color is stopped and started with the runtime recorded with its release)`,
    );
}

/** What a deploy records with its release (domain/releases.ts: RuntimeRecord): the runtime the inputs name and the options it was built from. */
export function runtimeRecord(inputs: RuntimeInputs): RuntimeRecord {
  const options = Object.entries(runtimeOptions(inputs)).filter(
    (entry): entry is [string, string | number] => entry[1] !== undefined,
  );
  return { name: inputs.runtime, options: Object.fromEntries(options) };
}

/** Each recorded option (RuntimeOptions) with the input it came from, whose field checks it when read back. */
const RECORDED_OPTIONS: Record<keyof RuntimeOptions, { input: string; field: z.ZodType<unknown, string> }> = {
  composeFile: { input: 'compose-file', field: runtimeInputs['compose-file'] },
  startCommand: { input: 'start-command', field: runtimeInputs['start-command'] },
  stopCommand: { input: 'stop-command', field: runtimeInputs['stop-command'] },
  healthTimeoutSeconds: { input: 'health-timeout-seconds', field: runtimeInputs['health-timeout-seconds'] },
  minFreeDiskMb: { input: 'min-free-disk-mb', field: deployPhaseInputs['min-free-disk-mb'] },
};

/**
 * The options of a runtime recorded with a release, read back from a host as data: the name must
 * be registered, every option must pass the field of the input it came from, and the runtime's own
 * check must pass. Anything else is refused with a ConfigurationError saying what did not fit.
 */
export function recordedRuntimeOptions(record: RuntimeRecord): RuntimeOptions {
  const refuse = (problem: string): never => {
    throw new ConfigurationError(`the recorded runtime is refused: ${problem}`);
  };
  if (!runtimes.has(record.name)) refuse(`name: ${runtimes.unknown(printable(record.name, 60))}`);
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record.options)) {
    const known = (RECORDED_OPTIONS as Record<string, (typeof RECORDED_OPTIONS)[keyof RuntimeOptions] | undefined>)[
      key
    ];
    if (!known) return refuse(`'${printable(key, 60)}' is not an option of a runtime`);
    const parsed = known.field.safeParse(String(value));
    if (!parsed.success)
      return refuse(`${known.input}: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
    values[key] = parsed.data;
  }
  const options: RuntimeOptions = {
    composeFile:
      typeof values.composeFile === 'string' ? values.composeFile : (runtimeInputs['compose-file'].parse('') as string),
    startCommand: typeof values.startCommand === 'string' ? values.startCommand : '',
    stopCommand: typeof values.stopCommand === 'string' ? values.stopCommand : '',
    ...(typeof values.healthTimeoutSeconds === 'number' ? { healthTimeoutSeconds: values.healthTimeoutSeconds } : {}),
    minFreeDiskMb: typeof values.minFreeDiskMb === 'number' ? values.minFreeDiskMb : 0,
  };
  try {
    runtimes.get(record.name).check?.(options);
  } catch (error) {
    refuse(`${record.name}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return options;
}

const GIT_REF = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._/-]*$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** The GitHub deployment a deploy records and its promote completes (DORA figures read it). */
export const deploymentRecordInputs = {
  'github-token': field.secret({ form: 'a token with deployments: write, e.g. secrets.GITHUB_TOKEN' }),
  'deployment-ref': field.string({
    form: 'the branch, tag or commit SHA being deployed, e.g. main or a 40-character SHA',
    pattern: GIT_REF,
    max: 255,
  }),
  'commit-time': field.string({
    form: 'an ISO 8601 time with a zone, e.g. 2026-05-01T12:34:56Z',
    pattern: ISO_TIME,
    max: 40,
  }),
  'deployment-id': field.string({
    form: 'the id of the GitHub deployment that phase deploy recorded (its deployment-id output)',
    pattern: DEPLOYMENT_ID,
    max: 20,
  }),
};

/**
 * What to record for a phase: deploy creates a deployment of the ref (the input, or the run's
 * commit), promote completes the one deploy recorded. Checked with the other inputs, before any host.
 */
export function deploymentRecord(
  inputs: Values<typeof deploymentRecordInputs> & { phase: string; image: string },
  env: NodeJS.ProcessEnv = process.env,
): { ref: string; image: string; commitTime: string | null } | { id: number | null } {
  requireInput(
    inputs['commit-time'] === '' || Number.isFinite(Date.parse(inputs['commit-time'])),
    'commit-time',
    `expected a real ISO 8601 time such as 2026-05-01T12:34:56Z, got '${inputs['commit-time']}'`,
  );
  if (inputs.phase !== 'deploy') return { id: inputs['deployment-id'] ? Number(inputs['deployment-id']) : null };
  requireInput(
    inputs['deployment-id'] === '',
    'deployment-id',
    'is for phase promote only: phase deploy records a new deployment and outputs its id',
  );
  const ref = inputs['deployment-ref'] || (env.GITHUB_SHA ?? '');
  requireInput(
    inputs['github-token'] === '' || ref !== '',
    'deployment-ref',
    'is required with github-token when GITHUB_SHA is not set: the branch, tag or commit SHA being deployed',
  );
  return {
    ref,
    image: inputs.image,
    commitTime: inputs['commit-time'] ? new Date(inputs['commit-time']).toISOString() : null,
  };
}
