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
import { startAction, type RunActionResult } from '../test/lab/run-action';
import { startTraffic, type TrafficResult } from '../test/lab/traffic';
import { blueGreenLabInputs } from '../test/support/deploy-settings';
import { startFakeGitHub, type FakeGitHub } from '../test/support/fake-github';
import { startRecorder } from '../test/support/recorder';

const verbose = process.argv.includes('--verbose');
const TOKEN = 'ghs_demoTokenNotARealOne';

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m${text}\x1b[0m\n`);
}

/** A step summary as a terminal shows it readably: headings in bold, tables aligned, charts named, details left out. */
export function terminalMarkdown(markdown: string, options: { upTo?: string } = {}): string {
  const out: string[] = [];
  const lines = markdown.split('\n');
  const cells = (row: string): string[] => row.replace(/^\|\s?|\s?\|$/g, '').split(/(?<!\\) \| /).map((cell) => cell.replaceAll('\\|', '|').replaceAll('`', '').trim());
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (options.upTo && line.startsWith(options.upTo)) break;
    if (line.startsWith('<details>')) {
      while (i < lines.length && !lines[i]!.startsWith('</details>')) i++;
      continue;
    }
    if (line.startsWith('```mermaid')) {
      const block: string[] = [];
      while (++i < lines.length && !lines[i]!.startsWith('```')) block.push(lines[i]!);
      const title = /title "([^"]*)"/.exec(block.join('\n'))?.[1] ?? 'chart';
      out.push(`    [chart in the step summary: ${title}]`);
      continue;
    }
    if (line.startsWith('```')) {
      while (++i < lines.length && !lines[i]!.startsWith('```')) out.push(`    │ ${lines[i]}`);
      continue;
    }
    if (line.startsWith('|')) {
      const rows: string[][] = [];
      for (; i < lines.length && lines[i]!.startsWith('|'); i++) if (!/^\|[\s|:-]+\|$/.test(lines[i]!)) rows.push(cells(lines[i]!));
      i--;
      const widths = rows[0]!.map((_, column) => Math.min(48, Math.max(...rows.map((row) => (row[column] ?? '').length))));
      for (const [index, row] of rows.entries()) {
        const text = row.map((cell, column) => (cell.length > 48 ? `${cell.slice(0, 47)}…` : cell).padEnd(widths[column]!)).join('  ');
        out.push(`    ${index === 0 ? `\x1b[2m${text}\x1b[0m` : text}`);
      }
      continue;
    }
    if (/^#{1,4} /.test(line)) out.push(`  \x1b[1m${line.replace(/^#+ /, '')}\x1b[0m`);
    else if (line.trim() !== '') out.push(`    ${line.replace(/\*\*([^*]+)\*\*/g, '$1')}`);
  }
  return out.join('\n');
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

  /**
   * Runs one action's bundle with only the inputs it declares, as the runner does, labelled with
   * the environment it acts on; its annotations (the events of each step) are printed as they come.
   */
  async act(action: string, inputs: Record<string, string>, event: Event, expectCode = 0, where: 'pipeline' | 'staging' | 'production' = 'pipeline'): Promise<RunActionResult> {
    const declared = Object.keys((parse(readFileSync(new URL(`../actions/${action}/action.yml`, import.meta.url), 'utf8')) as { inputs: Record<string, unknown> }).inputs);
    const given = Object.fromEntries(Object.entries(inputs).filter(([name]) => declared.includes(name)));
    const started = Date.now();
    const running = await startAction({
      action,
      inputs: given,
      event: event.payload,
      env: { GITHUB_API_URL: this.github.url, GITHUB_EVENT_NAME: event.name, GITHUB_REF: event.ref, GITHUB_SHA: event.sha, GITHUB_WORKSPACE: this.workspace },
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
    const firstLine = result.summary.split('\n').find((line) => line.startsWith('#'))?.replace(/^#+\s*/, '') ?? '';
    console.log(`  ${`[${where}]`.padEnd(13)} ${action.padEnd(15)} exit ${result.code}  ${String(Date.now() - started).padStart(6)} ms  ${firstLine}`);
    if (verbose) console.log(`\n${result.summary}\n`);
    if (result.code !== expectCode) {
      console.log(result.stdout);
      throw new Error(`${action}: exit ${result.code}, expected ${expectCode}`);
    }
    return result;
  }

  async run(title: string, event: Event): Promise<TrafficResult[]> {
    say(`▶ ${title}`);
    const began = Date.now();
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
    }, event, 0, 'staging');

    const firstStep = (plan['canary-steps'] as string).split(',')[0] as string;
    const deployed = await this.act('blue-green', { ...hostInputs(this.production), image: plan.image as string, version, 'canary-percent': firstStep, 'smoke-requests': '[]', 'github-token': TOKEN, 'commit-time': commitTime, environment: 'production', 'slack-webhook-url': this.slackUrl }, event, 0, 'production');
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
    }, event, 0, 'production');
    const m = monitor.outputs;
    console.log(terminalMarkdown(monitor.summary, { upTo: '| rule |' }));
    await this.act('blue-green', { ...hostInputs(this.production), phase: 'promote', version, 'github-token': TOKEN, 'deployment-id': deploymentId, environment: 'production', 'slack-webhook-url': this.slackUrl }, event, 0, 'production');
    stories.push({ scenario: title.replace(/^\d+\. /, ''), version, verdict: m.verdict ?? '?', outcome: model ? 'ramped and promoted' : 'promoted', ms: Date.now() - began });
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
    await pipeline.act('blue-green', { ...hostInputs(production), image: 'registry.example/agent-loop:v1', version: 'v1' }, first, 0, 'production');
    await pipeline.act('blue-green', { ...hostInputs(staging), image: 'registry.example/agent-loop:v1', version: 'v1' }, first, 0, 'staging');
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
    console.log(terminalMarkdown(dora.summary));
    console.log(`GitHub now holds ${github.deployments.length} deployments and ${github.issues.length} incident issue(s): ${github.issues.map((issue) => `"${issue.title}"`).join(', ')}; Slack received ${slack.requests.length} messages.`);

    const total = seen.reduce((sum, r) => sum + r.sent, 0);
    const failed = seen.reduce((sum, r) => sum + r.failed, 0);
    const errorsBy: Record<string, number> = {};
    for (const r of seen) for (const entry of r.timeline) if (entry.status < 200 || entry.status >= 300) errorsBy[entry.version] = (errorsBy[entry.version] ?? 0) + 1;
    say('What happened');
    console.log(`    ${'scenario'.padEnd(48)}  ${'version'.padEnd(15)}  ${'verdict'.padEnd(8)}  ${'outcome'.padEnd(40)}  time`);
    for (const story of stories) console.log(`    ${story.scenario.slice(0, 48).padEnd(48)}  ${story.version.padEnd(15)}  ${story.verdict.padEnd(8)}  ${story.outcome.slice(0, 40).padEnd(40)}  ${(story.ms / 1000).toFixed(1)} s`);
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
  const began = Date.now();
  const deployed = await pipeline.act('blue-green', { ...hostInputs(production), image: plan.image as string, version, 'smoke-requests': '[]', 'github-token': TOKEN, environment: 'production' }, event, 0, 'production');
  const traffic = production.hosts.map((host) => startTraffic({ url: host.proxyUrl, concurrency: 4, durationMs: 58_000, ratePerSecond: 60 }));
  const monitor = await pipeline.act('canary-monitor', { ...hostInputs(production), policy: plan.policy as string, duration: '60', interval: '1', 'github-token': TOKEN, 'failed-deployment-id': deployed.outputs['deployment-id'] ?? '', environment: 'production' }, event, 1, 'production');
  const m = monitor.outputs;
  // The summary an on-call engineer opens: verdict, what was done, the incident, then the figures.
  if (!verbose) console.log(terminalMarkdown(monitor.summary));
  stories.push({ scenario: 'push to main: "perf: new cache" (bad canary)', version, verdict: m.verdict ?? '?', outcome: `rolled back in ${((Number(m['rollback-ms']) || 0) / 1000).toFixed(1)} s (decided in ${m['detect-seconds']} s)`, ms: Date.now() - began });
  await new Promise((resolve) => setTimeout(resolve, 500));
  return Promise.all(traffic.map((t) => t.stop()));
}

await main();
