// Stand-ins for the third-party actions our workflows use, for the local workflow runner: each
// does the real work on this machine (a real git clone, a real docker build and push, a real
// artifact store on disk) instead of downloading and running the action. One module per action;
// this file is the door: the interface the runner calls, and the one registry from a `uses:`
// value to its stand-in.
import { checkout } from './checkout';
import { setupNode } from './setup-node';
import { setupBuildx, setupQemu } from './setup-docker';
import { dockerLogin } from './docker-login';
import { buildPush } from './build-push';
import { uploadArtifact } from './upload-artifact';
import { downloadArtifact } from './download-artifact';
import { StandInError } from './inputs';

export interface StandInContext {
  /** GITHUB_WORKSPACE of the job. */ workspace: string;
  /** A folder of this run, shared by its jobs (artifact stores live below it). */ runDir: string;
  /** The step's environment as the runner gives it to a process (GITHUB_*, RUNNER_*, env: of workflow/job/step). */ env: Record<
    string,
    string
  >;
  /** The git repository the event happened in (a local path), the sha and ref to check out. */ repository: {
    path: string;
    sha: string;
    ref: string;
    fullName: string;
  };
  /** Writes one line to the step's log (the runner masks secrets in it). */ log(line: string): void;
}
export interface StandInResult {
  outputs: Record<string, string>;
  /** set when the step fails: the reason */ failure?: string;
}
export type StandIn = (inputs: Record<string, string>, ctx: StandInContext) => Promise<StandInResult>;

/** Keyed by `owner/repo` in lower case: GitHub compares owner and repository names without case. */
const STAND_INS: ReadonlyMap<string, StandIn> = new Map([
  ['actions/checkout', checkout],
  ['actions/setup-node', setupNode],
  ['docker/setup-qemu-action', setupQemu],
  ['docker/setup-buildx-action', setupBuildx],
  ['docker/login-action', dockerLogin],
  ['docker/build-push-action', buildPush],
  ['actions/upload-artifact', uploadArtifact],
  ['actions/download-artifact', downloadArtifact],
]);

/** The stand-in for `owner/repo[/path]@ref` (ref ignored, case-insensitive owner/repo as GitHub), or undefined when there is none. */
export function standInFor(uses: string): StandIn | undefined {
  const at = uses.lastIndexOf('@');
  if (at <= 0 || uses.startsWith('./') || uses.startsWith('docker://')) return undefined;
  // `owner/repo/path@ref` is another action of that repository (actions/cache/restore): none here.
  const segments = uses.slice(0, at).split('/');
  if (segments.length !== 2 || !segments[0] || !segments[1]) return undefined;
  const standIn = STAND_INS.get(`${segments[0]}/${segments[1]}`.toLowerCase());
  return standIn && guarded(standIn);
}

/**
 * A stand-in reports a failure as the real action's `core.setFailed` would: a StandInError is a
 * mistake in the step (its message is the reason); anything else is a fault of the stand-in or
 * of this machine, so its stack goes to the log as well.
 */
function guarded(standIn: StandIn): StandIn {
  return async (inputs, ctx) => {
    try {
      return await standIn(inputs, ctx);
    } catch (error) {
      if (error instanceof StandInError) return { outputs: error.outputs, failure: error.message };
      const err = error instanceof Error ? error : new Error(String(error));
      for (const line of (err.stack ?? err.message).split('\n')) ctx.log(line);
      return { outputs: {}, failure: err.message };
    }
  };
}
