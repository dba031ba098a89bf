import { action, ConfigurationError } from '@agent-loop/shared/action';
import { field, readInputs, type InputReader } from '@agent-loop/shared/inputs';
import { checklistSummary, procedureChecklist, type Needs } from '@agent-loop/shared/pipeline';

export const Outputs = {
  Checklist: 'checklist',
  Unchecked: 'unchecked',
} as const;

export const inputFields = {
  needs: field.string({
    form: 'the needs context as JSON: ${{ toJSON(needs) }}',
    pattern: /^\s*\{[\s\S]*\}\s*$/,
    max: 1_000_000,
  }),
  'run-url': field.string({
    form: 'the URL of this run, e.g. ${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}',
    pattern: /^(https:\/\/[A-Za-z0-9.:-]+\/[A-Za-z0-9._~/-]*)?$/,
    max: 500,
  }),
  'fail-on-unchecked': field.boolean(false),
};

/** The `needs` context: an object of jobs, each with a result and string outputs. */
export function readNeeds(text: string): Needs {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigurationError("Input 'needs': is not JSON: pass ${{ toJSON(needs) }}");
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ConfigurationError("Input 'needs': expected an object of jobs: pass ${{ toJSON(needs) }}");
  const needs: Needs = {};
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!value || typeof value !== 'object')
      throw new ConfigurationError(
        `Input 'needs': job ${JSON.stringify(name.slice(0, 60))} is not an object with result and outputs`,
      );
    const { result, outputs } = value as { result?: unknown; outputs?: unknown };
    const strings =
      outputs && typeof outputs === 'object'
        ? Object.fromEntries(
            Object.entries(outputs as Record<string, unknown>).filter(
              (entry): entry is [string, string] => typeof entry[1] === 'string',
            ),
          )
        : {};
    needs[name] = { ...(typeof result === 'string' ? { result } : {}), outputs: strings };
  }
  return needs;
}

export async function run(read?: InputReader): Promise<void> {
  await action.runAction(async () => {
    const inputs = readInputs(inputFields, read);
    // An incident must be an issue on this GitHub server (GITHUB_SERVER_URL, github.com by default).
    const items = procedureChecklist(readNeeds(inputs.needs), {
      serverUrl: process.env.GITHUB_SERVER_URL || 'https://github.com',
    });
    const unchecked = items.filter((item) => item.state === 'not-done');
    for (const item of items)
      action.logger.info(
        `${item.state === 'done' ? '[x]' : item.state === 'not-applicable' ? '[-]' : '[ ]'} ${item.list}: ${item.item} — ${item.because}`,
      );
    action.setOutputs({ [Outputs.Checklist]: JSON.stringify(items), [Outputs.Unchecked]: unchecked.length });
    await action.writeSummary(checklistSummary(items, inputs['run-url']));
    if (inputs['fail-on-unchecked'] && unchecked.length > 0)
      throw new Error(
        `${unchecked.length} item(s) of the deployment procedure were not proved: ${unchecked.map((item) => item.item).join(', ')}`,
      );
  });
}
