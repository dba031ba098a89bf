import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runner } from '../src/action';
import { stdoutOf } from './support/stdout';

/**
 * The runner's commands as the actions write them, side by side with the toolkit's own
 * @actions/core (which the bundles no longer carry): the same calls must leave the same stdout and
 * the same GITHUB_OUTPUT, GITHUB_STATE and GITHUB_STEP_SUMMARY files, up to each heredoc's random
 * delimiter.
 */

let dir: string;
const saved = { ...process.env };
const exitCode = process.exitCode;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'al-runner-'));
});
afterEach(() => {
  process.env = { ...saved };
  process.exitCode = exitCode;
  rmSync(dir, { recursive: true, force: true });
});

/** stdout written during `body`, and the runner files after it; delimiters replaced by one name. */
async function observe(
  label: string,
  body: () => Promise<void> | void,
): Promise<{ stdout: string; files: Record<string, string>; exitCode: typeof process.exitCode }> {
  const files = {
    OUTPUT: join(dir, `${label}-output`),
    STATE: join(dir, `${label}-state`),
    STEP_SUMMARY: join(dir, `${label}-summary`),
  };
  for (const [kind, file] of Object.entries(files)) {
    writeFileSync(file, '');
    process.env[`GITHUB_${kind}`] = file;
  }
  process.exitCode = undefined;
  const stdout = await stdoutOf(body);
  const plain = (text: string) => text.replace(/ghadelimiter_[0-9a-f-]{36}/g, 'ghadelimiter_X');
  return {
    stdout,
    files: Object.fromEntries(Object.entries(files).map(([kind, file]) => [kind, plain(readFileSync(file, 'utf8'))])),
    exitCode: process.exitCode,
  };
}

const hostile = 'line one\r\nline two %0A 100% ::add-mask::x\n::stop-commands::y';

describe("the runner's commands", () => {
  it('read inputs as the toolkit does: INPUT_<NAME> with spaces as _, upper-cased, hyphens kept, trimmed', () => {
    process.env['INPUT_SSH-PRIVATE-KEY'] = '  key \n';
    process.env.INPUT_MY_INPUT = 'x';
    for (const name of ['ssh-private-key', 'my input', 'absent'])
      expect(runner.getInput(name)).toBe(core.getInput(name));
    expect(runner.getInput('ssh-private-key')).toBe('key');
    process.env.STATE_isPost = 'true';
    expect(runner.getState('isPost')).toBe(core.getState('isPost'));
  });

  it('write outputs, state, summaries, annotations, groups, masks and failures as the toolkit does', async () => {
    const calls = async (api: typeof runner | 'toolkit') => {
      const r =
        api === 'toolkit'
          ? {
              setOutput: core.setOutput,
              saveState: core.saveState,
              setSecret: core.setSecret,
              info: core.info,
              debug: core.debug,
              notice: (m: string) => core.notice(m),
              warning: (m: string) => core.warning(m),
              error: (m: string) => core.error(m),
              group: core.group,
              setFailed: core.setFailed,
              appendSummary: async (markdown: string) => void (await core.summary.addRaw(markdown, true).write()),
            }
          : api;
      r.setOutput('report', JSON.stringify({ hosts: ['a', 'b'] }));
      r.setOutput('multi-line', hostile);
      r.setOutput('empty', '');
      r.saveState('isPost', 'true');
      r.setSecret('s3cr3t-value');
      r.info(hostile);
      r.debug(hostile);
      r.notice(hostile);
      r.warning(hostile);
      r.error(hostile);
      await r.group(`group ${hostile}`, async () => r.info('inside'));
      await r.appendSummary('### title\n\n| a | b |');
      await r.appendSummary('second');
      r.setFailed(hostile);
    };
    const toolkit = await observe('toolkit', () => calls('toolkit'));
    const ours = await observe('ours', () => calls(runner));
    expect(ours).toEqual(toolkit);
    // What they agree on is the real thing: escaped command data, heredocs, exit code 1.
    expect(ours.stdout).toContain(
      '::warning::line one%0D%0Aline two %250A 100%25 ::add-mask::x%0A::stop-commands::y\n',
    );
    expect(ours.files.OUTPUT).toContain('multi-line<<ghadelimiter_X\nline one\r\nline two');
    expect(ours.exitCode).toBe(1);
  });

  it('fall back to the old stdout commands without the runner files, as the toolkit does', async () => {
    const without = async (body: () => void) => {
      const seen = await observe('plain', () => {
        delete process.env.GITHUB_OUTPUT;
        delete process.env.GITHUB_STATE;
        body();
      });
      return seen.stdout;
    };
    expect(await without(() => runner.setOutput('version', 'v1'))).toBe(
      await without(() => core.setOutput('version', 'v1')),
    );
    expect(await without(() => runner.saveState('isPost', 'true'))).toBe(
      await without(() => core.saveState('isPost', 'true')),
    );
  });
});
