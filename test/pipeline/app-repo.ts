// The example application as a git repository of its own, as a team adopting the suite has it:
// test/fixture-app, the lab's service, and examples/*.yml copied unchanged into .github/workflows.
// The scenarios push commits, branches and tags to it and run the callers for those events.
import { execFileSync } from 'node:child_process';
import { cpSync, copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../lab/run-action';

export const FIXTURE_APP = join(REPO_ROOT, 'test', 'fixture-app');
const EXAMPLES = join(REPO_ROOT, 'examples');

export interface AppRepo {
  path: string;
  /** Commits what `files` holds (path → text, relative to the repository) and returns the sha. */
  commit(message: string, files?: Record<string, string>): string;
  /** Checks out `branch`, making it from the current commit when new. */
  branch(name: string): void;
  /** An annotated tag on HEAD. */
  tag(name: string): string;
  head(): string;
}

function git(dir: string, args: string[]): string {
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'Ada Agent',
    GIT_AUTHOR_EMAIL: 'ada@example.com',
    GIT_COMMITTER_NAME: 'Ada Agent',
    GIT_COMMITTER_EMAIL: 'ada@example.com',
  };
  return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/**
 * Lays the repository out in `dir` (which must not exist yet) and commits it on main.
 * `files` adds or replaces files before the first commit (the staging inventory, for one).
 */
export function makeAppRepo(dir: string, files: Record<string, string> = {}): AppRepo {
  cpSync(FIXTURE_APP, dir, { recursive: true });
  copyFileSync(join(REPO_ROOT, 'test', 'lab', 'app-server.mjs'), join(dir, 'app-server.mjs'));
  mkdirSync(join(dir, '.github', 'workflows'), { recursive: true });
  for (const file of readdirSync(EXAMPLES).filter((name) => name.endsWith('.yml'))) {
    copyFileSync(join(EXAMPLES, file), join(dir, '.github', 'workflows', file));
  }
  writeFileSync(join(dir, '.gitignore'), 'node_modules/\ncoverage/\nreports/\nmodel/out/\n');
  for (const [file, text] of Object.entries(files)) write(dir, file, text);
  git(dir, ['init', '--quiet', '--initial-branch', 'main']);
  const repo: AppRepo = {
    path: dir,
    commit(message, changes = {}) {
      for (const [file, text] of Object.entries(changes)) write(dir, file, text);
      git(dir, ['add', '--all']);
      git(dir, ['commit', '--quiet', '--allow-empty', '--message', message]);
      return repo.head();
    },
    branch(name) {
      const exists = git(dir, ['branch', '--list', name]) !== '';
      git(dir, ['checkout', '--quiet', ...(exists ? [] : ['-b']), name]);
    },
    tag(name) {
      git(dir, ['tag', '--annotate', '--message', name, name]);
      return repo.head();
    },
    head: () => git(dir, ['rev-parse', 'HEAD']),
  };
  repo.commit('The Agent Loop service, its tests, model and pipeline');
  return repo;
}

function write(dir: string, file: string, text: string): void {
  const target = join(dir, file);
  mkdirSync(join(target, '..'), { recursive: true });
  writeFileSync(target, text);
}
