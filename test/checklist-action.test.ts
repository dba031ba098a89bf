import { marked } from 'marked';
import { describe, expect, it } from 'vitest';
import { commandsIn } from '../packages/shared/test/support/runner-commands';
import { runAction } from './lab/run-action';

/** The checklist bundle as GitHub runs it: the needs context in, the ticked lists in the summary and outputs. */

const needs = {
  plan: {
    result: 'success',
    outputs: { kind: 'normal', gates: '["lint","typecheck","unit","integration","security-scan","load-test"]' },
  },
  gates: { result: 'success', outputs: {} },
  staging: { result: 'failure', outputs: {} },
  production: { result: 'skipped', outputs: {} },
  'post-deploy': { result: 'skipped', outputs: {} },
};

describe('checklist bundle', () => {
  it('ticks what the jobs proved and says why the rest is open; fails only when asked to', async () => {
    const result = await runAction({
      action: 'checklist',
      inputs: { needs: JSON.stringify(needs), 'run-url': 'https://github.com/org/service/actions/runs/4242' },
    });
    expect(result.code).toBe(0);
    const items = JSON.parse(result.outputs.checklist!) as Array<{ item: string; state: string; because: string }>;
    expect(items.find((item) => item.item === 'All tests passed')).toMatchObject({ state: 'done' });
    expect(items.find((item) => item.item === 'Staging deployed')).toMatchObject({
      state: 'not-done',
      because: 'staging job: failure',
    });
    expect(Number(result.outputs.unchecked)).toBe(items.filter((item) => item.state === 'not-done').length);
    expect(result.summary).toMatch(/^### Deployment procedure: 2 of \d+ checked by this run/);
    expect(result.summary).toContain('- [ ] Staging deployed — staging job: failure');

    const strict = await runAction({
      action: 'checklist',
      inputs: { needs: JSON.stringify(needs), 'fail-on-unchecked': 'true' },
    });
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(
      /::error::\d+ item\(s\) of the deployment procedure were not proved: Staging deployed/,
    );
  });

  it('refuses a needs input that is not the needs context, naming the input', async () => {
    for (const value of ['', 'needs', '[1, 2]', '{"plan": 3}']) {
      const result = await runAction({ action: 'checklist', inputs: { needs: value } });
      expect(result.code, value).toBe(1);
      expect(result.stdout, value).toMatch(/::error::Input 'needs': /);
      expect(result.outputs).toEqual({});
    }
  });

  it('reads hostile job outputs as data: one task per item, none ticked if malformed, no Markdown or command from them (security findings 9, 10)', async () => {
    const hostile =
      '::error::x\n\u0085::add-mask::x\n\u2028::stop-commands::x\nx ##[add-mask]y\n##[error]z\n\x1b[2K\rlock: free\n\x1b]0;title\x07\x9b31m @org/team [link](https://evil.example) ![img](https://evil.example/x.png)\n<!-- hide\n# heading\n- [x] fake\n| a | b |';
    const attack = {
      ...needs,
      staging: { result: 'success', outputs: {} },
      production: {
        result: 'failure',
        outputs: {
          'canary-percent': `10\n- [x] Fake done\n# Injected\n<!-- `,
          verdict: 'failure',
          reason: hostile,
          rules: '[]',
          promoted: 'false',
          'rolled-back': 'true',
          'rollback-version': hostile,
          'deployment-id': '42\n- [x] also done',
          'incident-url': 'https://evil.example/o/r/issues/1',
        },
      },
      'post-deploy': { result: 'success', outputs: { health: 'success', notified: hostile } },
    };
    const result = await runAction({
      action: 'checklist',
      inputs: { needs: JSON.stringify(attack), 'run-url': 'https://github.com/org/service/actions/runs/4242' },
    });
    expect(result.code).toBe(0);
    const items = JSON.parse(result.outputs.checklist!) as Array<{ item: string; state: string; because: string }>;
    const state = (name: string) => items.find((item) => item.item === name)?.state;
    for (const name of [
      'Canary validated',
      'Deployment logged',
      'Team notified',
      'Rollback started',
      'Incident created',
    ])
      expect(state(name), name).toBe('not-done');
    expect(items.find((item) => item.item === 'Incident created')?.because).toBe(
      "the production job's incident-url output is not an issue URL on https://github.com: 'https://evil.example/o/r/issues/1'",
    );
    // The summary as GitHub renders it: exactly one task per item, as many ticked as done, only the known headings and the run's link.
    const html = marked.parse(result.summary, { gfm: true, async: false });
    expect(html.match(/<li\b/g)).toHaveLength(items.length);
    expect(html.match(/<input checked=""/g) ?? []).toHaveLength(items.filter((item) => item.state === 'done').length);
    expect(html.match(/<h[1-6]>[^<]*/g)).toEqual([
      '<h3>Deployment procedure: 6 of 16 checked by this run',
      '<h4>Pre-deployment',
      '<h4>Deployment',
      '<h4>Post-deployment',
      '<h4>When something goes wrong',
    ]);
    expect(html.match(/<a\b[^>]*>/g)).toEqual(['<a href="https://github.com/org/service/actions/runs/4242">']);
    expect(html).not.toMatch(/<img\b|<!--|<table/);
    expect(result.summary.split('\n').filter((line) => /^\s*<|^#{1,2} /.test(line))).toEqual([]);
    expect(html.replace(/<[^>]*>/g, '')).not.toMatch(/(?:^|\W)@[A-Za-z0-9]/);
    // The log: no command but none, in either reading of the runner; no control character.
    expect(commandsIn(result.stdout)).toEqual([]);
    // eslint-disable-next-line no-control-regex
    expect(result.stdout).not.toMatch(/[\0-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]/);
  });
});
