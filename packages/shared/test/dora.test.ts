import { describe, expect, it } from 'vitest';
import { computeDora, doraSummary } from '../src/pipeline';
import { type DeploymentHistoryEntry } from '../src/github';
import { deploymentOutcome } from '../src/pipeline/dora';
import { nextPageUrl } from '../src/github/github';

const NOW = Date.parse('2026-06-30T12:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let nextId = 1;
/** A deployment created `ago` ms before NOW, with statuses at offsets (ms) from its creation. */
function deployment(
  ago: number,
  statuses: Array<[string, number]>,
  extra: Partial<DeploymentHistoryEntry> = {},
): DeploymentHistoryEntry {
  const createdAt = NOW - ago;
  const id = nextId++;
  return {
    id,
    sha: `${id}`.padStart(40, 'a'),
    ref: 'main',
    environment: 'production',
    createdAt,
    rollback: false,
    commitTime: null,
    statuses: statuses.map(([state, offset], index) => ({ state, at: createdAt + offset, id: id * 100 + index })),
    ...extra,
  };
}

/** A successful change: in_progress at once, success after `tookMs`, committed `leadMs` before its success. */
const success = (ago: number, leadMs: number | null = null, tookMs = 5 * MINUTE): DeploymentHistoryEntry =>
  deployment(
    ago,
    [
      ['in_progress', 0],
      ['success', tookMs],
    ],
    { commitTime: leadMs === null ? null : NOW - ago + tookMs - leadMs },
  );

describe('computeDora', () => {
  it('with no deployments says "not enough data" for every figure, never 0', () => {
    const report = computeDora([], { now: NOW, days: 30 });
    for (const figure of [report.deploymentFrequency, report.leadTime, report.mttr, report.changeFailureRate]) {
      expect(figure.value, figure.name).toBeNull();
      expect(figure.met, figure.name).toBeNull();
      expect(figure.samples, figure.name).toBe(0);
      expect(figure.detail, figure.name).toMatch(/^not enough data: /);
    }
    expect(report.deployments).toEqual({
      total: 0,
      successful: 0,
      failed: 0,
      pending: 0,
      rollbacks: 0,
      openFailures: 0,
    });
    expect(report.window).toEqual({ from: '2026-05-31T12:00:00.000Z', to: '2026-06-30T12:00:00.000Z', days: 30 });
  });

  it('counts a healthy week: frequency per 7 days, median lead time, no failures', () => {
    const history = Array.from({ length: 12 }, (_, index) =>
      success((index + 1) * 12 * HOUR, (index + 1) * 10 * MINUTE),
    );
    const report = computeDora(history, { now: NOW, days: 7 });
    expect(report.deploymentFrequency).toMatchObject({ value: 12, unit: 'per week', met: true, samples: 12 });
    // Lead times 10, 20, ..., 120 min: the median is (60 + 70) / 2 = 65 min.
    expect(report.leadTime).toMatchObject({ value: 1.08, unit: 'hours', met: true, samples: 12 });
    expect(report.changeFailureRate).toMatchObject({ value: 0, met: true, samples: 12 });
    expect(report.mttr).toMatchObject({
      value: null,
      met: null,
      samples: 0,
      detail: 'not enough data: no failed deployment in the window',
    });
    // Over 30 days the same 12 deployments are 2.8 a week: below the target of more than 10.
    expect(computeDora(history, { now: NOW, days: 30 }).deploymentFrequency).toMatchObject({ value: 2.8, met: false });
  });

  it('with only failures: frequency is a real 0, the rate is 1, and nothing has recovered yet', () => {
    const history = [
      deployment(2 * DAY, [
        ['in_progress', 0],
        ['failure', 3 * MINUTE],
      ]),
      deployment(DAY, [
        ['in_progress', 0],
        ['error', MINUTE],
      ]),
    ];
    const report = computeDora(history, { now: NOW, days: 7 });
    expect(report.deploymentFrequency).toMatchObject({ value: 0, met: false, samples: 0 });
    expect(report.changeFailureRate).toMatchObject({ value: 1, met: false, samples: 2 });
    expect(report.leadTime).toMatchObject({
      value: null,
      met: null,
      detail: 'not enough data: no successful deployment',
    });
    expect(report.mttr).toMatchObject({
      value: null,
      met: null,
      samples: 0,
      detail: 'not enough data: 2 failed deployments, none recovered yet',
    });
    expect(report.deployments).toMatchObject({ failed: 2, openFailures: 2 });
  });

  it('a rollback recovers a failed canary: MTTR from the canary start, and the rollback is not a change', () => {
    const stable = success(3 * HOUR, 30 * MINUTE);
    // The canary starts, misbehaves; the rollback action restores traffic, then marks the canary failed.
    const canary = deployment(2 * HOUR, [
      ['in_progress', 0],
      ['failure', 12 * MINUTE],
    ]);
    const rollback = deployment(2 * HOUR - 12 * MINUTE - 500, [['success', 1500]], { rollback: true });
    const report = computeDora([stable, canary, rollback], { now: NOW, days: 7 });
    // From the canary's start to the rollback's success: 12 min + 0.5 s + 1.5 s.
    expect(report.mttr).toMatchObject({
      value: 12.03,
      unit: 'minutes',
      met: true,
      samples: 1,
      detail: '1 recovered failure',
    });
    expect(report.changeFailureRate).toMatchObject({ value: 0.5, samples: 2 });
    expect(report.deploymentFrequency).toMatchObject({ value: 1, samples: 1 });
    expect(report.deployments).toEqual({
      total: 3,
      successful: 1,
      failed: 1,
      pending: 0,
      rollbacks: 1,
      openFailures: 0,
    });
  });

  it('a deployment that succeeded and was rolled back later failed when its failure status was written', () => {
    const promoted = deployment(DAY, [
      ['in_progress', 0],
      ['success', 10 * MINUTE],
      ['failure', 5 * HOUR],
    ]);
    const fix = deployment(DAY - 4 * HOUR - 55 * MINUTE, [
      ['in_progress', 0],
      ['success', 15 * MINUTE],
    ]);
    const report = computeDora([promoted, fix], { now: NOW, days: 7 });
    expect(deploymentOutcome(promoted).outcome).toBe('failure');
    // The fix succeeds 5 h 10 min after the promoted one started; the failure was known at 5 h: 10 min.
    expect(report.mttr).toMatchObject({ value: 10, met: true, samples: 1 });
    expect(report.changeFailureRate).toMatchObject({ value: 0.5 });
  });

  it('a slow recovery misses the MTTR target, and each of two failures waits for the same fix', () => {
    const first = deployment(10 * HOUR, [['failure', 2 * MINUTE]]);
    const second = deployment(9 * HOUR, [['failure', 2 * MINUTE]]);
    const fix = deployment(8 * HOUR, [['success', 0]]);
    const later = deployment(7 * HOUR, [['success', 0]]);
    const report = computeDora([first, second, fix, later], { now: NOW, days: 7 });
    // (120 + 60) / 2 minutes: the later success is not the first recovery of either.
    expect(report.mttr).toMatchObject({ value: 90, met: false, samples: 2 });
  });

  it('leaves deployments without an outcome out of every figure, and counts them', () => {
    const history = [
      success(5 * HOUR, HOUR),
      deployment(HOUR, [
        ['queued', 0],
        ['in_progress', MINUTE],
      ]),
      deployment(10 * MINUTE, []),
    ];
    const report = computeDora(history, { now: NOW, days: 7 });
    expect(report.deployments).toMatchObject({ total: 3, successful: 1, failed: 0, pending: 2 });
    expect(report.changeFailureRate).toMatchObject({ value: 0, samples: 1 });
    expect(report.deploymentFrequency).toMatchObject({ value: 1, samples: 1 });
  });

  it('ignores inactive when reading the outcome: GitHub marks superseded successes inactive', () => {
    const old = deployment(2 * DAY, [
      ['in_progress', 0],
      ['success', MINUTE],
      ['inactive', DAY],
    ]);
    expect(deploymentOutcome(old)).toEqual({ outcome: 'success', at: old.createdAt + MINUTE });
    expect(computeDora([old, success(DAY)], { now: NOW, days: 7 }).deploymentFrequency).toMatchObject({
      value: 2,
      samples: 2,
    });
    // Statuses in the same millisecond are ordered by their id.
    const tie = deployment(HOUR, [
      ['failure', 0],
      ['success', 0],
    ]);
    expect(deploymentOutcome(tie).outcome).toBe('success');
  });

  it('counts a deployment by its creation time, both window ends included', () => {
    const days = 7;
    const atStart = success(days * DAY, HOUR);
    const justBefore = deployment(days * DAY + 1, [['failure', 0]]);
    const atEnd = success(0, HOUR, 0);
    const future = deployment(-MINUTE, [['failure', 0]]);
    const report = computeDora([atStart, justBefore, atEnd, future], { now: NOW, days });
    expect(report.deployments).toMatchObject({ total: 2, successful: 2, failed: 0 });
    expect(report.changeFailureRate).toMatchObject({ value: 0, samples: 2 });
  });

  it('lead time leaves out unknown commit times and commits dated after the success', () => {
    const history = [success(3 * HOUR, 3 * HOUR), success(2 * HOUR, null), success(HOUR, -10 * MINUTE)];
    const report = computeDora(history, { now: NOW, days: 1 });
    expect(report.leadTime).toMatchObject({
      value: 3,
      met: false,
      samples: 1,
      detail: '1 successful deployment with a known commit time',
    });
    expect(computeDora([success(HOUR, null)], { now: NOW, days: 1 }).leadTime).toMatchObject({
      value: null,
      detail: 'not enough data: no successful deployment with a known commit time',
    });
  });

  it('a change failure rate of exactly 5% misses the target of under 5%', () => {
    const history = [
      ...Array.from({ length: 19 }, (_, index) => success((index + 2) * HOUR)),
      deployment(HOUR, [['failure', 0]]),
    ];
    expect(computeDora(history, { now: NOW, days: 7 }).changeFailureRate).toMatchObject({
      value: 0.05,
      met: false,
      samples: 20,
    });
  });
});

describe('doraSummary', () => {
  it('writes one row per figure: value, target, met and samples', () => {
    const report = computeDora([success(3 * HOUR, 30 * MINUTE), deployment(2 * HOUR, [['failure', 0]])], {
      now: NOW,
      days: 7,
    });
    const summary = doraSummary('production', report);
    expect(summary).toContain('### DORA figures: production, last 7 days');
    expect(summary).toContain('| figure | value | target | met | samples |');
    expect(summary).toContain(
      '| deployment frequency | 1 per week | \\> 10 per week | ❌ no | 1 (1 successful deployment) |',
    );
    expect(summary).toContain(
      '| lead time for changes | 0.5 h | < 2 h | ✅ yes | 1 (1 successful deployment with a known commit time) |',
    );
    expect(summary).toContain(
      '| mean time to recovery | not enough data | < 15 min | — | 0 (not enough data: 1 failed deployment, none recovered yet) |',
    );
    expect(summary).toContain(
      '| change failure rate | 50% | < 5% | ❌ no | 2 (2 deployments with an outcome, 1 failed) |',
    );
  });
});

describe('nextPageUrl', () => {
  it('finds rel="next" in a Link header', () => {
    const link =
      '<https://api.github.com/repositories/1/deployments?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/deployments?per_page=100&page=5>; rel="last"';
    expect(nextPageUrl(link)).toBe('https://api.github.com/repositories/1/deployments?per_page=100&page=2');
    expect(nextPageUrl('<https://x/?page=1>; rel="prev", <https://x/?page=3>; rel="last"')).toBeNull();
    expect(nextPageUrl('<https://x/?page=2>; rel=next')).toBe('https://x/?page=2');
    expect(nextPageUrl('<https://x/?page=9>; rel="nextish"')).toBeNull();
    expect(nextPageUrl(undefined)).toBeNull();
    expect(nextPageUrl('')).toBeNull();
  });
});
