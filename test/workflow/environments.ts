// Deployment environments: each one's secrets reach only the jobs that run in it, and a gated one
// (named in --environment) waits for its reviewer's answer, given per run.
import type { GateAnswer } from './types';

export interface EnvironmentSettings {
  secrets: Record<string, Record<string, string>>;
  answers: Record<string, GateAnswer>;
}

/** Why the job may not run in `name`, or undefined when it may (approved, or no gate). */
export function gateRefusal(name: string, settings: EnvironmentSettings): string | undefined {
  const answer = settings.answers[name];
  // An environment with no answer has no required reviewers here: it needs no approval.
  if (answer === undefined || answer === 'approve') return undefined;
  // GitHub's own words for these are not known here: these name the environment and the answer.
  return answer === 'reject'
    ? `The deployment to environment '${name}' was rejected by a required reviewer.`
    : `The deployment to environment '${name}' timed out waiting for a required reviewer.`;
}

export function environmentSecrets(name: string | undefined, settings: EnvironmentSettings): Record<string, string> {
  return name === undefined ? {} : { ...(settings.secrets[name] ?? {}) };
}
