// Each step a scenario's workflow runs, as the demo runs it: its action's inputs, and what it leaves for the next.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTraffic } from '../../test/lab/traffic';
import { hostInputs, LOAD_SECONDS, RUN_PATH, TOKEN, verbose, type Run } from './context';
import type { Pipeline } from './pipeline';
import type { DemoScenario, DemoStep } from './scenarios';
import { terminalMarkdown } from './terminal';

/** One step of a scenario, by the action it uses (or its name when it runs no action of ours). */
export async function runStep(pipeline: Pipeline, step: DemoStep, scenario: DemoScenario, run: Run): Promise<void> {
  const { plan, event } = run;
  switch (step.uses ?? step.name) {
    case 'plan': {
      Object.assign(
        plan,
        (await pipeline.act('plan', { 'image-repository': 'registry.example/agent-loop' }, event)).outputs,
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
      if (scenario.canary === 'answers 20% errors')
        await pipeline.production.setKnobs(plan.version!, { errorRate: 0.2 });
      return;
    }
    case 'Hotfix started': {
      // hotfix.yml's notify-start job, which runs only when the plan asks for it: the same text to Slack.
      if (plan['notify-immediately'] !== 'true') return;
      const text =
        `:rotating_light: Hotfix ${pipeline.production.app} ${plan.version} started: ` +
        'critical tests only (skipped: integration,load-test,security-scan), ' +
        `then a canary watched for ${scenario.canarySeconds}s ` +
        `(error rate <= ${plan['error-threshold']}, P95 <= ${plan['latency-p95-ms']} ms). ${pipeline.github.url}${RUN_PATH}`;
      const response = await fetch(pipeline.slackUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
      });
      console.log(`  ${'[pipeline]'.padEnd(13)} ${'notify-start'.padEnd(15)} Slack ${response.status}: "${text}"`);
      return;
    }
    case 'compare-metrics': {
      writeFileSync(
        join(pipeline.workspace, 'candidate.json'),
        JSON.stringify({ eval: { accuracy: 0.913, latency_p95_ms: 840 }, drift: 0.03 }),
      );
      writeFileSync(
        join(pipeline.workspace, 'current.json'),
        JSON.stringify({ eval: { accuracy: 0.902, latency_p95_ms: 870 }, drift: 0.05 }),
      );
      await pipeline.act(
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
      await pipeline.act(
        'deploy-staging',
        {
          ...hostInputs(pipeline.staging),
          method: 'ssh-compose',
          'base-url': pipeline.staging.hosts[0]!.proxyUrl,
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
        await pipeline.act(
          'blue-green',
          {
            ...hostInputs(pipeline.production),
            phase: 'promote',
            version: plan.version!,
            'github-token': TOKEN,
            'deployment-id': run.deploymentId,
            environment: 'production',
            'slack-webhook-url': pipeline.slackUrl,
          },
          event,
          0,
          'production',
        );
        return;
      }
      const commitTime = (event.payload as { head_commit: { timestamp: string } }).head_commit.timestamp;
      const deployed = await pipeline.act(
        'blue-green',
        {
          ...hostInputs(pipeline.production),
          image: plan.image!,
          version: plan.version!,
          'canary-percent': plan['canary-percent']!,
          'smoke-requests': '[]',
          'github-token': TOKEN,
          'commit-time': commitTime,
          environment: 'production',
          'slack-webhook-url': pipeline.slackUrl,
        },
        event,
        0,
        'production',
      );
      run.deploymentId = deployed.outputs['deployment-id'] ?? '';
      run.traffic = pipeline.production.hosts.map((host) =>
        startTraffic({ url: host.proxyUrl, concurrency: 4, durationMs: 58_000, ratePerSecond: 60 }),
      );
      return;
    }
    case 'canary-monitor': {
      const bad = scenario.canary !== 'healthy';
      const monitor = await pipeline.act(
        'canary-monitor',
        {
          ...hostInputs(pipeline.production),
          ...step.with,
          steps: plan['canary-steps']!,
          policy: plan.policy!,
          duration: String(scenario.canarySeconds),
          interval: '1',
          'github-token': TOKEN,
          'failed-deployment-id': run.deploymentId,
          'slack-webhook-url': pipeline.slackUrl,
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
