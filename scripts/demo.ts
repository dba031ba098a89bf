// `npm run demo`: the whole pipeline on this machine, as the reusable deploy.yml runs it, with every
// action run from its bundle under Node 24 the way GitHub's runner runs it.
//
// The lab: 2 production hosts and 1 staging host, each a real sshd + nginx on 127.0.0.1 with app
// processes playing the Agent Loop service; a local GitHub API that keeps deployments, statuses and
// issues; a local Slack webhook. Then:
//   1. a push to main: plan → staging (deploy, smoke, short load test) → 10% canary → canary-monitor
//      → promote;
//   2. a bad release: its canary answers 20% errors; the monitor fails it early and rolls back on
//      its own, opening an incident;
//   3. a `[train-model]` commit: compare-metrics (A/B) → progressive ramp 10 → 25 → 50 → 100 → promote;
//   4. a hotfix branch: the fast track (fewer gates, tighter thresholds);
//   5. the DORA figures of what the demo did, read back from the GitHub API by dora-report.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startLab, type Lab } from '../test/lab/index';
import { runAction, type RunActionResult } from '../test/lab/run-action';
import { startTraffic, type TrafficResult } from '../test/lab/traffic';
import { labActionInputs } from '../test/support/deploy-settings';
import { startFakeGitHub, type FakeGitHub } from '../test/support/fake-github';
import { startRecorder } from '../test/support/recorder';

const verbose = process.argv.includes('--verbose');
const TOKEN = 'ghs_demoTokenNotARealOne';

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m${text}\x1b[0m\n`);
}

function hostInputs(lab: Lab): Record<string, string> {
  return {
    ...labActionInputs(lab),
    // Every demo request comes from 127.0.0.1: split per request, not per client address.
    'split-key': '$request_id',
    'min-free-disk-mb': '1',
    'min-free-memory-mb': '1',
    'drain-seconds': '1',
    memory: 'none',
  };
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
    payload: { ref: `refs/heads/${branch}`, after: sha, head_commit: { id: sha, message, timestamp }, commits: [{ id: sha, message }], repository: { full_name: 'org/service', default_branch: 'main' } },
  };
}

class Pipeline {
  constructor(
    private readonly production: Lab,
    private readonly staging: Lab,
    private readonly github: FakeGitHub,
    private readonly slackUrl: string,
    private readonly workspace: string,
  ) {}

  /** Runs one action's bundle with only the inputs it declares, as the runner does. */
  async act(action: string, inputs: Record<string, string>, event: Event, expectCode = 0): Promise<RunActionResult> {
    const declared = Object.keys((parse(readFileSync(new URL(`../actions/${action}/action.yml`, import.meta.url), 'utf8')) as { inputs: Record<string, unknown> }).inputs);
    const given = Object.fromEntries(Object.entries(inputs).filter(([name]) => declared.includes(name)));
    const started = Date.now();
    const result = await runAction({
      action,
      inputs: given,
      event: event.payload,
      env: { GITHUB_API_URL: this.github.url, GITHUB_EVENT_NAME: event.name, GITHUB_REF: event.ref, GITHUB_SHA: event.sha, GITHUB_WORKSPACE: this.workspace },
      timeoutMs: 180_000,
    });
    const firstLine = result.summary.split('\n').find((line) => line.startsWith('#'))?.replace(/^#+\s*/, '') ?? '';
    console.log(`  ${action.padEnd(15)} exit ${result.code}  ${String(Date.now() - started).padStart(6)} ms  ${firstLine}`);
    if (verbose) console.log(`\n${result.summary}\n`);
    if (result.code !== expectCode) {
      console.log(result.stdout);
      throw new Error(`${action}: exit ${result.code}, expected ${expectCode}`);
    }
    return result;
  }

  async run(title: string, event: Event): Promise<TrafficResult[]> {
    say(`▶ ${title}`);
    const plan = (await this.act('plan', { 'image-repository': 'registry.example/agent-loop' }, event)).outputs;
    console.log(`    plan: kind ${plan.kind}, version ${plan.version}, gates ${plan.gates}, canary ${plan['canary-steps']}% for ${plan['canary-duration']} s, error ≤ ${Number(plan['error-threshold']) * 100}%, P95 ≤ ${plan['latency-p95-ms']} ms${plan['notify-immediately'] === 'true' ? ', notify at once' : ''}`);
    const version = plan.version as string;
    const gates = JSON.parse(plan.gates as string) as string[];
    const commitTime = (event.payload as { head_commit: { timestamp: string } }).head_commit.timestamp;

    if (plan.kind === 'model') {
      writeFileSync(join(this.workspace, 'candidate.json'), JSON.stringify({ eval: { accuracy: 0.913, latency_p95_ms: 840 }, drift: 0.03 }));
      writeFileSync(join(this.workspace, 'current.json'), JSON.stringify({ eval: { accuracy: 0.902, latency_p95_ms: 870 }, drift: 0.05 }));
      await this.act('compare-metrics', {
        candidate: 'candidate.json',
        baseline: 'current.json',
        rules: '- { metric: eval.accuracy, direction: higher-is-better, max-regression: 0.005 }\n- { metric: eval.latency_p95_ms, direction: lower-is-better, max-regression-percent: 10 }\n- { metric: drift, max: 0.1 }',
      }, event);
    }

    await this.act('deploy-staging', {
      ...hostInputs(this.staging),
      method: 'ssh-compose',
      'base-url': this.staging.hosts[0]!.proxyUrl,
      image: plan.image as string,
      version,
      'smoke-repeat': '3',
      'load-rate-per-minute': '600',
      'load-duration-seconds': gates.includes('load-test') ? '5' : '0',
      'load-connections': '4',
    }, event);

    const firstStep = (plan['canary-steps'] as string).split(',')[0] as string;
    const deployed = await this.act('blue-green', { ...hostInputs(this.production), image: plan.image as string, version, 'canary-percent': firstStep, 'smoke-requests': '[]', 'github-token': TOKEN, 'commit-time': commitTime, environment: 'production', 'slack-webhook-url': this.slackUrl }, event);
    const deploymentId = deployed.outputs['deployment-id'] ?? '';
    const traffic = this.production.hosts.map((host) => startTraffic({ url: host.proxyUrl, concurrency: 4, durationMs: 58_000, ratePerSecond: 60 }));
    const model = plan.kind === 'model';
    const monitor = await this.act('canary-monitor', {
      ...hostInputs(this.production),
      mode: model ? 'ramp' : 'canary',
      steps: plan['canary-steps'] as string,
      model: String(model),
      policy: plan.policy as string,
      duration: '10',
      interval: '1',
      'github-token': TOKEN,
      'failed-deployment-id': deploymentId,
      'slack-webhook-url': this.slackUrl,
      environment: 'production',
    }, event);
    const m = monitor.outputs;
    console.log(`    canary-monitor: ${m.verdict} — ${m.reason}${m['rolled-back'] === 'true' ? ` — rolled back ${m['rollback-ms']} ms after the decision` : ''}`);
    await this.act('blue-green', { ...hostInputs(this.production), phase: 'promote', version, 'github-token': TOKEN, 'deployment-id': deploymentId, environment: 'production', 'slack-webhook-url': this.slackUrl }, event);
    await new Promise((resolve) => setTimeout(resolve, 500));
    return Promise.all(traffic.map((t) => t.stop()));
  }
}

async function main(): Promise<void> {
  say('Starting the lab: 2 production hosts and 1 staging host (each its own sshd and nginx), a local GitHub API and Slack');
  const production = await startLab({ hosts: 2 });
  const staging = await startLab({ hosts: 1 });
  const github = await startFakeGitHub();
  const slack = await startRecorder();
  const workspace = mkdtempSync(join(tmpdir(), 'al-demo-workspace-'));
  try {
    for (const host of production.hosts) console.log(`  production ${host.name}: ssh ${host.target}, nginx ${host.proxyUrl}`);
    console.log(`  staging: ssh ${staging.hosts[0]!.target}, nginx ${staging.hosts[0]!.proxyUrl}`);
    const pipeline = new Pipeline(production, staging, github, `${slack.url}/services/T0/B0/demo`, workspace);

    say('▶ What runs in production today: v1, deployed before the demo');
    const first = push('main', 'initial release', '0000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    await pipeline.act('blue-green', { ...hostInputs(production), image: 'registry.example/agent-loop:v1', version: 'v1' }, first);
    await pipeline.act('blue-green', { ...hostInputs(staging), image: 'registry.example/agent-loop:v1', version: 'v1' }, first);
    await production.enableSite();
    await staging.enableSite();

    const seen: TrafficResult[] = [];
    const shas = { feature: '1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', bad: '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', model: '3333333ccccccccccccccccccccccccccccccccc', hotfix: '4444444ddddddddddddddddddddddddddddddddd' };
    seen.push(...(await pipeline.run('1. push to main: "feat: stream agent steps"', push('main', 'feat: stream agent steps', shas.feature))));

    // A release whose canary is bad in production (it would pass a quiet staging): the monitor catches it.
    say('▶ 2. push to main: "perf: new cache" (its canary answers 20% of requests with a 500 in production)');
    seen.push(...(await badCanary(pipeline, production, push('main', 'perf: new cache', shas.bad))));

    seen.push(...(await pipeline.run('3. push to main: "[train-model] retrain on last week\'s data"', push('main', "[train-model] retrain on last week's data", shas.model))));
    seen.push(...(await pipeline.run('4. push to hotfix/timeout: "fix: agent timeout"', push('hotfix/timeout', 'fix: agent timeout', shas.hotfix))));

    say('▶ 5. DORA figures of what the demo did, read back from the GitHub Deployments API');
    const dora = await pipeline.act('dora-report', { 'github-token': TOKEN, app: production.app, environment: 'production', days: '30' }, first);
    console.log(`\n${dora.summary}`);
    console.log(`GitHub now holds ${github.deployments.length} deployments and ${github.issues.length} incident issue(s): ${github.issues.map((issue) => `"${issue.title}"`).join(', ')}; Slack received ${slack.requests.length} messages.`);

    const total = seen.reduce((sum, r) => sum + r.sent, 0);
    const failed = seen.reduce((sum, r) => sum + r.failed, 0);
    const errorsBy: Record<string, number> = {};
    for (const r of seen) for (const entry of r.timeline) if (entry.status < 200 || entry.status >= 300) errorsBy[entry.version] = (errorsBy[entry.version] ?? 0) + 1;
    say(`Production traffic during the canaries: ${total} requests, ${failed} without an answer; non-2xx by version: ${JSON.stringify(errorsBy)} (only the bad release should have any, in the seconds before its rollback)`);
    const unexpected = Object.keys(errorsBy).filter((version) => version !== `sha-${shas.bad.slice(0, 7)}`);
    if (failed > 0 || unexpected.length > 0) process.exitCode = 1;
  } finally {
    await production.stop();
    await staging.stop();
    await github.close();
    await slack.close();
    rmSync(workspace, { recursive: true, force: true });
  }
}

/** The bad release: staging passes, the production canary fails and rolls back on its own. */
async function badCanary(pipeline: Pipeline, production: Lab, event: Event): Promise<TrafficResult[]> {
  const plan = (await pipeline.act('plan', { 'image-repository': 'registry.example/agent-loop' }, event)).outputs;
  const version = plan.version as string;
  await production.setKnobs(version, { errorRate: 0.2 });
  const deployed = await pipeline.act('blue-green', { ...hostInputs(production), image: plan.image as string, version, 'smoke-requests': '[]', 'github-token': TOKEN, environment: 'production' }, event);
  const traffic = production.hosts.map((host) => startTraffic({ url: host.proxyUrl, concurrency: 4, durationMs: 58_000, ratePerSecond: 60 }));
  const monitor = await pipeline.act('canary-monitor', { ...hostInputs(production), policy: plan.policy as string, duration: '60', interval: '1', 'github-token': TOKEN, 'failed-deployment-id': deployed.outputs['deployment-id'] ?? '', environment: 'production' }, event, 1);
  const m = monitor.outputs;
  console.log(`    canary-monitor: ${m.verdict} — ${m.reason} — decided in ${m['detect-seconds']} s, traffic back on the previous version ${m['rollback-ms']} ms later (the procedure allows 2 minutes); incident ${m['incident-url']}`);
  if (!verbose) console.log(`\n${monitor.summary}`);
  await new Promise((resolve) => setTimeout(resolve, 500));
  return Promise.all(traffic.map((t) => t.stop()));
}

await main();
