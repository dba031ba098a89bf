import { ConfigurationError, table } from '../action';
import { formatNumber } from './compare';
import { COMMIT_SHA, decideKind, type GitHubEvent } from './event';
import { GATES, type Gate, type PlanKind, type PlanOptions } from './plan-options';

/**
 * The plan (pure): what the pipeline does for a kind of run — gates, canary shape, thresholds and
 * the canary-monitor policy. Every field of a Plan comes from a fixed vocabulary, from the options
 * (the workflow author's inputs), or from the event's decision (event.ts).
 */

export interface Plan {
  kind: PlanKind;
  /** Where a deploy goes; `none` when nothing deploys. */
  environment: 'production' | 'none';
  deploy: boolean;
  /** The tag for a release (`v1.2.3`, `v1.2.3-rc.1`), else `sha-<7 hex>`. */
  version: string;
  imageTag: string;
  /** `<imageRepository>:<imageTag>`, or '' without an image repository. */
  image: string;
  /** Gates to run, in order. */
  gates: Gate[];
  /** Share of traffic the canary starts with. */
  canaryPercent: number;
  /** Canary shares in order (a ramp for model deploys). */
  canarySteps: number[];
  /** Seconds of canary analysis (per step). */
  canaryDurationSeconds: number;
  /** Highest error ratio the canary may show. */
  errorThreshold: number;
  /** Highest P95 latency the canary may show, in ms. */
  latencyP95Ms: number;
  /** A canary-monitor policy (YAML) built from the figures above; `parsePolicy` accepts it. */
  policy: string;
  /** Tell people at the start, not only at the end (hotfixes). */
  notifyImmediately: boolean;
  model: boolean;
  /** Why, in a sentence from `REASONS`: never the commit message or a branch name. */
  reason: string;
}

interface Figures {
  canarySteps: number[];
  canaryDurationSeconds: number;
  errorThreshold: number;
  latencyP95Ms: number;
}

/** The procedure's canary figures; a hotfix is watched twice as long against tighter limits. */
const FIGURES: Record<PlanKind, Figures> = {
  normal: { canarySteps: [10], canaryDurationSeconds: 300, errorThreshold: 0.01, latencyP95Ms: 2000 },
  release: { canarySteps: [10], canaryDurationSeconds: 300, errorThreshold: 0.01, latencyP95Ms: 2000 },
  model: { canarySteps: [10, 25, 50, 100], canaryDurationSeconds: 300, errorThreshold: 0.01, latencyP95Ms: 2000 },
  hotfix: { canarySteps: [10], canaryDurationSeconds: 600, errorThreshold: 0.005, latencyP95Ms: 1500 },
  none: { canarySteps: [10], canaryDurationSeconds: 300, errorThreshold: 0.01, latencyP95Ms: 2000 },
};

// ------------------------------------------------------------------------------------ plan

/** A canary-monitor policy holding the plan's figures; the rules it names override the defaults of the same name. */
export function planPolicy(kind: PlanKind, figures: Omit<Figures, 'canarySteps'>): string {
  return [
    `# Canary analysis policy for a ${kind} deploy (from the plan action).`,
    `duration: ${figures.canaryDurationSeconds}`,
    'rules:',
    `  - { name: error-rate, metric: error_rate, max: ${figures.errorThreshold}, kind: gate }`,
    `  - { name: latency-p95, metric: p95_ms, max: ${figures.latencyP95Ms}, kind: gate }`,
    `  - { name: error-rate-sustained, metric: error_rate, max: ${figures.errorThreshold}, window: 30, for: 120, kind: trigger }`,
    '',
  ].join('\n');
}

/** Classifies the event and builds the plan. Throws ConfigurationError for a GITHUB_SHA that is not a commit sha or a bad workflow_dispatch kind. */
export function classify(event: GitHubEvent, options: PlanOptions): Plan {
  const decision = decideKind(event, options);
  const sha = decision.sha ?? event.sha.toLowerCase();
  if (!COMMIT_SHA.test(sha)) throw new ConfigurationError('GITHUB_SHA: expected a 40-character hexadecimal commit sha');
  const { kind } = decision;
  const version = decision.tag ?? `sha-${sha.slice(0, 7)}`;
  const figures = FIGURES[kind];
  const deploy = kind !== 'none';
  const skipped: readonly Gate[] = kind === 'hotfix' ? options.hotfixSkip : [];
  return {
    kind,
    environment: deploy ? 'production' : 'none',
    deploy,
    version,
    imageTag: version,
    image: options.imageRepository ? `${options.imageRepository}:${version}` : '',
    gates: GATES.filter((gate) => !skipped.includes(gate)),
    canaryPercent: figures.canarySteps[0] ?? 10,
    canarySteps: [...figures.canarySteps],
    canaryDurationSeconds: figures.canaryDurationSeconds,
    errorThreshold: figures.errorThreshold,
    latencyP95Ms: figures.latencyP95Ms,
    policy: planPolicy(kind, figures),
    notifyImmediately: kind === 'hotfix',
    model: kind === 'model',
    reason: decision.reason,
  };
}

/** The plan as the step summary shows it: the title says what deploys where, a table says how. */
export function planSummary(plan: Plan): string {
  const title = plan.deploy
    ? `### 🚀 ${plan.kind} deploy of ${plan.version} to ${plan.environment}`
    : '### 🧪 Gates only: nothing deploys';
  const rows = [
    ['kind', plan.kind],
    ['deploy', plan.deploy ? `yes, to ${plan.environment}` : 'no'],
    ['version', plan.version],
    ...(plan.image ? [['image', plan.image]] : []),
    ['gates', plan.gates.join(', ')],
    [
      'canary',
      `${plan.canarySteps.join('% → ')}%, ${plan.canaryDurationSeconds} s${plan.canarySteps.length > 1 ? ' per step' : ''}`,
    ],
    ['limits', `error rate ≤ ${formatNumber(plan.errorThreshold * 100)}%, P95 ≤ ${plan.latencyP95Ms} ms`],
    ['notify at start', plan.notifyImmediately ? 'yes' : 'no'],
  ];
  return [title, '', `> ${plan.reason}`, '', table(['what', 'plan'], rows), ''].join('\n');
}
