// The blue-green benchmark's goals, plans and the figures it reports.
import type { TrafficResult } from '../../test/lab/traffic';

// ------------------------------------------------------------------------------------ settings

export const GOALS = {
  /** Weights written → new weights live, per host. */
  switchLiveMs: 100,
  /** Promote on 20 hosts takes at most this many times promote on one host. */
  promoteScale: 3,
  /** Spawn → exit of a bundle that stops at input validation, under Node 24. */
  coldStartMs: 300,
} as const;

export interface Plan {
  switches: number;
  sshRoundTrips: number;
  /** Runs of each in-host nginx/curl step for the switch breakdown. */
  hostStepRuns: number;
  promoteHostCounts: number[];
  promoteRepeats: number;
  coldStartRuns: number;
  /** Traffic before the deploy and after the promote, so both edges are under load. */
  loadMarginMs: number;
}

export const FULL: Plan = {
  switches: 20,
  sshRoundTrips: 20,
  hostStepRuns: 10,
  promoteHostCounts: [1, 5, 20],
  promoteRepeats: 3,
  coldStartRuns: 10,
  loadMarginMs: 500,
};
export const QUICK: Plan = {
  switches: 6,
  sshRoundTrips: 6,
  hostStepRuns: 3,
  promoteHostCounts: [1, 5],
  promoteRepeats: 1,
  coldStartRuns: 3,
  loadMarginMs: 300,
};

export const MAX_PARALLEL = 20;
/** The blue-green action's defaults (action.yml): promote is measured as a user runs it. */
export const PROMOTE_DEFAULTS = { maxParallel: 10, drainSeconds: 10 };
export const TRAFFIC_CONCURRENCY = 8;
export const CANARY_PERCENT = 10;
export const RUN = { runId: `bench-${process.pid}`, actor: 'bench', runUrl: '' };

// ------------------------------------------------------------------------------------ figures

export interface Stats {
  n: number;
  median: number;
  p90: number;
  min: number;
  max: number;
}

export interface SwitchFigures {
  liveMs: Stats;
  /** Until no worker of the previous configuration takes a request (when setWeights returns). */
  settledMs: Stats;
  setWeightsWallMs: Stats;
  /** The same switches through the installed switch helper and sudo, as a deploy user runs them. */
  helperLiveMs: Stats;
  helperWallMs: Stats;
  sshRoundTripMs: Stats;
  /** The same round trip on a connection made the same way (node-ssh), but with TCP_NODELAY on its socket. */
  sshRoundTripNoDelayMs: Stats;
  /** Measured inside the host's shell with `date +%s%N`, so without SSH overhead. */
  inHost: { nginxTestMs: Stats; nginxReloadCommandMs: Stats; statusCurlMs: Stats };
}

export interface PromoteRun {
  version: string;
  durationMs: number;
  /** Slowest host's weights-written → live. */
  switchMs: number;
  /** Slowest host per step, by step kind. */
  stepsMs: Record<string, number>;
  deployMs: number;
}

export interface PromoteFigures {
  hosts: number;
  labStartMs: number;
  firstDeployMs: number;
  runs: PromoteRun[];
  durationMs: Stats;
  switchMs: Stats;
}

export interface ColdStartFigures {
  bundle: string;
  wallMs: Stats;
  exitCode: number;
}

/** The traffic's counts (summed over the clients), with the phases' times and the latency. */
export type LoadFigures = Pick<TrafficResult, 'ok' | 'non2xx' | 'resets' | 'retried' | 'failed' | 'byVersion'> & {
  deployMs: number;
  promoteMs: number;
  trafficMs: number;
  requests: number;
  perHost: Array<
    Pick<TrafficResult, 'byVersion' | 'resets' | 'failed' | 'non2xx'> & { host: string; requests: number }
  >;
  latencyMs: Stats;
};

export interface GoalCheck {
  section: string;
  figure: string;
  value: string;
  goal: string;
  met: boolean | null;
}

export interface Report {
  machine: {
    nproc: number;
    cpu: string;
    memoryGb: number;
    loadAverage: number[];
    node: string;
    node24: string;
    platform: string;
  };
  mode: 'full' | 'quick';
  startedAt: string;
  totalMs?: number;
  loadAverageAtEnd?: number[];
  switch?: SwitchFigures;
  promote: PromoteFigures[];
  coldStart?: { node24BareMs: Stats; bundles: ColdStartFigures[] };
  underLoad?: LoadFigures;
  goals: GoalCheck[];
  errors: Array<{ section: string; error: string }>;
}
