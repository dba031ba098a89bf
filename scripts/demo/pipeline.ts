import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Lab } from '../../test/lab/index';
import { startAction, type RunActionResult } from '../../test/lab/run-action';
import type { TrafficResult } from '../../test/lab/traffic';
import type { FakeGitHub } from '../../test/support/fake-github';
import { push, verbose, type Event, type Run } from './context';
import { annotation, say, stories } from './output';
import { jobsRun, leftOutText, type DemoScenario } from './scenarios';
import { runStep } from './steps';

export class Pipeline {
  constructor(
    readonly production: Lab,
    readonly staging: Lab,
    readonly github: FakeGitHub,
    readonly slackUrl: string,
    readonly workspace: string,
  ) {}

  /**
   * Runs one action's bundle with only the inputs it declares, as the runner does, labelled with
   * the environment it acts on; its annotations (the events of each step) are printed as they come.
   */
  async act(
    action: string,
    inputs: Record<string, string>,
    event: Event,
    expectCode = 0,
    where: 'pipeline' | 'staging' | 'production' = 'pipeline',
  ): Promise<RunActionResult> {
    const declared = Object.keys(
      (
        parse(readFileSync(new URL(`../../actions/${action}/action.yml`, import.meta.url), 'utf8')) as {
          inputs: Record<string, unknown>;
        }
      ).inputs,
    );
    const given = Object.fromEntries(Object.entries(inputs).filter(([name]) => declared.includes(name)));
    const started = Date.now();
    const running = await startAction({
      action,
      inputs: given,
      event: event.payload,
      // The stand-in is GitHub's web site too: the run and incident links lead to it.
      env: {
        GITHUB_API_URL: this.github.url,
        GITHUB_SERVER_URL: this.github.url,
        GITHUB_EVENT_NAME: event.name,
        GITHUB_REF: event.ref,
        GITHUB_SHA: event.sha,
        GITHUB_WORKSPACE: this.workspace,
      },
      timeoutMs: 180_000,
    });
    let shown = 0;
    const follow = (all = false): void => {
      const lines = running.output().split('\n');
      const upTo = all ? lines.length : lines.length - 1;
      for (const line of lines.slice(shown, upTo)) {
        const said = annotation(line);
        if (said) console.log(`      ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s  ${said}`);
      }
      shown = Math.max(shown, upTo);
    };
    const timer = setInterval(follow, 250);
    const result = await running.result.finally(() => clearInterval(timer));
    follow(true);
    const firstLine =
      result.summary
        .split('\n')
        .find((line) => line.startsWith('#'))
        ?.replace(/^#+\s*/, '') ?? '';
    console.log(
      `  ${`[${where}]`.padEnd(13)} ${action.padEnd(15)} exit ${result.code}  ${String(Date.now() - started).padStart(6)} ms  ${firstLine}`,
    );
    if (verbose) console.log(`\n${result.summary}\n`);
    if (result.code !== expectCode) {
      console.log(result.stdout);
      throw new Error(`${action}: exit ${result.code}, expected ${expectCode}`);
    }
    return result;
  }

  /** One scenario: the steps of its workflow that the demo runs, in order. */
  async run(number: number, scenario: DemoScenario, sha: string): Promise<TrafficResult[]> {
    const title = `push to ${scenario.branch}: "${scenario.message}"`;
    say(
      `▶ ${number}. ${title}${scenario.canary === 'healthy' ? '' : ` (its canary ${scenario.canary} in production)`}`,
    );
    console.log(`    ${scenario.workflow}: ${jobsRun(scenario)}`);
    console.log(`    not run here: ${leftOutText(scenario.leftOut)}`);
    const began = Date.now();
    const run: Run = {
      event: push(scenario.branch, scenario.message, sha),
      plan: {},
      deploymentId: '',
      traffic: [],
      monitor: {},
    };
    for (const step of scenario.steps) {
      if (step.note) console.log(`    ${step.job}: ${step.note}`);
      await runStep(this, step, scenario, run);
    }
    const rolledBack = run.monitor['rolled-back'] === 'true';
    const outcome = rolledBack
      ? `rolled back in ${((Number(run.monitor['rollback-ms']) || 0) / 1000).toFixed(1)} s (decided in ${run.monitor['detect-seconds']} s)`
      : scenario.workflow === 'model-deploy.yml'
        ? 'ramped and promoted'
        : 'promoted';
    stories.push({
      scenario: `${title}${scenario.canary === 'healthy' ? '' : ' (bad canary)'}`,
      version: run.plan.version ?? '?',
      verdict: run.monitor.verdict ?? '?',
      outcome,
      ms: Date.now() - began,
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    return Promise.all(run.traffic.map((t) => t.stop()));
  }
}
