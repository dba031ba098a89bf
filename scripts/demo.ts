// `npm run demo`: the pipeline on this machine, each scenario on the path its reusable workflow
// takes (deploy.yml, model-deploy.yml, hotfix.yml), with every action run from its bundle under
// Node 24 the way GitHub's runner runs it.
//
// The lab: 2 production hosts and 1 staging host, each a real sshd + nginx on 127.0.0.1 with app
// processes playing the Agent Loop service; a local GitHub API that keeps deployments, statuses and
// issues (and serves the pages its links lead to); a local Slack webhook. Then, as listed in
// scripts/demo/scenarios.ts (held to the workflows by test/demo-scenarios.test.ts):
//   1. a push to main (deploy.yml): plan → staging (deploy, smoke, short load test) → 10% canary →
//      canary-monitor → promote;
//   2. a bad release (deploy.yml): staging passes, its production canary answers 20% errors; the
//      monitor fails it early and rolls back on its own, opening an incident;
//   3. a `[train-model]` commit (model-deploy.yml): compare-metrics (A/B) → canary at 10% → ramp
//      25 → 50 → 100 → promote, no staging;
//   4. a hotfix branch (hotfix.yml): Slack at once, no staging, a canary watched against the
//      plan's tighter limits, a critical incident if it failed;
//   5. the DORA figures of what the demo did, read back from the GitHub API by dora-report.
// Each canary window is shortened (the workflows' canary-duration input), and the demo says so.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startLab, type Lab } from '../test/lab/index';
import { startAction, type RunActionResult } from '../test/lab/run-action';
import { startTraffic, type TrafficResult } from '../test/lab/traffic';
import { blueGreenLabInputs } from '../test/support/deploy-settings';
import { startFakeGitHub, type FakeGitHub } from '../test/support/fake-github';
import { startRecorder } from '../test/support/recorder';
import { jobsRun, leftOutText, SCENARIOS, type DemoScenario, type DemoStep } from './demo/scenarios';
import { cut, terminalMarkdown } from './demo/terminal';

const verbose = process.argv.includes('--verbose');
const TOKEN = 'ghs_demoTokenNotARealOne';
/** The run every action reports (GITHUB_RUN_ID of the lab's runner), as a link on the GitHub stand-in. */
const RUN_PATH = '/org/service/actions/runs/4242';
/** The staging load test, shortened as the canary windows are. */
const LOAD_SECONDS = 5;

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m${text}\x1b[0m\n`);
}

/** An annotation the bundle printed, decoded as the runner shows it: "notice: …". */
function annotation(line: string): string | null {
  const match = /^::(notice|warning|error)::(.*)$/.exec(line);
  return match ? `${match[1]}: ${match[2]!.replaceAll('%0D', '').replaceAll('%0A', ' ').replaceAll('%25', '%')}` : null;
}

/** What each scenario did, for the closing table. */
interface Story {
  scenario: string;
  version: string;
  verdict: string;
  outcome: string;
  ms: number;
}
const stories: Story[] = [];

function hostInputs(lab: Lab): Record<string, string> {
  // Every demo request comes from 127.0.0.1: split per request (as the lab inputs do), not per client address.
  return blueGreenLabInputs(lab, { 'drain-seconds': '1', memory: 'none' });
}

interface Event {
  name: string;
  ref: string;
  sha: string;
  payload: unknown;
}

function push(branch: string, message: string, sha: string): Event {
  const timestamp = new Date(Date.now() - 45 * 60_000).toISOString();
  return {
    name: 'push',
    ref: `refs/heads/${branch}`,
    sha,
    payload: {
      ref: `refs/heads/${branch}`,
      after: sha,
      head_commit: { id: sha, message, timestamp },
      commits: [{ id: sha, message }],
      repository: { full_name: 'org/service', default_branch: 'main' },
    },
  };
}

/** What the steps before it left for a step of a scenario. */
interface Run {
  event: Event;
  plan: Record<string, string>;
  deploymentId: string;
  traffic: Array<ReturnType<typeof startTraffic>>;
  monitor: Record<string, string>;
}

class Pipeline {
  constructor(
    private readonly production: Lab,
    private readonly staging: Lab,
    private readonly github: FakeGitHub,
    private readonly slackUrl: string,
    private readonly workspace: string,
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
        parse(readFileSync(new URL(`../actions/${action}/action.yml`, import.meta.url), 'utf8')) as {
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
      await this.step(step, scenario, run);
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

  private async step(step: DemoStep, scenario: DemoScenario, run: Run): Promise<void> {
    const { plan, event } = run;
    switch (step.uses ?? step.name) {
      case 'plan': {
        Object.assign(
          plan,
          (await this.act('plan', { 'image-repository': 'registry.example/agent-loop' }, event)).outputs,
        );
        console.log(
          `    plan: kind ${plan.kind}, version ${plan.version}, gates ${plan.gates}, ` +
            `canary ${plan['canary-steps']}% for ${plan['canary-duration']} s, ` +
            `error ≤ ${Number(plan['error-threshold']) * 100}%, P95 ≤ ${plan['latency-p95-ms']} ms` +
            (plan['notify-immediately'] === 'true' ? ', notify at once' : ''),
        );
        const upTo = scenario.canary === 'healthy' ? '' : 'up to ';
        console.log(
          `    shortened for the demo: each canary window is watched ${upTo}${scenario.canarySeconds} s, ` +
            `not ${plan['canary-duration']} s (the workflow's canary-duration input), sampled every second`,
        );
        if (scenario.canary === 'answers 20% errors') await this.production.setKnobs(plan.version!, { errorRate: 0.2 });
        return;
      }
      case 'Hotfix started': {
        // hotfix.yml's notify-start job, which runs only when the plan asks for it: the same text to Slack.
        if (plan['notify-immediately'] !== 'true') return;
        const text =
          `:rotating_light: Hotfix ${this.production.app} ${plan.version} started: ` +
          'critical tests only (skipped: integration,load-test,security-scan), ' +
          `then a canary watched for ${scenario.canarySeconds}s ` +
          `(error rate <= ${plan['error-threshold']}, P95 <= ${plan['latency-p95-ms']} ms). ${this.github.url}${RUN_PATH}`;
        const response = await fetch(this.slackUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text }),
        });
        console.log(`  ${'[pipeline]'.padEnd(13)} ${'notify-start'.padEnd(15)} Slack ${response.status}: "${text}"`);
        return;
      }
      case 'compare-metrics': {
        writeFileSync(
          join(this.workspace, 'candidate.json'),
          JSON.stringify({ eval: { accuracy: 0.913, latency_p95_ms: 840 }, drift: 0.03 }),
        );
        writeFileSync(
          join(this.workspace, 'current.json'),
          JSON.stringify({ eval: { accuracy: 0.902, latency_p95_ms: 870 }, drift: 0.05 }),
        );
        await this.act(
          'compare-metrics',
          {
            candidate: 'candidate.json',
            baseline: 'current.json',
            rules:
              '- { metric: eval.accuracy, direction: higher-is-better, max-regression: 0.005 }\n' +
              '- { metric: eval.latency_p95_ms, direction: lower-is-better, max-regression-percent: 10 }\n' +
              '- { metric: drift, max: 0.1 }',
          },
          event,
        );
        return;
      }
      case 'deploy-staging': {
        const gates = JSON.parse(plan.gates!) as string[];
        await this.act(
          'deploy-staging',
          {
            ...hostInputs(this.staging),
            method: 'ssh-compose',
            'base-url': this.staging.hosts[0]!.proxyUrl,
            image: plan.image!,
            version: plan.version!,
            'smoke-repeat': '3',
            'load-rate-per-minute': '600',
            'load-duration-seconds': gates.includes('load-test') ? String(LOAD_SECONDS) : '0',
            'load-connections': '4',
          },
          event,
          0,
          'staging',
        );
        if (gates.includes('load-test'))
          console.log(
            `    shortened for the demo: the staging load test ran ${LOAD_SECONDS} s (the workflow's load-duration-seconds, 300 s by default)`,
          );
        return;
      }
      case 'blue-green': {
        if (step.with?.phase === 'promote') {
          await this.act(
            'blue-green',
            {
              ...hostInputs(this.production),
              phase: 'promote',
              version: plan.version!,
              'github-token': TOKEN,
              'deployment-id': run.deploymentId,
              environment: 'production',
              'slack-webhook-url': this.slackUrl,
            },
            event,
            0,
            'production',
          );
          return;
        }
        const commitTime = (event.payload as { head_commit: { timestamp: string } }).head_commit.timestamp;
        const deployed = await this.act(
          'blue-green',
          {
            ...hostInputs(this.production),
            image: plan.image!,
            version: plan.version!,
            'canary-percent': plan['canary-percent']!,
            'smoke-requests': '[]',
            'github-token': TOKEN,
            'commit-time': commitTime,
            environment: 'production',
            'slack-webhook-url': this.slackUrl,
          },
          event,
          0,
          'production',
        );
        run.deploymentId = deployed.outputs['deployment-id'] ?? '';
        run.traffic = this.production.hosts.map((host) =>
          startTraffic({ url: host.proxyUrl, concurrency: 4, durationMs: 58_000, ratePerSecond: 60 }),
        );
        return;
      }
      case 'canary-monitor': {
        const bad = scenario.canary !== 'healthy';
        const monitor = await this.act(
          'canary-monitor',
          {
            ...hostInputs(this.production),
            ...step.with,
            steps: plan['canary-steps']!,
            policy: plan.policy!,
            duration: String(scenario.canarySeconds),
            interval: '1',
            'github-token': TOKEN,
            'failed-deployment-id': run.deploymentId,
            'slack-webhook-url': this.slackUrl,
            environment: 'production',
          },
          event,
          bad ? 1 : 0,
          'production',
        );
        run.monitor = monitor.outputs;
        // A passed canary: its verdict and steps; a failed one: the whole summary an on-call engineer opens.
        if (!verbose) console.log(terminalMarkdown(monitor.summary, bad ? {} : { upTo: '| rule |' }));
        return;
      }
      default:
        throw new Error(`the demo does not run ${step.uses ?? step.name ?? '?'} (${step.job})`);
    }
  }
}

async function main(): Promise<void> {
  say(
    'Starting the lab: 2 production hosts and 1 staging host (each its own sshd and nginx), a local GitHub API and Slack',
  );
  const production = await startLab({ hosts: 2 });
  const staging = await startLab({ hosts: 1 });
  const github = await startFakeGitHub({ web: true });
  const slack = await startRecorder();
  const workspace = mkdtempSync(join(tmpdir(), 'al-demo-workspace-'));
  try {
    for (const host of production.hosts)
      console.log(`  production ${host.name}: ssh ${host.target}, nginx ${host.proxyUrl}`);
    console.log(`  staging: ssh ${staging.hosts[0]!.target}, nginx ${staging.hosts[0]!.proxyUrl}`);
    console.log(`  GitHub (API and web pages): ${github.url}`);
    const pipeline = new Pipeline(production, staging, github, `${slack.url}/services/T0/B0/demo`, workspace);

    say('▶ What runs in production today: v1, deployed before the demo');
    const first = push('main', 'initial release', '0000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    await pipeline.act(
      'blue-green',
      { ...hostInputs(production), image: 'registry.example/agent-loop:v1', version: 'v1' },
      first,
      0,
      'production',
    );
    await pipeline.act(
      'blue-green',
      { ...hostInputs(staging), image: 'registry.example/agent-loop:v1', version: 'v1' },
      first,
      0,
      'staging',
    );
    await production.enableSite();
    await staging.enableSite();

    const seen: TrafficResult[] = [];
    const shas = [
      '1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
      '3333333ccccccccccccccccccccccccccccccccc',
      '4444444ddddddddddddddddddddddddddddddddd',
    ];
    for (const [index, scenario] of SCENARIOS.entries())
      seen.push(...(await pipeline.run(index + 1, scenario, shas[index]!)));

    say(`▶ ${SCENARIOS.length + 1}. DORA figures of what the demo did, read back from the GitHub Deployments API`);
    const dora = await pipeline.act(
      'dora-report',
      { 'github-token': TOKEN, app: production.app, environment: 'production', days: '30' },
      first,
    );
    console.log(terminalMarkdown(dora.summary));
    console.log(
      `    GitHub now holds ${github.deployments.length} deployments and ${github.issues.length} incident issue(s): ` +
        `${github.issues.map((issue) => `"${issue.title}"`).join(', ')}; Slack received ${slack.requests.length} messages.`,
    );
    for (const issue of github.issues) {
      const url = `${github.url}/org/service/issues/${issue.number}`;
      const page = await fetch(url);
      console.log(
        `    The incident's link leads to the stand-in: ${url} (HTTP ${page.status}: ${(await page.text()).split('\n')[0]})`,
      );
    }

    const total = seen.reduce((sum, r) => sum + r.sent, 0);
    const failed = seen.reduce((sum, r) => sum + r.failed, 0);
    const errorsBy: Record<string, number> = {};
    for (const r of seen)
      for (const entry of r.timeline)
        if (entry.status < 200 || entry.status >= 300) errorsBy[entry.version] = (errorsBy[entry.version] ?? 0) + 1;
    say('What happened');
    console.log(
      `    ${'scenario'.padEnd(48)}  ${'version'.padEnd(15)}  ${'verdict'.padEnd(8)}  ${'outcome'.padEnd(40)}  time`,
    );
    for (const story of stories)
      console.log(
        `    ${cut(story.scenario, 48).padEnd(48)}  ${story.version.padEnd(15)}  ${story.verdict.padEnd(8)}  ` +
          `${cut(story.outcome, 40).padEnd(40)}  ${(story.ms / 1000).toFixed(1)} s`,
      );
    const bad = SCENARIOS.flatMap((scenario, index) =>
      scenario.canary === 'healthy' ? [] : [`sha-${shas[index]!.slice(0, 7)}`],
    );
    say(
      `Production traffic during the canaries: ${total} requests, ${failed} without an answer; ` +
        `non-2xx by version: ${JSON.stringify(errorsBy)} (only the bad release should have any, in the seconds before its rollback)`,
    );
    const unexpected = Object.keys(errorsBy).filter((version) => !bad.includes(version));
    if (failed > 0 || unexpected.length > 0) process.exitCode = 1;
  } finally {
    await production.stop();
    await staging.stop();
    await github.close();
    await slack.close();
    rmSync(workspace, { recursive: true, force: true });
  }
}

await main();
