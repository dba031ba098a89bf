import { describe, expect, it } from 'vitest';
import { checklistSummary, procedureChecklist, type Needs } from '../src/pipeline';

const rules = (errorRate: number) =>
  JSON.stringify([{ name: 'error-rate', metric: 'error_rate', observed: errorRate, status: 'pass' }]);

/** The needs context of deploy.yml's checklist job after a good normal deploy. */
const good: Needs = {
  plan: {
    result: 'success',
    outputs: { kind: 'normal', gates: '["lint","typecheck","unit","integration","security-scan","load-test"]' },
  },
  gates: { result: 'success', outputs: {} },
  build: { result: 'success', outputs: { digest: 'sha256:abc' } },
  staging: { result: 'success', outputs: {} },
  production: {
    result: 'success',
    outputs: {
      'canary-percent': '10',
      verdict: 'success',
      reason: 'every rule passed',
      rules: rules(0.0004),
      promoted: 'true',
      'rolled-back': 'false',
      'deployment-id': '42',
      'incident-url': '',
    },
  },
  'post-deploy': { result: 'success', outputs: { health: 'success', notified: 'true' } },
};

const state = (needs: Needs, item: string) => procedureChecklist(needs).find((entry) => entry.item === item);

describe('the procedure checklists, ticked from the run', () => {
  it('ticks every item a good deploy proved, names its evidence, and leaves the rest to a person', () => {
    const items = procedureChecklist(good);
    expect(items.filter((item) => item.state === 'not-done')).toEqual([]);
    expect(items.filter((item) => item.state === 'person').map((item) => item.item)).toEqual(['Code review approved']);
    expect(state(good, 'All tests passed')).toMatchObject({
      state: 'done',
      because: 'gates job passed: lint, typecheck, unit, integration',
    });
    expect(state(good, 'Canary 10% validated')).toMatchObject({
      state: 'done',
      because: 'canary-monitor verdict: success',
    });
    expect(state(good, 'Error rate under 0.1%')).toMatchObject({
      state: 'done',
      because: 'canary error rate 0.04% during the analysis',
    });
    expect(state(good, 'Deployment logged')).toMatchObject({ state: 'done', because: 'GitHub deployment 42' });
    expect(items.filter((item) => item.list === 'When something goes wrong').map((item) => item.state)).toEqual([
      'not-applicable',
      'not-applicable',
      'not-applicable',
    ]);
    const summary = checklistSummary(items, 'https://github.com/o/r/actions/runs/7');
    expect(summary.split('\n')[0]).toBe('### Deployment procedure: 12 of 13 checked by this run');
    expect(summary).toContain('- [x] Staging deployed — staging job passed (deploy-staging)');
    expect(summary).toContain('- [ ] 🙋 Code review approved — no job can prove it: the pull request shows it');
    expect(summary).toContain('[this run](https://github.com/o/r/actions/runs/7)');
  });

  it('says why an item is open: a hotfix skips the scan, a failed canary is rolled back and its incident linked', () => {
    const bad: Needs = {
      ...good,
      plan: { result: 'success', outputs: { kind: 'hotfix', gates: '["lint","typecheck","unit"]' } },
      production: {
        result: 'failure',
        outputs: {
          'canary-percent': '10',
          verdict: 'failure',
          reason: 'error-rate: canary 22% errors over 40 requests > 1%',
          rules: rules(0.22),
          promoted: 'false',
          'rolled-back': 'true',
          'deployment-id': '43',
          'incident-url': 'https://github.com/o/r/issues/9',
        },
      },
      'post-deploy': { result: 'success', outputs: { health: 'success', notified: 'false' } },
    };
    expect(state(bad, 'Security scan clean')).toMatchObject({
      state: 'not-done',
      because: 'not run by this workflow (plan: hotfix)',
    });
    expect(state(bad, 'Canary 10% validated')).toMatchObject({
      state: 'not-done',
      because: 'canary-monitor verdict: failure (error-rate: canary 22% errors over 40 requests > 1%)',
    });
    expect(state(bad, 'Full rollout')).toMatchObject({ state: 'not-done' });
    expect(state(bad, 'Error rate under 0.1%')).toMatchObject({
      state: 'not-done',
      because: 'canary error rate 22% during the analysis',
    });
    expect(state(bad, 'Team notified')).toMatchObject({
      state: 'not-done',
      because: 'no SLACK_WEBHOOK_URL: nothing sent',
    });
    expect(state(bad, 'Rollback started')).toMatchObject({ state: 'done' });
    expect(state(bad, 'Incident created')).toMatchObject({ state: 'done', because: 'https://github.com/o/r/issues/9' });
    expect(state(bad, 'Post-mortem planned')).toMatchObject({ state: 'person' });
  });

  it('reads the promotion from its own job, with its approval, and a rejected one rolled back by end-canary', () => {
    const split: Needs = {
      ...good,
      production: { result: 'success', outputs: { ...good.production!.outputs, promoted: '' } },
      approve: { result: 'success', outputs: {} },
      promote: { result: 'success', outputs: { promoted: 'true', 'rolled-back': 'false', 'incident-url': '' } },
      'end-canary': { result: 'skipped', outputs: {} },
    };
    expect(state(split, 'Promotion approved')).toMatchObject({ state: 'done' });
    expect(state(split, 'Full rollout')).toMatchObject({ state: 'done' });
    const rejected: Needs = {
      ...split,
      approve: { result: 'failure', outputs: {} },
      promote: { result: 'skipped', outputs: {} },
      'end-canary': { result: 'success', outputs: { 'rolled-back': 'true' } },
    };
    expect(state(rejected, 'Promotion approved')).toMatchObject({ state: 'not-done', because: 'approval: failure' });
    expect(state(rejected, 'Full rollout')).toMatchObject({
      state: 'not-done',
      because: 'not promoted (promote job: skipped)',
    });
    expect(state(rejected, 'Rollback started')).toMatchObject({ state: 'done' });
  });

  it("reads hotfix.yml's critical-tests and model-deploy.yml's train jobs, and says there was no staging", () => {
    const { gates: _gates, staging: _staging, ...rest } = good;
    const hotfix: Needs = {
      ...rest,
      plan: { result: 'success', outputs: { kind: 'hotfix', gates: '["lint","typecheck","unit"]' } },
      'critical-tests': { result: 'success', outputs: {} },
    };
    expect(state(hotfix, 'All tests passed')).toMatchObject({
      state: 'done',
      because: 'critical-tests job passed: lint, typecheck, unit',
    });
    expect(state(hotfix, 'Staging deployed')).toMatchObject({
      state: 'not-done',
      because: 'this workflow has no staging job (plan: hotfix)',
    });
    const model: Needs = {
      ...rest,
      plan: { result: 'success', outputs: { kind: 'model', gates: '[]' } },
      train: { result: 'failure', outputs: {} },
    };
    expect(state(model, 'All tests passed')).toMatchObject({ state: 'not-done', because: 'train job: failure' });
  });

  it('never ticks from missing evidence: jobs that did not run leave their items open', () => {
    const items = procedureChecklist({ plan: { result: 'success', outputs: { kind: 'normal', gates: '["lint"]' } } });
    expect(items.filter((item) => item.state === 'done')).toEqual([]);
    expect(state({ staging: { result: 'skipped', outputs: {} } }, 'Staging deployed')).toMatchObject({
      state: 'not-done',
      because: 'staging job: skipped',
    });
    expect(state({}, 'Staging deployed')).toMatchObject({
      state: 'not-done',
      because: 'this workflow has no staging job (plan: unknown)',
    });
  });

  it("reads rollback.yml's rollback job: only the list for when something goes wrong, ticked from its outputs", () => {
    const done = procedureChecklist(
      {
        rollback: {
          result: 'success',
          outputs: {
            'rolled-back': 'true',
            noop: 'false',
            version: 'v1',
            'failed-version': 'v2',
            'restored-ms': '840',
            'incident-url': 'https://github.example/o/r/issues/7',
            notified: 'true',
          },
        },
      },
      { serverUrl: 'https://github.example' },
    );
    expect(done.map((item) => [item.list, item.item, item.state])).toEqual([
      ['When something goes wrong', 'Rollback started', 'done'],
      ['When something goes wrong', 'Incident created', 'done'],
      ['When something goes wrong', 'Team notified', 'done'],
      ['When something goes wrong', 'Post-mortem planned', 'person'],
    ]);
    expect(done[0]?.because).toBe('rolled back from v2 to v1, traffic back in 840 ms');
    expect(done[1]?.because).toBe('https://github.example/o/r/issues/7');
    const failed = procedureChecklist({
      rollback: { result: 'failure', outputs: { 'rolled-back': 'false', noop: 'false', notified: 'false' } },
    });
    expect(failed.map((item) => item.state)).toEqual(['not-done', 'not-done', 'not-done', 'person']);
    expect(failed[0]?.because).toBe('rollback job: failure');
    expect(failed[2]?.because).toBe('no SLACK_WEBHOOK_URL: nothing sent');
    const noop = procedureChecklist({
      rollback: { result: 'success', outputs: { 'rolled-back': 'false', noop: 'true', version: 'v1' } },
    });
    expect(noop[0]).toMatchObject({ state: 'done', because: 'nothing to do: v1 already served all traffic' });
  });
});
