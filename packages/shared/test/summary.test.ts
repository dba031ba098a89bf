import { describe, expect, it } from 'vitest';
import type { HostReport, PhaseResult } from '../src/fleet';
import { phaseSummary } from '../src/report';
import { table } from '../src/action';

/** The cells of a Markdown table row, honouring `\|` escapes. */
const cells = (row: string): string[] =>
  row
    .slice(2, -2)
    .split(/(?<!\\) \| /)
    .map((cell) => cell.replaceAll('\\|', '|'));

describe('table', () => {
  it('writes a header, a separator and one row per line', () => {
    expect(
      table(
        ['a', 'b'],
        [
          ['1', '2'],
          ['3', '4'],
        ],
      ),
    ).toBe('| a | b |\n| --- | --- |\n| 1 | 2 |\n| 3 | 4 |');
    expect(table(['only'], [])).toBe('| only |\n| --- |');
  });

  it('escapes pipes and flattens line breaks so a cell cannot break the table', () => {
    const rendered = table(['host', 'detail'], [['web|1', 'line one\nline two\r\nline three\rline four | x']]);
    const lines = rendered.split(/\r\n|\r|\n/);
    expect(lines).toHaveLength(3);
    expect(cells(lines[2] as string)).toEqual(['web|1', 'line one line two line three line four | x']);
  });
});

const host = (overrides: Partial<HostReport>): HostReport => ({
  host: 'deploy@10.0.0.1',
  phase: 'deploy',
  outcome: 'success',
  fromColor: 'blue',
  liveAt: null,
  toColor: 'green',
  version: '1.4.0',
  previousVersion: '1.3.9',
  weightsBefore: { blue: 100, green: 0 },
  weightsAfter: { blue: 90, green: 10 },
  switchMs: 42,
  smoke: [],
  steps: [],
  ...overrides,
});

describe('phaseSummary', () => {
  it('summarises a successful deploy: hosts, smoke checks, steps and duration', () => {
    const result: PhaseResult = {
      ok: true,
      phase: 'deploy',
      activeColor: 'green',
      previousColor: 'blue',
      version: '1.4.0',
      previousVersion: '1.3.9',
      canaryPercent: 10,
      switchMs: 57,
      durationMs: 12_340,
      hosts: [
        host({
          smoke: [
            {
              method: 'POST',
              path: '/run-agent',
              status: 200,
              expectedStatus: 200,
              latencyMs: 120,
              maxLatencyMs: 2000,
              ok: true,
            },
          ],
          steps: [
            { step: 'preflight', ok: true, ms: 30, detail: '900 MB disk' },
            { step: 'switch traffic', ok: true, ms: 57 },
          ],
        }),
        host({ host: 'deploy@10.0.0.2', switchMs: 57, fromColor: null, previousVersion: null, weightsBefore: null }),
      ],
    };
    const markdown = phaseSummary('shop', result);
    const lines = markdown.split('\n');
    // First what happened, what was done and what to do next; then the figures.
    expect(lines[0]).toBe('### ✅ shop: 1.4.0 is a 10% canary on 2 hosts');
    expect(lines[2]).toBe(
      '- **Done:** 1.4.0 started on green next to 1.3.9, passed its checks, and takes 10% of requests',
    );
    expect(lines[3]).toMatch(/^- \*\*Next:\*\* Let canary-monitor judge it; then promote/);
    expect(
      lines.indexOf(
        '- **Next:** Let canary-monitor judge it; then promote (blue-green phase: promote), or roll back (the rollback action) to end it.',
      ),
    ).toBeLessThan(
      lines.indexOf('| host | outcome | from → to | versions | weights before | weights after | switch (ms) |'),
    );
    expect(lines).toContain('| host | outcome | from → to | versions | weights before | weights after | switch (ms) |');
    expect(lines).toContain(
      '| `deploy@10.0.0.1` | ✅ success | blue → green | 1.3.9 → 1.4.0 | blue 100% / green 0% | blue 90% / green 10% | 42 |',
    );
    expect(lines).toContain(
      '| `deploy@10.0.0.2` | ✅ success | — → green | — → 1.4.0 | — | blue 90% / green 10% | 57 |',
    );
    expect(lines).toContain('#### Smoke checks');
    expect(lines).toContain('| `deploy@10.0.0.1` | POST /run-agent | 200 | 120 / 2000 | ✅ |');
    expect(lines).toContain('| `deploy@10.0.0.1` | preflight | ok | 30 | 900 MB disk |');
    expect(lines).toContain('| `deploy@10.0.0.1` | switch traffic | ok | 57 |  |');
    expect(lines).toContain('<details><summary>Steps</summary>');
    expect(lines.at(-2)).toBe('Duration: 12.3 s; slowest switch 57 ms.');
    expect(markdown).not.toContain('> ');
  });

  it('puts a fence around host text longer than any run of backticks in it', () => {
    const result: PhaseResult = {
      ok: false,
      phase: 'deploy',
      activeColor: null,
      previousColor: null,
      version: 'v2',
      previousVersion: null,
      canaryPercent: 0,
      switchMs: null,
      durationMs: 0,
      error: 'h1: ```\n### not a heading\n```',
      hosts: [],
    };
    const lines = phaseSummary('shop', result).split('\n');
    const at = lines.indexOf('#### What went wrong');
    expect(lines.slice(at + 2, at + 7)).toEqual(['````text', 'h1: ```', '### not a heading', '```', '````']);
  });

  it('says what a rollback did, why, who asked, and where one can go instead', () => {
    const result = {
      ok: true,
      phase: 'rollback' as const,
      activeColor: 'blue' as const,
      previousColor: 'green' as const,
      version: 'v1',
      previousVersion: 'v2',
      canaryPercent: 100,
      switchMs: 40,
      durationMs: 900,
      hosts: [host({ phase: 'rollback', version: 'v1', previousVersion: 'v2' })],
      restoredMs: 420,
    };
    const lines = phaseSummary('shop', result, {
      reason: 'error rate 5%',
      trigger: 'canary-monitor',
      actor: 'octocat',
      incidentUrl: 'https://github.com/o/r/issues/7',
    }).split('\n');
    expect(lines[0]).toBe('### ✅ shop: rolled back to v1 (from v2)');
    expect(lines).toContain('- **Verdict:** trigger: canary-monitor; by octocat; reason: error rate 5%');
    expect(lines).toContain('- **Done:** all traffic on v1 (blue) on 1 host, 0.4 s after the decision');
    expect(lines).toContain('- **Incident:** [https\\://github.com/o/r/issues/7](https://github.com/o/r/issues/7)');
    const failed = phaseSummary(
      'shop',
      {
        ...result,
        ok: false,
        error: 'nothing was rolled back, because:\nh1: refused',
        hosts: [host({ outcome: 'failed' })],
      },
      { candidates: ['v0', 'v-1'] },
    );
    expect(failed.split('\n')[0]).toBe('### ❌ shop: rollback to v1 failed');
    expect(failed).toContain('Versions one can roll back to by name (target-version): v0, v-1.');
  });

  it('quotes a multi-line error, marks failed checks and leaves out what did not happen', () => {
    const result: PhaseResult = {
      ok: false,
      phase: 'promote',
      activeColor: null,
      previousColor: null,
      version: null,
      previousVersion: null,
      canaryPercent: 0,
      switchMs: null,
      durationMs: 800,
      error: 'nothing was promoted, because:\ndeploy@10.0.0.1: there is no canary | to promote',
      hosts: [
        host({
          outcome: 'failed',
          toColor: null,
          version: null,
          weightsAfter: null,
          switchMs: null,
          smoke: [
            {
              method: 'GET',
              path: '/',
              status: 500,
              expectedStatus: 200,
              latencyMs: 3,
              maxLatencyMs: 2000,
              ok: false,
              problem: 'answered 500, expected 200',
            },
          ],
          steps: [{ step: 'read live weights', ok: false, ms: 4, detail: 'nginx: [emerg] bad | config\non line 2' }],
        }),
      ],
    };
    const lines = phaseSummary('shop', result).split('\n');
    expect(lines[0]).toBe('### ❌ shop: promote of ? failed');
    expect(lines[2]).toBe('- **Verdict:** nothing was promoted, because: (1 of 1 host failed)');
    expect(lines[3]).toBe('- **Done:** every host is back on the weights it had: the canary still takes its share');
    // Each host's reason on its own line, as it was written (no Markdown, no links).
    const at = lines.indexOf('#### What went wrong');
    expect(lines.slice(at + 2, at + 6)).toEqual([
      '```text',
      'nothing was promoted, because:',
      'deploy@10.0.0.1: there is no canary | to promote',
      '```',
    ]);
    expect(lines).toContain('| `deploy@10.0.0.1` | ❌ failed | blue → — | 1.3.9 → — | blue 100% / green 0% | — | — |');
    expect(lines).toContain('| `deploy@10.0.0.1` | GET / | 500 | 3 / 2000 | ❌ answered 500, expected 200 |');
    expect(lines).toContain(
      '| `deploy@10.0.0.1` | read live weights | failed | 4 | nginx: \\[emerg\\] bad \\| config on line 2 |',
    );
    expect(lines.at(-2)).toBe('Duration: 0.8 s.');
  });

  it.each([
    ['reverted', '↩️ reverted'],
    ['unchanged', '⏸ unchanged'],
    ['noop', '✔️ already done'],
  ] as const)('names the outcome %s', (outcome, shown) => {
    const result: PhaseResult = {
      ok: true,
      phase: 'rollback',
      activeColor: null,
      previousColor: null,
      version: '1',
      previousVersion: null,
      canaryPercent: 0,
      switchMs: null,
      durationMs: 0,
      hosts: [host({ outcome })],
    };
    expect(phaseSummary('shop', result)).toContain(`| \`deploy@10.0.0.1\` | ${shown} |`);
    expect(phaseSummary('shop', result)).not.toContain('#### Smoke checks');
  });
});
