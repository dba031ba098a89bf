import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { classify } from '@agent-loop/shared/pipeline';
import { jobsRun, leftOutText, SCENARIOS, type DemoScenario } from '../scripts/demo/scenarios';
import { cut, inlineText } from '../scripts/demo/terminal';

/**
 * The demo's scenarios against the workflows they stand for (no lab: the YAML only): each runs
 * steps its workflow has, in the workflow's order, with the inputs the workflow gives them, and
 * names every other job of the workflow as left out.
 */

interface WorkflowStep {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  needs?: string | string[];
  if?: string;
  steps?: WorkflowStep[];
}

function workflow(file: DemoScenario['workflow']): Record<string, Job> {
  return (
    parse(readFileSync(new URL(`../.github/workflows/${file}`, import.meta.url), 'utf8')) as {
      jobs: Record<string, Job>;
    }
  ).jobs;
}

/** Every job a job waits for, directly or not. */
function ancestors(jobs: Record<string, Job>, name: string): Set<string> {
  const seen = new Set<string>();
  const visit = (job: string): void => {
    const needs = jobs[job]?.needs;
    for (const need of typeof needs === 'string' ? [needs] : (needs ?? [])) {
      if (seen.has(need)) continue;
      seen.add(need);
      visit(need);
    }
  };
  visit(name);
  return seen;
}

/** The kind of plan a workflow deploys (its jobs go on only for it). */
const KIND: Record<DemoScenario['workflow'], string> = {
  'deploy.yml': 'normal',
  'model-deploy.yml': 'model',
  'hotfix.yml': 'hotfix',
};

describe('the demo scenarios', () => {
  it.each(SCENARIOS.map((scenario) => [`${scenario.workflow}: ${scenario.message}`, scenario] as const))(
    '%s takes the path its workflow takes',
    (_title, scenario) => {
      const jobs = workflow(scenario.workflow);
      // Every job of the workflow is run or left out with a reason, and only the workflow's jobs.
      const run = new Set(scenario.steps.map((step) => step.job));
      expect([...run, ...Object.keys(scenario.leftOut)].sort()).toEqual(Object.keys(jobs).sort());
      for (const why of Object.values(scenario.leftOut)) expect(why).not.toBe('');

      let previous: { job: string; index: number } | null = null;
      for (const step of scenario.steps) {
        const steps = jobs[step.job]?.steps ?? [];
        const index = steps.findIndex((candidate) =>
          step.uses !== undefined
            ? candidate.uses === `org/agent-loop-actions/${step.uses}@v1` &&
              Object.entries(step.with ?? {}).every(
                ([input, value]) => String(candidate.with?.[input] ?? (input === 'phase' ? 'deploy' : '')) === value,
              )
            : candidate.name === step.name && candidate.run !== undefined,
        );
        expect(
          index,
          `${scenario.workflow}: job ${step.job} has no step ${step.uses ?? step.name} with ${JSON.stringify(step.with ?? {})}`,
        ).toBeGreaterThanOrEqual(0);
        // In the workflow's order: a later step is in the same job further down, or in a job that does not come before.
        if (previous && previous.job === step.job)
          expect(index, `${step.job}: ${step.uses ?? step.name} after the step before it`).toBeGreaterThan(
            previous.index,
          );
        if (previous && previous.job !== step.job)
          expect(ancestors(jobs, previous.job).has(step.job), `${step.job} runs before ${previous.job}`).toBe(false);
        previous = { job: step.job, index };
      }

      // The push is the kind of event the workflow deploys.
      const sha = '1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
      const ref = `refs/heads/${scenario.branch}`;
      const plan = classify(
        {
          name: 'push',
          ref,
          sha,
          payload: {
            ref,
            after: sha,
            head_commit: { id: sha, message: scenario.message },
            commits: [{ id: sha, message: scenario.message }],
          },
        },
        {
          mainBranch: 'main',
          hotfixPrefix: 'hotfix/',
          modelMarker: '[train-model]',
          hotfixSkip: ['integration', 'load-test', 'security-scan'],
          imageRepository: 'registry.example/agent-loop',
        },
      );
      expect(plan.kind).toBe(KIND[scenario.workflow]);
    },
  );

  it('runs no staging for a hotfix or a model, as hotfix.yml and model-deploy.yml have none', () => {
    for (const scenario of SCENARIOS.filter((candidate) => candidate.workflow !== 'deploy.yml')) {
      expect(Object.keys(workflow(scenario.workflow))).not.toContain('staging');
      expect(scenario.steps.map((step) => step.uses)).not.toContain('deploy-staging');
    }
    const hotfix = SCENARIOS.find((scenario) => scenario.workflow === 'hotfix.yml')!;
    expect(jobsRun(hotfix)).toBe('plan → notify-start → production');
  });

  it('says jobs left out for the same reason together', () => {
    expect(
      leftOutText({ gates: 'no repository', build: 'no repository', approve: 'not asked', checklist: 'no repository' }),
    ).toBe('gates, build and checklist (no repository); approve (not asked)');
  });
});

describe("the demo's terminal text", () => {
  it('cuts a cell at the end of a word, with an ellipsis', () => {
    expect(cut('fail (canary 27.3% errors over 11 requests; sequential test: log-likelihood ratio 11.81)', 48)).toBe(
      'fail (canary 27.3% errors over 11 requests…',
    );
    expect(cut('push to main: "[train-model] retrain on last week\'s data"', 48)).toBe(
      'push to main: "[train-model] retrain on last…',
    );
    expect(cut('short', 48)).toBe('short');
    // A single long word is cut where it must.
    expect(cut('x'.repeat(60), 10)).toBe(`${'x'.repeat(9)}…`);
    for (const text of [
      'all 2 gates passed (error-rate 0% ≤ 1%; latency-p95 5 ms ≤ 2000 ms) over 10 s',
      'a b c d e f g h i j k l m n o p q r s t u v w x y z',
    ])
      expect(cut(text, 30).length).toBeLessThanOrEqual(30);
  });

  it('shows a link as its address and drops Markdown escapes', () => {
    expect(
      inlineText(
        '- **Incident:** [http\\://127.0.0.1:4000/org/service/issues/112](http://127.0.0.1:4000/org/service/issues/112)',
      ),
    ).toBe('- Incident: http://127.0.0.1:4000/org/service/issues/112');
    expect(inlineText('\\> 10 per week')).toBe('> 10 per week');
  });
});
