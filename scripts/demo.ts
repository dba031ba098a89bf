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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab } from '../test/lab/index';
import type { TrafficResult } from '../test/lab/traffic';
import { startFakeGitHub } from '../test/support/fake-github';
import { startRecorder } from '../test/support/recorder';
import { hostInputs, push, TOKEN } from './demo/context';
import { printStories, say } from './demo/output';
import { Pipeline } from './demo/pipeline';
import { SCENARIOS } from './demo/scenarios';
import { terminalMarkdown } from './demo/terminal';

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
    printStories();
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
