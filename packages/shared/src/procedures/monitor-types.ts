import type { AnalysisResult, Policy, Sample, Verdict } from '../analysis';
import type { SourceOptions } from '../analysis/sources';
import type { SessionSettings } from '../fleet';
import type { RollbackResult, RollbackSettings } from '../rollback';
import type { Color } from '../domain';
import type { RolloutEvent } from './events';

/** What the canary monitor is given (`monitor.ts`) and what it answers. */

export interface MonitorSettings extends SessionSettings {
  policy: Policy;
  mode: 'canary' | 'ramp' | 'post-promotion';
  /** Ramp: the canary's share at each step, e.g. [10, 25, 50, 100]; each step is watched for the policy's duration. */
  steps: number[];
  model: boolean;
  /** The metric sources, by their registered names (analysis/sources/registry.ts). */
  sources: string[];
  prometheus: SourceOptions['prometheus'];
  healthPath: string;
  probePath: string;
  probeRequests: number;
  memory: SourceOptions['memory'];
  autoRollback: boolean;
  rollbackOn: Verdict[];
  rollback: Omit<RollbackSettings, keyof SessionSettings | 'target'>;
  onSample?: (sample: Sample, result: AnalysisResult, step: number) => void;
  /** An event at each step (weight advanced, analysis extended, halted, rolled back); awaited. */
  onEvent?: (event: RolloutEvent) => Promise<void> | void;
}

export interface StepOutcome {
  percent: number | null;
  analysis: AnalysisResult;
}

/** `aborted`: stopped before a decision, because a rollback asked for the lock or the run was cancelled. */
export type MonitorVerdict = Verdict | 'aborted';

export interface MonitorResult {
  verdict: MonitorVerdict;
  reason: string;
  analysis: AnalysisResult;
  steps: StepOutcome[];
  canaryColor: Color;
  stableColor: Color;
  canaryVersion: string | null;
  stableVersion: string | null;
  rollback: RollbackResult | null;
  /** From the decision to traffic restored, when rolled back. */
  rollbackMs: number | null;
  /** With the nginx-log source: the logs read, and how many of their lines were not counted. */
  accessLog?: AccessLogReading;
}

/** What the nginx-log source read: the logs, the lines skipped, and of those the lines not in the agent_loop format. */
export interface AccessLogReading {
  logs: Array<{ host: string; path: string }>;
  skipped: number;
  unformatted: number;
}

/** The colors and versions a monitor watches, as the first host's state gives them (every host agrees). */
export interface Watched {
  canaryColor: Color;
  stableColor: Color;
  canaryVersion: string | null;
  stableVersion: string | null;
  /** The colors that run: the stable one too, unless a post-promotion watch finds it stopped. */
  running: Color[];
  versions: Partial<Record<Color, string>>;
}
