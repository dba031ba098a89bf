/**
 * An event at each step of a rollout, as Flagger users get them: the canary started, its weight
 * advanced, the analysis extended (and why), halted (the rule and its figures), rolled back (to
 * what, how long traffic took to come back), promoted. The monitor and a deploy's lifecycle say
 * them; report/events.ts tells them (log, Slack, the GitHub deployment).
 */
export type RolloutEventKind =
  | 'canary-started'
  | 'weight-advanced'
  | 'held'
  | 'analysis-extended'
  | 'halted'
  | 'rolled-back'
  | 'rollback-failed'
  | 'promoted';

export interface RolloutEvent {
  kind: RolloutEventKind;
  /** One line, figures included: "weight advanced to 50% (step 2 of 3) on 2 hosts". */
  message: string;
}
