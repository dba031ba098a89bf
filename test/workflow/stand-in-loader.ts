// The seam to the stand-ins for third-party actions (actions/checkout, docker/build-push-action...),
// which another module implements in stand-ins/index.ts. Until that file exists, no `uses:` has a
// stand-in. The types are repeated here so this runner compiles without that file.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface StandInContext {
  /** GITHUB_WORKSPACE of the job. */
  workspace: string;
  /** A folder of this run, shared by its jobs (artifact stores live below it). */
  runDir: string;
  /** The step's environment as the runner gives it to a process (GITHUB_*, RUNNER_*, env: of workflow/job/step). */
  env: Record<string, string>;
  /** The git repository the event happened in (a local path), the sha and ref to check out. */
  repository: { path: string; sha: string; ref: string; fullName: string };
  /** Writes one line to the step's log (the runner masks secrets in it). */
  log(line: string): void;
}

export interface StandInResult {
  outputs: Record<string, string>;
  /** set when the step fails: the reason */
  failure?: string;
}

export type StandIn = (inputs: Record<string, string>, ctx: StandInContext) => Promise<StandInResult>;
export type StandInLookup = (uses: string) => StandIn | undefined;

const MODULE = new URL('./stand-ins/index.ts', import.meta.url);

let loaded: Promise<StandInLookup> | undefined;

/** The stand-ins' lookup, or one that finds none while stand-ins/index.ts does not exist. */
export function standIns(): Promise<StandInLookup> {
  loaded ??= (async () => {
    // Only a missing file means "no stand-ins": an error inside the module must surface.
    if (!existsSync(fileURLToPath(MODULE))) return () => undefined;
    const module = (await import(/* @vite-ignore */ MODULE.href)) as { standInFor?: StandInLookup };
    if (typeof module.standInFor !== 'function')
      throw new Error(`${fileURLToPath(MODULE)} exports no standInFor(uses)`);
    return module.standInFor;
  })();
  return loaded;
}
