import { action } from '@agent-loop/shared/action';
import { field, readInputs, type InputReader } from '@agent-loop/shared/inputs';
import {
  BRANCH_NAME,
  classify,
  GATE_LIST,
  IMAGE_REPOSITORY,
  parseGateList,
  planSummary,
  readEvent,
  type PlanOptions,
} from '@agent-loop/shared/pipeline';

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
  'hotfix-prefix': field.string({
    form: 'a branch-name prefix such as hotfix/',
    pattern: /^[A-Za-z0-9._/-]+$/,
    default: 'hotfix/',
    max: 100,
  }),
  'model-marker': field.string({
    form: 'text such as [train-model] (no control characters)',
    pattern: MARKER,
    default: '[train-model]',
    max: 100,
  }),
  'hotfix-skip': field.string({
    form: 'a comma-separated list of lint, typecheck, unit, integration, security-scan, load-test, or none',
    pattern: GATE_LIST,
    default: 'integration,load-test,security-scan',
    max: 200,
  }),
  'image-repository': field.string({
    form: 'an image repository without a tag, such as ghcr.io/org/agent-loop',
    pattern: IMAGE_REPOSITORY,
    max: 255,
  }),
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
