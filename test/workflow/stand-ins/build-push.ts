// docker/build-push-action: a real `docker build` with the engine of DOCKER_HOST (the classic
// builder) and a real `docker push` of every tag. Left out: other platforms than this machine's
// (a multi-platform list builds linux/amd64 only, said in the log), the registry cache, secrets,
// SSH, attestations, exporters other than the image store and the push.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { StandIn, StandInContext } from './index';
import { mustRun, stepEnv } from './command';
import { docker, NATIVE_PLATFORM } from './docker';
import { booleanInput, listInput, noteInputs, StandInError, stringInput } from './inputs';

const Inputs = {
  Context: 'context',
  File: 'file',
  Tags: 'tags',
  Labels: 'labels',
  BuildArgs: 'build-args',
  Platforms: 'platforms',
  Push: 'push',
  Load: 'load',
  Target: 'target',
  NoCache: 'no-cache',
  Pull: 'pull',
} as const;

const IGNORED: Record<string, string> = {
  'cache-from': 'the classic builder has no registry cache',
  'cache-to': 'the classic builder has no registry cache',
  'add-hosts': 'not passed',
  allow: 'no entitlements',
  annotations: 'no OCI annotations with the classic builder',
  attests: 'no attestations',
  builder: 'the engine is the only builder',
  'build-contexts': 'one context only',
  call: 'builds only',
  'cgroup-parent': 'not passed',
  github_token: 'no remote context',
  'github-token': 'no remote context',
  network: 'not passed',
  'no-cache-filters': 'not passed',
  outputs: 'the image store and the push only',
  provenance: 'no attestations',
  sbom: 'no attestations',
  secrets: 'no build secrets',
  'secret-envs': 'no build secrets',
  'secret-files': 'no build secrets',
  'shm-size': 'not passed',
  ssh: 'no SSH forwarding',
  ulimit: 'not passed',
};

interface BuildSettings {
  context: string;
  file?: string;
  tags: string[];
  labels: string[];
  buildArgs: string[];
  push: boolean;
  target: string;
  noCache: boolean;
  pull: boolean;
}

/** With no `context` the real action builds the event's commit from Git, not the workspace: so does this one, from `git archive`. */
async function gitContext(ctx: StandInContext): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(ctx.runDir, 'build-context-'));
  const tar = path.join(dir, '..', `${path.basename(dir)}.tar`);
  await mustRun(
    ['git', '-C', ctx.repository.path, 'archive', '--format=tar', '-o', tar, ctx.repository.sha],
    'git archive of the build context',
    { env: stepEnv(ctx) },
  );
  await mustRun(['tar', '-xf', tar, '-C', dir], 'unpacking the build context', { env: stepEnv(ctx) });
  await fsp.rm(tar, { force: true });
  return dir;
}

async function readInputs(inputs: Record<string, string>, ctx: StandInContext): Promise<BuildSettings> {
  const givenContext = stringInput(inputs, Inputs.Context);
  let context: string;
  let file = stringInput(inputs, Inputs.File) || undefined;
  if (givenContext) {
    context = path.resolve(ctx.workspace, givenContext);
    // buildx resolves --file against the working directory (the workspace), not the context.
    if (file) file = path.resolve(ctx.workspace, file);
  } else {
    context = await gitContext(ctx);
    ctx.log(
      `No context given: building the Git context ${ctx.repository.fullName}@${ctx.repository.sha} (exported to ${context})`,
    );
    if (file) file = path.resolve(context, file);
  }
  const platforms = listInput(inputs, Inputs.Platforms);
  if (platforms.length > 0) {
    if (!platforms.includes(NATIVE_PLATFORM))
      throw new StandInError(
        `platforms '${platforms.join(',')}' does not include ${NATIVE_PLATFORM}, the one platform this machine builds`,
      );
    const others = platforms.filter((platform) => platform !== NATIVE_PLATFORM);
    if (others.length > 0)
      ctx.log(
        `platforms asks for ${platforms.join(', ')}: building ${NATIVE_PLATFORM} only, the one platform here (not built: ${others.join(', ')})`,
      );
  }
  const settings: BuildSettings = {
    context,
    ...(file ? { file } : {}),
    tags: listInput(inputs, Inputs.Tags),
    labels: listInput(inputs, Inputs.Labels, { ignoreComma: true }),
    buildArgs: listInput(inputs, Inputs.BuildArgs, { ignoreComma: true }),
    push: booleanInput(inputs, Inputs.Push, false),
    target: stringInput(inputs, Inputs.Target),
    noCache: booleanInput(inputs, Inputs.NoCache, false),
    pull: booleanInput(inputs, Inputs.Pull, false),
  };
  booleanInput(inputs, Inputs.Load, false); // checked for its form; the engine keeps every image it builds
  if (settings.push && settings.tags.length === 0)
    throw new StandInError('ERROR: tag is needed when pushing to registry');
  return settings;
}

/** The `docker build` command line for `settings`, writing the image id to `iidFile`. */
export function buildArgv(settings: BuildSettings, iidFile: string): string[] {
  return [
    'build',
    '--iidfile',
    iidFile,
    ...(settings.file ? ['--file', settings.file] : []),
    ...settings.tags.flatMap((tag) => ['--tag', tag]),
    ...settings.labels.flatMap((label) => ['--label', label]),
    ...settings.buildArgs.flatMap((arg) => ['--build-arg', arg]),
    ...(settings.target ? ['--target', settings.target] : []),
    ...(settings.noCache ? ['--no-cache'] : []),
    ...(settings.pull ? ['--pull'] : []),
    settings.context,
  ];
}

interface Pushed {
  digest: string;
  size?: number;
}

/** Pushes `tag`; the manifest's digest and size are on the line `TAG: digest: sha256:… size: N`. */
async function push(ctx: StandInContext, tag: string, imageId: string): Promise<Pushed> {
  const { stdout } = await docker(ctx, ['push', tag]);
  for (const line of stdout.trim().split('\n')) ctx.log(line);
  const match = /digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(stdout);
  if (match) return { digest: match[1]!, size: Number(match[2]) };
  // Otherwise the engine knows it once pushed (RepoDigests: repository@digest).
  const { stdout: digests } = await docker(ctx, ['image', 'inspect', '--format', '{{json .RepoDigests}}', imageId]);
  const repository = tag.replace(/:[^:/]+$/, '');
  const repoDigest = (JSON.parse(digests) as string[]).find((entry) => entry.startsWith(`${repository}@`));
  if (!repoDigest)
    throw new StandInError(`docker push ${tag} gave no digest, and the image has none for ${repository}`);
  return { digest: repoDigest.slice(repository.length + 1) };
}

export const buildPush: StandIn = async (inputs, ctx) => {
  noteInputs(ctx, inputs, { handled: Object.values(Inputs), ignored: IGNORED });
  const settings = await readInputs(inputs, ctx);
  const iidFile = path.join(await fsp.mkdtemp(path.join(ctx.runDir, 'iid-')), 'iid');
  const argv = buildArgv(settings, iidFile);
  ctx.log(`[command]docker ${argv.join(' ')}`);
  const { stdout } = await docker(ctx, argv, { cwd: ctx.workspace });
  for (const line of stdout.trim().split('\n')) ctx.log(line);
  const imageId = (await fsp.readFile(iidFile, 'utf8')).trim();
  await fsp.rm(path.dirname(iidFile), { recursive: true, force: true });

  const metadata: Record<string, unknown> = { 'containerimage.config.digest': imageId };
  if (settings.tags.length > 0) metadata['image.name'] = settings.tags.join(',');
  const outputs: Record<string, string> = { imageid: imageId, digest: '', metadata: '' };
  if (settings.push) {
    let first: Pushed | undefined;
    for (const tag of settings.tags) {
      const pushed = await push(ctx, tag, imageId);
      first ??= pushed;
      // One image, one manifest: every tag must point at the same digest.
      if (pushed.digest !== first.digest)
        throw new StandInError(
          `the tags of one build were pushed with different digests: ${first.digest} and ${pushed.digest} (${tag})`,
        );
    }
    outputs.digest = first!.digest;
    metadata['containerimage.digest'] = first!.digest;
    metadata['containerimage.descriptor'] = {
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      digest: first!.digest,
      ...(first!.size ? { size: first!.size } : {}),
    };
  } else {
    ctx.log('push is false: the image stays in the engine; it has no registry digest (the digest output is empty)');
  }
  outputs.metadata = JSON.stringify(metadata, null, 2);
  ctx.log(`imageid ${imageId}${outputs.digest ? `, digest ${outputs.digest}` : ''}`);
  return { outputs };
};
