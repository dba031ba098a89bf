// actions/checkout: a real git fetch of the event's repository (a local path) into the workspace,
// with the real action's ref resolution, refspecs and fetch depth. What it leaves out: other
// repositories, tokens and SSH keys (nothing to authenticate against a local path), LFS,
// submodules, sparse checkout and filters.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { StandIn, StandInContext } from './index';
import { mustRun, runCommand, stepEnv } from './command';
import { booleanInput, noteInputs, StandInError, stringInput } from './inputs';

const Inputs = {
  Repository: 'repository',
  Ref: 'ref',
  Path: 'path',
  Clean: 'clean',
  FetchDepth: 'fetch-depth',
  FetchTags: 'fetch-tags',
} as const;

const IGNORED: Record<string, string> = {
  token: 'a local path needs no token',
  'ssh-key': 'a local path needs no key',
  'ssh-known-hosts': 'a local path needs no key',
  'ssh-strict': 'a local path needs no key',
  'ssh-user': 'a local path needs no key',
  'persist-credentials': 'no credentials are configured for a local path',
  filter: 'the whole history of the fetched commits is fetched',
  'sparse-checkout': 'the whole tree is checked out',
  'sparse-checkout-cone-mode': 'the whole tree is checked out',
  'show-progress': 'progress is never shown',
  lfs: 'no LFS here',
  submodules: 'submodules are not fetched',
  'set-safe-directory': 'git runs as the owner of the clone',
  'github-server-url': 'the repository is a local path',
  reference: 'no reference repository',
};

const TAGS_REFSPEC = '+refs/tags/*:refs/tags/*';

interface CheckoutSettings {
  repositoryPath: string;
  /** refs/heads/main, refs/tags/v1, refs/pull/1/merge, an unqualified branch or tag, or '' with a commit. */
  ref: string;
  commit: string;
  clean: boolean;
  /** 0: all history of all branches and tags. */
  fetchDepth: number;
  fetchTags: boolean;
}

function readInputs(inputs: Record<string, string>, ctx: StandInContext): CheckoutSettings {
  const repository = stringInput(inputs, Inputs.Repository, ctx.repository.fullName);
  const [owner, name, ...rest] = repository.split('/');
  if (!owner || !name || rest.length > 0)
    throw new StandInError(`Invalid repository '${repository}'. Expected format {owner}/{repo}.`);
  // Only the event's repository exists on this machine.
  if (repository.toUpperCase() !== ctx.repository.fullName.toUpperCase()) {
    throw new StandInError(
      `The checkout stand-in clones only the workflow's repository (${ctx.repository.fullName}), not '${repository}'`,
    );
  }
  const workspace = path.resolve(ctx.workspace);
  const repositoryPath = path.resolve(workspace, stringInput(inputs, Inputs.Path, '.'));
  if (!(repositoryPath + path.sep).startsWith(workspace + path.sep))
    throw new StandInError(`Repository path '${repositoryPath}' is not under '${workspace}'`);

  let ref = stringInput(inputs, Inputs.Ref);
  let commit = '';
  if (!ref) {
    ref = ctx.repository.ref;
    commit = ctx.repository.sha;
    // Some events carry an unqualified ref ("main" for a merged pull request).
    if (commit && ref && !ref.startsWith('refs/')) ref = `refs/heads/${ref}`;
  } else if (/^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/.test(ref)) {
    commit = ref;
    ref = '';
  }
  let fetchDepth = Math.floor(Number(stringInput(inputs, Inputs.FetchDepth, '1')));
  if (Number.isNaN(fetchDepth) || fetchDepth < 0) fetchDepth = 0;
  return {
    repositoryPath,
    ref,
    commit,
    clean: booleanInput(inputs, Inputs.Clean, true),
    fetchDepth,
    fetchTags: booleanInput(inputs, Inputs.FetchTags, false),
  };
}

// ------------------------------------------------------------------ refspecs, as the real one

function refSpecForAllHistory(ref: string, commit: string): string[] {
  const specs = ['+refs/heads/*:refs/remotes/origin/*', TAGS_REFSPEC];
  if (ref.toUpperCase().startsWith('REFS/PULL/'))
    specs.push(`+${commit || ref}:refs/remotes/pull/${ref.slice('refs/pull/'.length)}`);
  return specs;
}

function refSpec(ref: string, commit: string): string[] {
  const upper = ref.toUpperCase();
  if (commit) {
    if (upper.startsWith('REFS/HEADS/')) return [`+${commit}:refs/remotes/origin/${ref.slice('refs/heads/'.length)}`];
    if (upper.startsWith('REFS/PULL/')) return [`+${commit}:refs/remotes/pull/${ref.slice('refs/pull/'.length)}`];
    if (upper.startsWith('REFS/TAGS/')) return [`+${commit}:${ref}`];
    return [commit];
  }
  if (!upper.startsWith('REFS/'))
    return [`+refs/heads/${ref}*:refs/remotes/origin/${ref}*`, `+refs/tags/${ref}*:refs/tags/${ref}*`];
  if (upper.startsWith('REFS/HEADS/')) return [`+${ref}:refs/remotes/origin/${ref.slice('refs/heads/'.length)}`];
  if (upper.startsWith('REFS/PULL/')) return [`+${ref}:refs/remotes/pull/${ref.slice('refs/pull/'.length)}`];
  return [`+${ref}:${ref}`];
}

// ------------------------------------------------------------------------------------ git

type Git = (args: string[], what?: string) => Promise<string>;

function gitIn(dir: string, ctx: StandInContext): Git {
  const env = stepEnv(ctx, { GIT_TERMINAL_PROMPT: '0' });
  return async (args, what) => {
    ctx.log(`[command]git ${args.join(' ')}`);
    return (
      await mustRun(['git', ...args], what ?? `git ${args[0] === '-c' ? args[2] : args[0]}`, { env, cwd: dir })
    ).stdout.trim();
  };
}

async function succeeds(dir: string, ctx: StandInContext, args: string[]): Promise<boolean> {
  return (await runCommand(['git', ...args], { env: stepEnv(ctx), cwd: dir })).code === 0;
}

/** The real one keeps a clone of the same repository (cleaned) and empties a folder holding anything else. */
async function prepareDirectory(settings: CheckoutSettings, url: string, ctx: StandInContext): Promise<void> {
  const dir = settings.repositoryPath;
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) await fsp.rm(dir, { force: true });
  await fsp.mkdir(dir, { recursive: true });
  const entries = await fsp.readdir(dir);
  if (entries.length === 0) return;
  const sameRepository =
    fs.existsSync(path.join(dir, '.git')) &&
    (
      await runCommand(['git', 'config', '--local', '--get', 'remote.origin.url'], { env: stepEnv(ctx), cwd: dir })
    ).stdout.trim() === url;
  if (sameRepository && settings.clean) {
    const git = gitIn(dir, ctx);
    await git(['clean', '-ffdx']);
    await git(['reset', '--hard', 'HEAD']).catch(() => undefined); // a clone with no commit yet has no HEAD
    return;
  }
  if (sameRepository) return;
  ctx.log(`Deleting the contents of '${dir}'`);
  await Promise.all(entries.map((entry) => fsp.rm(path.join(dir, entry), { recursive: true, force: true })));
}

async function fetch(
  git: Git,
  dir: string,
  specs: string[],
  settings: { fetchDepth: number; fetchTags: boolean },
): Promise<void> {
  const args = ['-c', 'protocol.version=2', 'fetch'];
  if (!specs.includes(TAGS_REFSPEC) && !settings.fetchTags) args.push('--no-tags');
  args.push('--prune', '--no-recurse-submodules');
  if (settings.fetchDepth > 0) args.push(`--depth=${settings.fetchDepth}`);
  else if (fs.existsSync(path.join(dir, '.git', 'shallow'))) args.push('--unshallow');
  await git([...args, 'origin', ...specs]);
}

/** Whether the full fetch left `ref` at `commit` (a branch may have moved since the event). */
async function refAtCommit(dir: string, ctx: StandInContext, ref: string, commit: string): Promise<boolean> {
  if (!commit) return true;
  if (!ref) return await succeeds(dir, ctx, ['rev-parse', '--verify', '--quiet', `${commit}^{object}`]);
  const upper = ref.toUpperCase();
  const local = upper.startsWith('REFS/HEADS/')
    ? `refs/remotes/origin/${ref.slice('refs/heads/'.length)}`
    : upper.startsWith('REFS/TAGS/')
      ? ref
      : undefined;
  if (!local) return true;
  const at = await runCommand(['git', 'rev-parse', '--verify', '--quiet', `${local}^{commit}`], {
    env: stepEnv(ctx),
    cwd: dir,
  });
  return at.code === 0 && at.stdout.trim() === commit;
}

async function checkoutInfo(
  dir: string,
  ctx: StandInContext,
  ref: string,
  commit: string,
): Promise<{ ref: string; startPoint?: string }> {
  const upper = ref.toUpperCase();
  if (!ref) return { ref: commit };
  if (upper.startsWith('REFS/HEADS/')) {
    const branch = ref.slice('refs/heads/'.length);
    return { ref: branch, startPoint: `refs/remotes/origin/${branch}` };
  }
  if (upper.startsWith('REFS/PULL/')) return { ref: `refs/remotes/pull/${ref.slice('refs/pull/'.length)}` };
  if (upper.startsWith('REFS/')) return { ref };
  if (await succeeds(dir, ctx, ['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${ref}`]))
    return { ref, startPoint: `refs/remotes/origin/${ref}` };
  if (await succeeds(dir, ctx, ['rev-parse', '--verify', '--quiet', `refs/tags/${ref}`]))
    return { ref: `refs/tags/${ref}` };
  throw new StandInError(`A branch or tag with the name '${ref}' could not be found`);
}

export const checkout: StandIn = async (inputs, ctx) => {
  noteInputs(ctx, inputs, { handled: Object.values(Inputs), ignored: IGNORED });
  const settings = readInputs(inputs, ctx);
  // file:// rather than a plain path: git honours --depth only over a transport.
  const url = `file://${path.resolve(ctx.repository.path)}`;
  ctx.log(`Syncing repository: ${ctx.repository.fullName} (from ${ctx.repository.path})`);
  ctx.log(`Working directory is '${settings.repositoryPath}'`);
  await prepareDirectory(settings, url, ctx);
  const dir = settings.repositoryPath;
  const git = gitIn(dir, ctx);
  if (!fs.existsSync(path.join(dir, '.git'))) {
    await git(['init', '--quiet', dir]);
    await git(['remote', 'add', 'origin', url]);
  }
  await git(['config', '--local', 'gc.auto', '0']);

  if (!settings.ref && !settings.commit) {
    // The default branch, as the real one asks the API for it.
    const head = await git(['ls-remote', '--symref', url, 'HEAD']);
    const match = /^ref: (refs\/heads\/\S+)\s+HEAD/m.exec(head);
    if (!match?.[1]) throw new StandInError(`Could not determine the default branch of ${ctx.repository.path}`);
    settings.ref = match[1];
  }

  if (settings.fetchDepth <= 0) {
    await fetch(git, dir, refSpecForAllHistory(settings.ref, settings.commit), settings);
    if (!(await refAtCommit(dir, ctx, settings.ref, settings.commit)))
      await fetch(git, dir, refSpec(settings.ref, settings.commit), settings);
  } else {
    await fetch(git, dir, refSpec(settings.ref, settings.commit), settings);
  }

  const info = await checkoutInfo(dir, ctx, settings.ref, settings.commit);
  await git(
    info.startPoint
      ? ['checkout', '--quiet', '--force', '-B', info.ref, info.startPoint]
      : ['checkout', '--quiet', '--force', info.ref],
  );
  const commit = await git(['log', '-1', '--format=%H']);
  ctx.log(`Checked out ${settings.ref || commit} at ${commit}`);
  return { outputs: { ref: settings.ref, commit } };
};
