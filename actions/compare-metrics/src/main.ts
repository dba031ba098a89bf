import { action } from '@agent-loop/shared/action';
import { field, readInputs, type InputReader } from '@agent-loop/shared/inputs';
import {
  compareMetrics,
  comparisonSummary,
  failureMessage,
  metricRulesSchema,
  readMetricsFile,
  RULES_FORM,
  WORKSPACE_PATH,
} from '@agent-loop/shared/pipeline';

export const Outputs = {
  Passed: 'passed',
  Report: 'report',
} as const;

const REPORT_PATH = {
  form: 'the path of a JSON metrics report relative to the workspace, without ..',
  pattern: WORKSPACE_PATH,
  required: true,
  max: 512,
};

export const inputFields = {
  candidate: field.string(REPORT_PATH),
  baseline: field.string(REPORT_PATH),
  rules: field.yaml(metricRulesSchema, { form: RULES_FORM, default: '' }),
  'fail-on-missing': field.boolean(true),
};

export function readSettings(read?: InputReader) {
  return readInputs(inputFields, read);
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const inputs = readSettings(read);
    const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd();
    const candidate = readMetricsFile(workspace, inputs.candidate, 'candidate');
    const baseline = readMetricsFile(workspace, inputs.baseline, 'baseline');
    const result = compareMetrics(candidate, baseline, inputs.rules, { failOnMissing: inputs['fail-on-missing'] });
    for (const metric of result.metrics)
      action.logger.info(`${metric.metric}: ${metric.verdict}${metric.detail ? ` (${metric.detail})` : ''}`);
    action.setOutputs({
      [Outputs.Passed]: String(result.passed),
      [Outputs.Report]: JSON.stringify(result.metrics),
    });
    await action.writeSummary(comparisonSummary(result));
    if (!result.passed) throw new Error(failureMessage(result));
  });
}
