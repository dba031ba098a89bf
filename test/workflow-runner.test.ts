import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runWorkflow, type RunOptions, type RunResult } from './workflow/index';

/**
 * The workflow runner (test/workflow/) on the fixture repository test/workflow/fixtures/repo,
 * copied into a git repository: main holds a merged pull request, `release/2` and `release/old-1`
 * change src/, `release/docs` changes only a Markdown file, and v1.0.0 / v0.9.0 are tags.
 */

const ROOT = join(import.meta.dirname, '..');
let repo: string;

function git(...args: string[]): string {
  return execFileSync('git', ['-C', repo, '-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args], {
    encoding: 'utf8',
  }).trim();
}

function commitOn(branch: string, file: string, text: string, message: string): void {
  git('checkout', '-q', '-b', branch, 'main');
  writeFileSync(join(repo, file), text);
  git('add', '-A');
  git('commit', '-q', '-m', message);
  git('checkout', '-q', 'main');
}

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), 'workflow-runner-repo-'));
  cpSync(join(ROOT, 'test/workflow/fixtures/repo'), repo, { recursive: true });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'Initial');
  git('tag', 'v0.9.0');
  commitOn('feature', 'src/feature.ts', 'export const feature = 1;\n', 'Add the feature');
  git('merge', '-q', '--no-ff', 'feature', '-m', 'Merge pull request #1 from org/feature');
  git('tag', 'v1.0.0');
  commitOn('release/2', 'src/app.ts', 'export const app = 2;\n', 'Release 2');
  commitOn('release/old-1', 'src/app.ts', 'export const app = 3;\n', 'Old release');
  commitOn('release/docs', 'src/notes.md', '# notes\n', 'Docs only');
});

function run(workflow: string, options: Partial<RunOptions> = {}): Promise<RunResult> {
  return runWorkflow({ workflow: join(repo, '.github/workflows', workflow), event: 'push', repo, ...options });
}

const steps = (result: RunResult, job: string) => result.jobs[job]?.steps ?? {};
const output = (result: RunResult, job: string, step: string) => steps(result, job)[step]?.outputs ?? {};

describe('workflow runner: triggers', () => {
  it('runs a push to main whose changed files match paths, with the event GitHub would send', async () => {
    const result = await run('triggers.yml');
    expect(result.conclusion).toBe('success');
    expect(output(result, 'show', 'show')).toMatchObject({ event: 'push', ref: 'refs/heads/main', merged: '' });
  });

  it('applies branches with ! patterns and paths with ! patterns', async () => {
    expect((await run('triggers.yml', { ref: 'release/2' })).conclusion).toBe('success');
    const old = await run('triggers.yml', { ref: 'release/old-1' });
    expect(old).toMatchObject({ conclusion: 'skipped', jobs: {} });
    expect(old.errors[0]).toContain('release/old-1 matches no pattern of on.push.branches');
    const docs = await run('triggers.yml', { ref: 'release/docs' });
    expect(docs.conclusion).toBe('skipped');
    expect(docs.errors[0]).toContain('no changed file matches on.push.paths (changed: src/notes.md)');
  });

  it('runs a merged pull request (closed) on its merge commit, and not a workflow without types: [closed]', async () => {
    const result = await run('triggers.yml', { event: 'pull_request' });
    expect(output(result, 'show', 'show')).toMatchObject({
      event: 'pull_request',
      ref: 'refs/pull/1/merge',
      merged: 'true',
      'head-ref': 'feature',
    });
    const other = await run('tags.yml', { event: 'pull_request' });
    expect(other.conclusion).toBe('skipped');
  });

  it('filters tags (a push of a branch does not run a tags-only workflow)', async () => {
    const tag = await run('tags.yml', { ref: 'refs/tags/v1.0.0' });
    expect(output(tag, 'release', 'tag')).toEqual({ name: 'v1.0.0 type=tag' });
    expect((await run('tags.yml', { ref: 'refs/tags/v0.9.0' })).conclusion).toBe('skipped');
    expect((await run('tags.yml')).errors[0]).toContain('on.push filters only tags');
  });

  it('types workflow_dispatch inputs and refuses a value outside the choices', async () => {
    const result = await run('triggers.yml', {
      event: 'workflow_dispatch',
      inputs: { level: 'high', 'dry-run': 'true', count: '3' },
    });
    expect(output(result, 'show', 'show').inputs).toBe('high|true|true');
    const refused = await run('triggers.yml', { event: 'workflow_dispatch', inputs: { level: 'loud' } });
    expect(refused.conclusion).toBe('startup_failure');
    expect(refused.errors).toEqual(["Provided value 'loud' for input 'level' not in the list of allowed values"]);
  });

  it('runs on schedule for its cron only', async () => {
    expect((await run('triggers.yml', { event: 'schedule', payload: { schedule: '0 2 * * 0' } })).conclusion).toBe(
      'success',
    );
    expect((await run('triggers.yml', { event: 'schedule', payload: { schedule: '5 4 * * *' } })).conclusion).toBe(
      'skipped',
    );
  });
});

describe('workflow runner: reusable workflows', () => {
  it('passes typed inputs with defaults and secrets (a mapping, then inherit), and returns the workflow outputs', async () => {
    const result = await run('caller.yml', { secrets: { DEPLOY_TOKEN: 'deploy-token-1234' }, actionsRepo: repo });
    expect(result.conclusion).toBe('success');
    expect(Object.keys(result.jobs)).toEqual([
      'local/plan',
      'local/production',
      'local',
      'remote/plan',
      'remote/production',
      'remote',
      'after',
    ]);
    // replicas defaults to 3, canary to true; the input default ${{ github.ref }} is evaluated; the caller's env does not reach it.
    expect(result.jobs.local!.outputs.summary).toBe(
      'web:true:true:refs/heads/main token=17 optional=0 caller-env=[] job=production workflow=caller',
    );
    expect(result.jobs.remote!.outputs.summary).toBe(
      'api:false:false:refs/heads/main token=17 optional=0 caller-env=[] job=production workflow=caller',
    );
    expect(output(result, 'after', 'after').remote).toContain('api:false:false');
  });

  it.each([
    [
      'caller-missing-input.yml',
      '.github/workflows/caller-missing-input.yml (Line: 4, Col: 11): Input app is required, but not provided while calling.',
    ],
    [
      'caller-unknown-input.yml',
      '.github/workflows/caller-unknown-input.yml (Line: 7, Col: 15): Invalid input, colour is not defined in the referenced workflow.',
    ],
    [
      'caller-missing-secret.yml',
      '.github/workflows/caller-missing-secret.yml (Line: 4, Col: 11): Secret DEPLOY_TOKEN is required, but not provided while calling.',
    ],
    [
      'caller-bad-type.yml',
      ".github/workflows/caller-bad-type.yml (Line: 7, Col: 15): Unexpected type of value 'maybe', expected type: Boolean.",
    ],
  ])('refuses %s with GitHub’s words', async (file, message) => {
    const result = await run(file);
    expect(result).toMatchObject({ conclusion: 'startup_failure', jobs: {} });
    expect(result.errors).toEqual([message]);
  });

  it('refuses a workflow the parser refuses, naming file, line and column', async () => {
    const result = await run('broken.yml');
    expect(result.conclusion).toBe('startup_failure');
    expect(result.errors).toContain(".github/workflows/broken.yml (Line: 5, Col: 5): Unexpected value 'stepz'");
  });
});

describe('workflow runner: jobs', () => {
  it('follows needs and if with failure(), always(), cancelled() and the default success()', async () => {
    const result = await run('status.yml');
    expect(result.conclusion).toBe('failure');
    expect(Object.fromEntries(Object.entries(result.jobs).map(([id, job]) => [id, job.result]))).toEqual({
      build: 'failure',
      tests: 'skipped',
      report: 'success',
      cleanup: 'success',
      'on-cancel': 'skipped',
      later: 'skipped',
    });
    expect(steps(result, 'build')).toMatchObject({
      __run: { outcome: 'failure', conclusion: 'failure' },
      'on-failure': { outcome: 'success', outputs: { saw: 'failure' } },
      always: { outcome: 'success' },
      default: { outcome: 'skipped', conclusion: 'skipped' },
    });
    expect(output(result, 'report', 'report')).toEqual({ tests: 'skipped' });
  });

  it('drops a job output that holds a secret or a masked value, with the runner’s warning', async () => {
    const result = await run('outputs.yml', { secrets: { API_TOKEN: 'api-token-5678' } });
    expect(result.jobs.produce!.outputs).toEqual({ plain: 'hello' });
    expect(output(result, 'produce', 'out')).toMatchObject({ plain: 'hello', secret: 'token:***', masked: '***' });
    expect(result.annotations.filter((a) => a.level === 'warning').map((a) => a.message)).toEqual([
      "Skip output 'secret' since it may contain secret.",
      "Skip output 'masked' since it may contain secret.",
    ]);
    expect(output(result, 'consume', 'read')).toEqual({ seen: '[hello][]' });
    expect(JSON.stringify(result)).not.toContain('api-token-5678');
  });

  it('expands a matrix with include, lets an experimental leg fail (continue-on-error), cancels the rest on fail-fast', async () => {
    const result = await run('matrix.yml');
    expect(Object.fromEntries(Object.entries(result.jobs).map(([id, job]) => [id, job.result]))).toEqual({
      'test (20, false)': 'success',
      'test (22, false, slim)': 'success',
      'test (24, true)': 'failure',
      'strict (1)': 'failure',
      'strict (2)': 'cancelled',
      'strict (3)': 'cancelled',
      after: 'success',
    });
    expect(output(result, 'test (22, false, slim)', 'run').leg).toBe('22/slim/1/3');
    expect(output(result, 'after', 'after')).toEqual({ result: 'success last=24' });
    expect(result.conclusion).toBe('failure');
  });

  it('kills a step at its timeout-minutes (SIGINT to its process group) and a job at its own', async () => {
    const started = Date.now();
    const result = await run('timeout.yml');
    expect(Date.now() - started).toBeLessThan(8000);
    expect(steps(result, 'step-timeout')).toMatchObject({
      slow: { outcome: 'failure' },
      after: { outputs: { after: 'failure' } },
    });
    expect(result.log).toContain('  got-sigint');
    expect(result.annotations.map((a) => a.message)).toContain(
      "The action 'Run trap 'echo got-sigint' INT' has timed out after 0.02 minutes.",
    );
    expect(result.jobs['job-timeout']).toMatchObject({
      result: 'failure',
      steps: { __run: { outcome: 'cancelled' }, never: { outcome: 'skipped' }, cleanup: { outcome: 'success' } },
    });
    expect(result.annotations.map((a) => a.message)).toContain(
      'The job running on runner GitHub Actions 2 has exceeded the maximum execution time of 0.02 minutes.',
    );
  });

  it('gives environment secrets only to jobs in that environment, and follows the reviewer’s answer', async () => {
    const envSecrets = { staging: { DEPLOY_KEY: 'staging-key-1' }, production: { DEPLOY_KEY: 'production-key-22' } };
    const approved = await run('environments.yml', { envSecrets, environments: { production: 'approve' } });
    expect(approved.conclusion).toBe('success');
    expect(['build', 'staging', 'production'].map((job) => output(approved, job, 'see').length)).toEqual([
      '0',
      '13',
      '17',
    ]);
    expect(approved.log).toContain('  Environment url: https://prod.example.com/17');
    for (const answer of ['reject', 'timeout'] as const) {
      const refused = await run('environments.yml', { envSecrets, environments: { production: answer } });
      expect(refused.conclusion).toBe('failure');
      expect(refused.jobs.production).toEqual({ result: 'failure', outputs: {}, steps: {} });
      expect(refused.jobs.staging!.result).toBe('success');
    }
  });

  it('cancels a run in progress when a newer one enters its concurrency group; cancelled() then holds', async () => {
    const first = run('concurrency.yml', { event: 'workflow_dispatch' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const second = run('concurrency.yml', { event: 'workflow_dispatch', inputs: { seconds: '0' } });
    const [older, newer] = await Promise.all([first, second]);
    expect(older.conclusion).toBe('cancelled');
    expect(older.jobs.slow!.result).toBe('cancelled');
    expect(output(older, 'after-cancel', 'saw')).toEqual({ cancelled: 'cancelled' });
    expect(newer.conclusion).toBe('success');
    expect(newer.jobs['after-cancel']!.result).toBe('skipped');
  }, 60_000);
});

describe('workflow runner: steps', () => {
  it('applies GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH and GITHUB_STEP_SUMMARY, reads workflow commands, masks', async () => {
    const result = await run('commands.yml', { secrets: { API_TOKEN: 'api-token-5678' } });
    expect(result.conclusion).toBe('success');
    expect(steps(result, 'commands')).toMatchObject({
      write: { outputs: { single: 'one', multi: 'line 1\nline 2' } },
      read: { outputs: { greeting: 'hello from env', tool: 'tool-ran', 'env-context': 'hello from env' } },
      commands: { outputs: { out: '***' } },
      flaky: { outcome: 'failure', conclusion: 'success' },
      'after-flaky': { outputs: { status: 'success flaky=failure/success' } },
      sh: { outputs: { pwd: 'sub' } },
      __run: { outcome: 'success' },
      __run_2: { outcome: 'success' },
    });
    expect(result.summaries['commands/write']).toBe('### Hello summary\nsecret in summary: ***\n');
    expect(result.log).toContain('  the value is ***');
    expect(result.log).toContain('  ::error::not an annotation');
    // The script is shown before it runs (as on GitHub), so only the lines it printed are checked.
    expect(result.log.filter((line) => !line.includes('echo '))).not.toContainEqual(
      expect.stringMatching(/hide-me-please|api-token-5678|hidden debug/),
    );
    expect(
      result.annotations
        .filter((a) => a.level !== 'error' || a.file)
        .map(({ level, message, file, line, col, title }) => ({ level, message, file, line, col, title })),
    ).toEqual([
      { level: 'error', message: 'something broke', file: 'src/app.ts', line: 3, col: 5, title: 'Bad thing' },
      { level: 'warning', message: 'careful', file: undefined, line: undefined, col: undefined, title: undefined },
      { level: 'notice', message: 'fyi', file: undefined, line: undefined, col: undefined, title: undefined },
      { level: 'warning', message: 'after resume', file: undefined, line: undefined, col: undefined, title: undefined },
    ]);
  });

  it('runs a JavaScript action under Node 24: pre (not for a local action), main, post under post-if', async () => {
    const result = await run('node-action.yml', { actionsRepo: repo, vars: { SOURCE: repo } });
    expect(output(result, 'remote', 'hello')).toMatchObject({
      message: 'push-hello, world',
      'state-from-pre': 'pre-ran',
      'action-path-ok': 'true',
    });
    expect(output(result, 'remote', 'hello').node).toMatch(/^v24\./);
    expect(output(result, 'local', 'hello')).toMatchObject({ message: 'hi, local', 'state-from-pre': '' });
    expect(result.summaries['remote/hello']).toBe('post ran for world\n');
    expect(result.summaries['local/hello']).toBe('post ran for local\n');
    // post-if: success() reads the job's status: the main step failed, so no post step.
    expect(result.jobs['post-if']!.result).toBe('failure');
    expect(result.summaries['post-if/hello']).toBeUndefined();
  });

  it('fails a run whose uses: resolves to nothing, naming it', async () => {
    const result = await run('missing-action.yml');
    expect(result.conclusion).toBe('failure');
    expect(result.annotations.map((a) => a.message)).toContain(
      'Unable to resolve action `someone/unknown-action@v3`, repository not found (this runner has no stand-in for it)',
    );
  });

  it("runs this repository's plan action through a caller and reads its outputs", async () => {
    const result = await run('plan.yml');
    const sha = git('rev-parse', 'HEAD').slice(0, 7);
    expect(result.conclusion).toBe('success');
    expect(output(result, 'plan', 'plan')).toMatchObject({
      kind: 'normal',
      deploy: 'true',
      version: `sha-${sha}`,
      image: `ghcr.io/org/service:sha-${sha}`,
    });
    expect(result.jobs.plan!.outputs).toEqual({ kind: 'normal', version: `sha-${sha}` });
  });
});

describe('workflow runner: command line', () => {
  const cli = (args: string[]) =>
    spawnSync('npx', ['tsx', 'test/workflow/cli.ts', 'run', ...args], { cwd: ROOT, encoding: 'utf8' });

  it('exits 0, 1 or 2 and writes the JSON result', () => {
    const dir = mkdtempSync(join(tmpdir(), 'workflow-cli-'));
    const json = join(dir, 'result.json');
    const ok = cli([
      join(repo, '.github/workflows/tags.yml'),
      '--event',
      'push',
      '--ref',
      'refs/tags/v1.0.0',
      '--repo',
      repo,
      '--json',
      json,
    ]);
    expect(ok.status).toBe(0);
    expect(JSON.parse(readFileSync(json, 'utf8'))).toEqual({
      conclusion: 'success',
      jobs: {
        release: {
          result: 'success',
          outputs: {},
          steps: { tag: { outcome: 'success', conclusion: 'success', outputs: { name: 'v1.0.0 type=tag' } } },
        },
      },
    });
    expect(ok.stderr).toContain('▶ Job release');
    expect(cli([join(repo, '.github/workflows/status.yml'), '--event', 'push', '--json', json]).status).toBe(1);
    const refused = cli([join(repo, '.github/workflows/broken.yml'), '--event', 'push', '--json', json]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain("(Line: 5, Col: 5): Unexpected value 'stepz'");
    expect(JSON.parse(readFileSync(json, 'utf8'))).toEqual({ conclusion: 'startup_failure', jobs: {} });
  });
});
