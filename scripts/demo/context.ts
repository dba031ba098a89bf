// What every step of the demo shares: its settings, the hosts' inputs, the event a push makes, a scenario's run.
import type { Lab } from '../../test/lab/index';
import type { startTraffic } from '../../test/lab/traffic';
import { blueGreenLabInputs } from '../../test/support/deploy-settings';

export const verbose = process.argv.includes('--verbose');
export const TOKEN = 'ghs_demoTokenNotARealOne';
/** The run every action reports (GITHUB_RUN_ID of the lab's runner), as a link on the GitHub stand-in. */
export const RUN_PATH = '/org/service/actions/runs/4242';
/** The staging load test, shortened as the canary windows are. */
export const LOAD_SECONDS = 5;
export function hostInputs(lab: Lab): Record<string, string> {
  // Every demo request comes from 127.0.0.1: split per request (as the lab inputs do), not per client address.
  return blueGreenLabInputs(lab, { 'drain-seconds': '1', memory: 'none' });
}

export interface Event {
  name: string;
  ref: string;
  sha: string;
  payload: unknown;
}

export function push(branch: string, message: string, sha: string): Event {
  const timestamp = new Date(Date.now() - 45 * 60_000).toISOString();
  return {
    name: 'push',
    ref: `refs/heads/${branch}`,
    sha,
    payload: {
      ref: `refs/heads/${branch}`,
      after: sha,
      head_commit: { id: sha, message, timestamp },
      commits: [{ id: sha, message }],
      repository: { full_name: 'org/service', default_branch: 'main' },
    },
  };
}

/** What the steps before it left for a step of a scenario. */
export interface Run {
  event: Event;
  plan: Record<string, string>;
  deploymentId: string;
  traffic: Array<ReturnType<typeof startTraffic>>;
  monitor: Record<string, string>;
}
