import { readFileSync, statSync } from 'node:fs';
import { action, ConfigurationError } from '@agent-loop/shared/action';
import { field, readInputs, type InputReader } from '@agent-loop/shared/inputs';
import { BRANCH_NAME, classify, formatNumber, GATE_LIST, IMAGE_REPOSITORY, parseGateList, type GitHubEvent, type Plan, type PlanOptions } from '@agent-loop/shared/pipeline';
import { table } from '@agent-loop/shared/report';

export const Outputs = {
  Kind: 'kind',
  Environment: 'environment',
  Deploy: 'deploy',
  Version: 'version',
  ImageTag: 'image-tag',
  Image: 'image',
  Gates: 'gates',
  CanaryPercent: 'canary-percent',
  CanarySteps: 'canary-steps',
  CanaryDuration: 'canary-duration',
  ErrorThreshold: 'error-threshold',
  LatencyP95Ms: 'latency-p95-ms',
  Policy: 'policy',
  NotifyImmediately: 'notify-immediately',
  Model: 'model',
  Reason: 'reason',
} as const;

// No control characters: the marker is matched against commit messages, nothing else.
// eslint-disable-next-line no-control-regex
const MARKER = /^[^\0-\x1f\x7f]+$/;

export const inputFields = {
  'main-branch': field.string({ form: 'a branch name such as main', pattern: BRANCH_NAME, default: 'main', max: 255 }),
  'hotfix-prefix': field.string({ form: 'a branch-name prefix such as hotfix/', pattern: /^[A-Za-z0-9._/-]+$/, default: 'hotfix/', max: 100 }),
  'model-marker': field.string({ form: 'text such as [train-model] (no control characters)', pattern: MARKER, default: '[train-model]', max: 100 }),
  'hotfix-skip': field.string({ form: 'a comma-separated list of lint, typecheck, unit, integration, security-scan, load-test, or none', pattern: GATE_LIST, default: 'integration,load-test,security-scan', max: 200 }),
  'image-repository': field.string({ form: 'an image repository without a tag, such as ghcr.io/org/agent-loop', pattern: IMAGE_REPOSITORY, max: 255 }),
};

export function readSettings(read?: InputReader): PlanOptions {
  const inputs = readInputs(inputFields, read);
  return {
    mainBranch: inputs['main-branch'],
    hotfixPrefix: inputs['hotfix-prefix'],
    modelMarker: inputs['model-marker'],
    hotfixSkip: parseGateList(inputs['hotfix-skip']),
    imageRepository: inputs['image-repository'],
  };
}

const MAX_EVENT_BYTES = 64 * 1024 * 1024;

/** The event from the runner's variables. The payload is untrusted text: a parse error is reported without quoting it. */
export function readEvent(env: NodeJS.ProcessEnv = process.env): GitHubEvent {
  const path = env.GITHUB_EVENT_PATH;
  if (!path) throw new ConfigurationError('GITHUB_EVENT_PATH is not set: run this action in a GitHub Actions workflow');
  let payload: unknown;
  try {
    if (statSync(path).size > MAX_EVENT_BYTES) throw new Error('too large');
    payload = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new ConfigurationError('GITHUB_EVENT_PATH: the event payload is not a readable JSON file');
  }
  return { name: env.GITHUB_EVENT_NAME ?? '', payload, ref: env.GITHUB_REF ?? '', sha: env.GITHUB_SHA ?? '' };
}

function planSummary(plan: Plan): string {
  const title = plan.deploy ? `### 🚀 ${plan.kind} deploy of ${plan.version} to ${plan.environment}` : '### 🧪 Gates only: nothing deploys';
  const rows = [
    ['kind', plan.kind],
    ['deploy', plan.deploy ? `yes, to ${plan.environment}` : 'no'],
    ['version', plan.version],
    ...(plan.image ? [['image', plan.image]] : []),
    ['gates', plan.gates.join(', ')],
    ['canary', `${plan.canarySteps.join('% → ')}%, ${plan.canaryDurationSeconds} s${plan.canarySteps.length > 1 ? ' per step' : ''}`],
    ['limits', `error rate ≤ ${formatNumber(plan.errorThreshold * 100)}%, P95 ≤ ${plan.latencyP95Ms} ms`],
    ['notify at start', plan.notifyImmediately ? 'yes' : 'no'],
  ];
  return [title, '', `> ${plan.reason}`, '', table(['what', 'plan'], rows), ''].join('\n');
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const options = readSettings(read);
    const plan = classify(readEvent(), options);
    // Only the plan is logged: the commit message, titles and branch names never are.
    action.logger.info(`${plan.kind}: ${plan.reason}`);
    action.setOutputs({
      [Outputs.Kind]: plan.kind,
      [Outputs.Environment]: plan.environment,
      [Outputs.Deploy]: String(plan.deploy),
      [Outputs.Version]: plan.version,
      [Outputs.ImageTag]: plan.imageTag,
      [Outputs.Image]: plan.image,
      [Outputs.Gates]: JSON.stringify(plan.gates),
      [Outputs.CanaryPercent]: plan.canaryPercent,
      [Outputs.CanarySteps]: plan.canarySteps.join(','),
      [Outputs.CanaryDuration]: plan.canaryDurationSeconds,
      [Outputs.ErrorThreshold]: plan.errorThreshold,
      [Outputs.LatencyP95Ms]: plan.latencyP95Ms,
      [Outputs.Policy]: plan.policy,
      [Outputs.NotifyImmediately]: String(plan.notifyImmediately),
      [Outputs.Model]: String(plan.model),
      [Outputs.Reason]: plan.reason,
    });
    await action.writeSummary(planSummary(plan));
  });
}
