import { requireInput } from '../action';
import { DEPLOYMENT_ID, HOST_PATH, IMAGE_REF, NGINX_KEY, URL_PATH, VERSION } from '../vocabulary';
import { DEFAULT_SMOKE_REQUESTS, runtimes, SMOKE_CHECKS_FORM, smokeChecksSchema, TEMPLATE_PLACEHOLDERS, type RuntimeOptions } from '../runtime';
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
    ...(inputs['health-timeout-seconds'] === undefined ? {} : { healthTimeoutSeconds: inputs['health-timeout-seconds'] }),
    minFreeDiskMb: inputs['min-free-disk-mb'] ?? 0,
  };
}

/** What the runtime the inputs name needs of them (the command runtime: its two commands), before any host. */
export function checkRuntimeInputs(inputs: RuntimeInputs): void {
  runtimes.get(inputs.runtime).check?.(runtimeOptions(inputs));
}

const GIT_REF = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._/-]*$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** The GitHub deployment a deploy records and its promote completes (DORA figures read it). */
export const deploymentRecordInputs = {
  'github-token': field.secret({ form: 'a token with deployments: write, e.g. secrets.GITHUB_TOKEN' }),
  'deployment-ref': field.string({ form: 'the branch, tag or commit SHA being deployed, e.g. main or a 40-character SHA', pattern: GIT_REF, max: 255 }),
  'commit-time': field.string({ form: 'an ISO 8601 time with a zone, e.g. 2026-05-01T12:34:56Z', pattern: ISO_TIME, max: 40 }),
  'deployment-id': field.string({ form: 'the id of the GitHub deployment that phase deploy recorded (its deployment-id output)', pattern: DEPLOYMENT_ID, max: 20 }),
};

/**
 * What to record for a phase: deploy creates a deployment of the ref (the input, or the run's
 * commit), promote completes the one deploy recorded. Checked with the other inputs, before any host.
 */
export function deploymentRecord(inputs: Values<typeof deploymentRecordInputs> & { phase: string; image: string }, env: NodeJS.ProcessEnv = process.env): { ref: string; image: string; commitTime: string | null } | { id: number | null } {
  requireInput(inputs['commit-time'] === '' || Number.isFinite(Date.parse(inputs['commit-time'])), 'commit-time', `expected a real ISO 8601 time such as 2026-05-01T12:34:56Z, got '${inputs['commit-time']}'`);
  if (inputs.phase !== 'deploy') return { id: inputs['deployment-id'] ? Number(inputs['deployment-id']) : null };
  requireInput(inputs['deployment-id'] === '', 'deployment-id', 'is for phase promote only: phase deploy records a new deployment and outputs its id');
  const ref = inputs['deployment-ref'] || (env.GITHUB_SHA ?? '');
  requireInput(inputs['github-token'] === '' || ref !== '', 'deployment-ref', 'is required with github-token when GITHUB_SHA is not set: the branch, tag or commit SHA being deployed');
  return { ref, image: inputs.image, commitTime: inputs['commit-time'] ? new Date(inputs['commit-time']).toISOString() : null };
}
