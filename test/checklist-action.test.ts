import { describe, expect, it } from 'vitest';
import { runAction } from './lab/run-action';

/** The checklist bundle as GitHub runs it: the needs context in, the ticked lists in the summary and outputs. */

const needs = {
  plan: { result: 'success', outputs: { kind: 'normal', gates: '["lint","typecheck","unit","integration","security-scan","load-test"]' } },
  gates: { result: 'success', outputs: {} },
  staging: { result: 'failure', outputs: {} },
  production: { result: 'skipped', outputs: {} },
  'post-deploy': { result: 'skipped', outputs: {} },
};

describe('checklist bundle', () => {
  it('ticks what the jobs proved and says why the rest is open; fails only when asked to', async () => {
    const result = await runAction({ action: 'checklist', inputs: { needs: JSON.stringify(needs), 'run-url': 'https://github.com/org/service/actions/runs/4242' } });
    expect(result.code).toBe(0);
    const items = JSON.parse(result.outputs.checklist!) as Array<{ item: string; state: string; because: string }>;
    expect(items.find((item) => item.item === 'All tests passed')).toMatchObject({ state: 'done' });
    expect(items.find((item) => item.item === 'Staging deployed')).toMatchObject({ state: 'not-done', because: 'staging job: failure' });
    expect(Number(result.outputs.unchecked)).toBe(items.filter((item) => item.state === 'not-done').length);
    expect(result.summary).toMatch(/^### Deployment procedure: 2 of \d+ checked by this run/);
    expect(result.summary).toContain('- [ ] Staging deployed — staging job: failure');

    const strict = await runAction({ action: 'checklist', inputs: { needs: JSON.stringify(needs), 'fail-on-unchecked': 'true' } });
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/::error::\d+ item\(s\) of the deployment procedure were not proved: Staging deployed/);
  });

  it('refuses a needs input that is not the needs context, naming the input', async () => {
    for (const value of ['', 'needs', '[1, 2]', '{"plan": 3}']) {
      const result = await runAction({ action: 'checklist', inputs: { needs: value } });
      expect(result.code, value).toBe(1);
      expect(result.stdout, value).toMatch(/::error::Input 'needs': /);
      expect(result.outputs).toEqual({});
    }
  });
});
