import { describe, expect, it } from 'vitest';
import { ConfigurationError, requireInput, silentLogger, systemClock } from '../src/action';
import {
  checkRollbackMethodInputs,
  hostInputs,
  hostsField,
  readInputs,
  rollbackMethodInputs,
  rollbackOnHosts,
  rollbackPhaseInputs,
  rollbackTarget,
  runtimeInputs,
} from '../src/inputs';
import { announceOutcome, rollbackFailure, rollbackStory, rollbackSummary, type RollbackContext } from '../src/report';
import {
  hostsOutcome,
  rollbackMethods,
  type RollbackMethod,
  type RollbackMethodContext,
  type RollbackMethodEntry,
  type RollbackMethodOptions,
  type RollbackOutcome,
  type RollbackResult,
} from '../src/rollback';
import { rollbackMethod } from '../src/settings';

/**
 * The rollback seam: a method is anything that puts a version back and says how it went, and all
 * that follows (the story for the incident and Slack, the summary, the error) reads only that.
 * A method written here, as a team would add one (a load balancer's API), goes through the same
 * functions the rollback action calls.
 */
function loadBalancerRollback(pools: Map<string, string>, now: () => number): RollbackMethod {
  return {
    name: 'load-balancer',
    async run(target, since) {
      const from = pools.get('live') ?? null;
      const to = target.kind === 'version' ? target.version : (pools.get('previous') ?? null);
      if (to === null)
        return {
          method: 'load-balancer',
          what: 'load balancer rollback',
          ok: false,
          noop: false,
          error: 'no previous pool',
          version: null,
          failedVersion: from,
          activeColor: null,
          restoredMs: null,
          durationMs: now() - since,
          hosts: [],
          candidates: ['v1', 'v0'],
          onHosts: null,
        };
      pools.set('live', to);
      return {
        method: 'load-balancer',
        what: `load balancer rollback to pool ${to}`,
        ok: true,
        noop: from === to,
        version: to,
        failedVersion: from,
        activeColor: null,
        restoredMs: now() - since,
        durationMs: now() - since,
        hosts: [],
        candidates: [],
        onHosts: null,
      };
    },
  };
}

const context: RollbackContext = {
  app: 'agent-loop',
  environment: 'production',
  trigger: 'manual',
  reason: 'errors after v2',
  severity: 'high',
  figures: [{ name: 'error-rate', observed: 0.04, threshold: 0.01, windowSeconds: 120, status: 'violated' }],
  runUrl: 'https://github.com/o/r/actions/runs/1',
  decidedAt: Date.UTC(2026, 10, 30),
};
const people = { app: 'agent-loop', reason: 'errors after v2', trigger: 'manual', actor: 'octocat' };

describe('a rollback method behind the seam', () => {
  it('is told as any rollback: story, summary and no error', async () => {
    let t = 1000;
    const pools = new Map([
      ['live', 'v2'],
      ['previous', 'v1'],
    ]);
    const outcome = await loadBalancerRollback(pools, () => (t += 250)).run({ kind: 'previous' }, 1000);
    expect(pools.get('live')).toBe('v1');
    const story = rollbackStory(outcome, context);
    expect(story).toMatchObject({
      failedVersion: 'v2',
      targetVersion: 'v1',
      restoredMs: 250,
      figures: [{ name: 'error-rate', observed: '0.04', threshold: '0.01', window: '120 s', status: 'violated' }],
    });
    expect(story.error).toBeUndefined();
    const summary = rollbackSummary(outcome, people, null);
    expect(summary).toContain('load balancer rollback to pool v1 done');
    expect(summary).toContain('rolled back to v1');
    expect(summary).toContain('Traffic restored in 0.3 s');
  });

  it('fails as any rollback: the error in the story and the summary, the versions one can name in the message', async () => {
    const outcome = await loadBalancerRollback(new Map([['live', 'v2']]), () => 5000).run({ kind: 'previous' }, 1000);
    expect(rollbackStory(outcome, context)).toMatchObject({
      error: 'no previous pool',
      restoredMs: null,
      candidates: ['v1', 'v0'],
    });
    expect(rollbackSummary(outcome, people, null)).toContain('The rollback failed; traffic stays where it was.');
    expect(rollbackFailure(outcome)).toBe(
      'no previous pool\nVersions one can roll back to by name (target-version): v1, v0',
    );
  });

  it('announces nothing for a no-op, and announces a real rollback even with nowhere to record it', async () => {
    const warnings: string[] = [];
    const options = {
      github: null,
      ref: 'main',
      createIncident: true,
      incidentLabels: [],
      failedDeploymentId: null,
      slackWebhookUrl: '',
      log: { ...silentLogger, warn: (message: string) => warnings.push(message) },
    };
    const noop = await loadBalancerRollback(new Map([['live', 'v1']]), () => 1000).run(
      { kind: 'version', version: 'v1' },
      1000,
    );
    expect(noop.noop).toBe(true);
    expect(await announceOutcome(noop, context, options)).toEqual({
      incidentUrl: null,
      deploymentId: null,
      notified: false,
    });
    expect(warnings).toEqual([]);
    const done = await loadBalancerRollback(
      new Map([
        ['live', 'v2'],
        ['previous', 'v1'],
      ]),
      () => 1000,
    ).run({ kind: 'previous' }, 1000);
    expect(await announceOutcome(done, context, options)).toEqual({
      incidentUrl: null,
      deploymentId: null,
      notified: false,
    });
    expect(warnings).toEqual([
      'no github-token (or GITHUB_REPOSITORY): the deployment status and the incident issue were not recorded',
    ]);
  });

  it('gives a rollback on hosts the same outcome: the failed version, and the time only when traffic came back', () => {
    const onHosts: RollbackResult = {
      ok: false,
      phase: 'rollback',
      activeColor: 'blue',
      previousColor: 'green',
      version: 'v1',
      previousVersion: 'v2',
      canaryPercent: 0,
      switchMs: null,
      durationMs: 900,
      hosts: [],
      error: 'host b: switch refused',
      noop: false,
      restoredMs: 800,
      failedVersion: null,
      candidates: ['v1'],
      abortedMonitorMs: null,
    };
    const outcome: RollbackOutcome = hostsOutcome(onHosts, 950);
    expect(outcome).toMatchObject({
      method: 'nginx',
      ok: false,
      failedVersion: 'v2',
      restoredMs: null,
      durationMs: 950,
      onHosts,
    });
    expect(rollbackSummary(outcome, people, null)).toContain('host b: switch refused');
  });
});

/**
 * Registered as a team would (rollback/registry.ts): the method input accepts its name, the
 * settings build it, and the action's flow (no hosts for a method that is not on them) follows.
 */
const pools = new Map([
  ['live', 'v2'],
  ['previous', 'v1'],
]);
const loadBalancer: RollbackMethodEntry = {
  onHosts: false,
  check: (options: RollbackMethodOptions) =>
    requireInput(
      options.targetVersion === '' || /^v\d+$/.test(options.targetVersion),
      'target-version',
      'must name a pool such as v1 for method load-balancer',
    ),
  build: (_options, context: RollbackMethodContext) => loadBalancerRollback(pools, context.clock.now),
};
rollbackMethods.register('load-balancer', loadBalancer);

describe('a rollback method added from outside the core', () => {
  const { 'ssh-private-key': _key, 'slack-webhook-url': _webhook, ...hostFields } = hostInputs;
  const fields = {
    ...hostFields,
    hosts: hostsField({ required: false }),
    ...runtimeInputs,
    ...rollbackMethodInputs,
    ...rollbackPhaseInputs('manual rollback'),
  };
  const inputsOf = (values: Record<string, string>) => ({
    ...readInputs(fields, (name) => values[name] ?? ''),
    'ssh-private-key': '',
    'slack-webhook-url': '',
  });

  it('is named by the method input, needs no host, and is the method the settings build', async () => {
    const inputs = inputsOf({ method: 'load-balancer', app: 'shop' });
    checkRollbackMethodInputs(inputs);
    expect(rollbackOnHosts(inputs)).toBe(false);
    const method = rollbackMethod(inputs, [], {
      run: { runId: 'run-1', actor: 'octocat', runUrl: '' },
      log: silentLogger,
      clock: systemClock,
    });
    expect(method.name).toBe('load-balancer');
    expect((await method.run(rollbackTarget(inputs), systemClock.now())).version).toBe('v1');
  });

  it('checks its own inputs before anything runs, and an unknown method is told with the registered ones', () => {
    expect(() =>
      checkRollbackMethodInputs(inputsOf({ method: 'load-balancer', app: 'shop', 'target-version': '1.2' })),
    ).toThrow("Input 'target-version': must name a pool such as v1 for method load-balancer");
    expect(() => inputsOf({ method: 'argo', app: 'shop' })).toThrow(
      new ConfigurationError("Input 'method': expected one of nginx, kubernetes, ansible, load-balancer, got 'argo'"),
    );
    // nginx works on hosts: they are required.
    expect(() => checkRollbackMethodInputs(inputsOf({ method: 'nginx', app: 'shop' }))).toThrow(
      "Input 'hosts': is required for method nginx: one or more user@host[:port]",
    );
  });
});
