import { requireInput, type Clock, type Logger, type RunInfo } from '../action';
import type { SessionSettings } from '../fleet';
import type { DeploySettings, PromoteSettings } from '../procedures';
import type { Runtime } from '../runtime';
import type { RollbackSettings, RollbackTarget } from '../rollback';
import { DEPLOYMENT_ID, FREE_TEXT, VERSION } from '../vocabulary';
import { buildRuntime, healthPaths, sessionFromInputs, type deployPhaseInputs, type promotePhaseInputs, type RuntimeInputs } from './common-inputs';
import { field, type HostInputs } from './inputs';
import type { z } from 'zod';

/**
 * Each phase's settings from its inputs, built in one place: the blue-green and rollback actions
 * and the operator's command line run the same phase from the same inputs.
 */

type Values<S extends Record<string, z.ZodType>> = { [K in keyof S]: z.output<S[K]> };
type PhaseInputs = HostInputs & RuntimeInputs & { 'split-key': string; 'health-timeout-seconds': number; 'command-timeout-seconds': number };
type Context = { run: RunInfo; log: Logger; clock: Clock; signal?: AbortSignal };

/** What every phase that starts, checks or stops a color takes: the session, the runtime, its health paths and time limits. */
export function colorSettings(inputs: PhaseInputs, context: Context): SessionSettings & { runtime: Runtime; healthPaths: string[]; healthTimeoutSeconds: number; commandTimeoutSeconds: number } {
  return {
    ...sessionFromInputs(inputs, context.run, context.log, context.clock, context.signal),
    runtime: buildRuntime(inputs),
    healthPaths: healthPaths(inputs),
    healthTimeoutSeconds: inputs['health-timeout-seconds'],
    commandTimeoutSeconds: inputs['command-timeout-seconds'],
  };
}

export function deploySettings(inputs: PhaseInputs & Values<typeof deployPhaseInputs>, context: Context): DeploySettings {
  return {
    ...colorSettings(inputs, context),
    image: inputs.image,
    version: inputs.version,
    canaryPercent: inputs['canary-percent'],
    smokeRequests: inputs['smoke-requests'],
    preflight: { minFreeDiskMb: inputs['min-free-disk-mb'], minFreeMemoryMb: inputs['min-free-memory-mb'] },
  };
}

export function promoteSettings(inputs: PhaseInputs & Values<typeof promotePhaseInputs> & { version: string }, context: Context): PromoteSettings {
  return {
    ...colorSettings(inputs, context),
    version: inputs.version,
    drainSeconds: inputs['drain-seconds'],
    keepPrevious: inputs['keep-previous'],
  };
}

/** Why an operator acts (a rollback, an abort, a hold): one line, kept in the hosts' audit log. */
export function reasonField(defaultReason: string) {
  return field.string({ form: 'one line saying why (free text, no control characters)', pattern: FREE_TEXT, default: defaultReason, max: 500 });
}

/** The rollback's inputs: what to go back to, why, and whether to keep the failed color. */
export function rollbackPhaseInputs(defaultReason: string) {
  return {
    'target-version': field.string({ form: "a version from the hosts' history, such as v1.4.2", pattern: VERSION, max: 128 }),
    reason: reasonField(defaultReason),
    'keep-failed': field.boolean(false),
  };
}

/** A named version, or the last good one (`canaryOnly`: an abort, which only ends a canary or a ramp). */
export function rollbackTarget(inputs: { 'target-version': string }, canaryOnly = false): RollbackTarget {
  return inputs['target-version'] ? { kind: 'version', version: inputs['target-version'] } : { kind: 'previous', ...(canaryOnly ? { canaryOnly } : {}) };
}

export function rollbackSettings(inputs: PhaseInputs & { reason: string; 'keep-failed': boolean }, context: Context): Omit<RollbackSettings, 'target'> {
  return {
    ...colorSettings(inputs, context),
    reason: inputs.reason,
    keepFailed: inputs['keep-failed'],
  };
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
