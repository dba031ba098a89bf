// actions/upload-artifact: the files `path` names are copied, relative to the artifact's root as
// the real one computes it, into the run's store. No zip and no service: retention and
// compression do not apply, and artifact-digest is a SHA-256 over the files, not over a zip.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { StandIn, StandInContext, StandInResult } from './index';
import { artifactDir, artifactsDir, claimArtifactId, validateArtifactName } from './artifact-store';
import { booleanInput, noteInputs, requiredInput, StandInError, stringInput } from './inputs';
import { findFilesToUpload } from './path-search';

const Inputs = {
  Name: 'name',
  Path: 'path',
  IfNoFilesFound: 'if-no-files-found',
  Overwrite: 'overwrite',
  IncludeHiddenFiles: 'include-hidden-files',
} as const;

const IGNORED: Record<string, string> = {
  'retention-days': 'the store lives as long as the run folder',
  'compression-level': 'files are copied, not zipped',
  archive: 'files are copied, not zipped',
};

const NO_FILES_OPTIONS = ['warn', 'error', 'ignore'] as const;
type NoFilesOption = (typeof NO_FILES_OPTIONS)[number];

interface UploadSettings {
  name: string;
  searchPath: string;
  ifNoFilesFound: NoFilesOption;
  overwrite: boolean;
  includeHiddenFiles: boolean;
}

function readInputs(inputs: Record<string, string>): UploadSettings {
  const name = stringInput(inputs, Inputs.Name, 'artifact');
  validateArtifactName(name);
  const ifNoFilesFound = stringInput(inputs, Inputs.IfNoFilesFound, 'warn');
  if (!(NO_FILES_OPTIONS as readonly string[]).includes(ifNoFilesFound)) {
    throw new StandInError(
      `Unrecognized ${Inputs.IfNoFilesFound} input. Provided: ${ifNoFilesFound}. Available options: ${NO_FILES_OPTIONS.join(',')}`,
    );
  }
  return {
    name,
    searchPath: requiredInput(inputs, Inputs.Path),
    ifNoFilesFound: ifNoFilesFound as NoFilesOption,
    overwrite: booleanInput(inputs, Inputs.Overwrite, false),
    includeHiddenFiles: booleanInput(inputs, Inputs.IncludeHiddenFiles, false),
  };
}

/** SHA-256 over each file's path in the artifact and the SHA-256 of its content, in path order. */
async function digestOf(dir: string, relativePaths: string[]): Promise<string> {
  const whole = createHash('sha256');
  for (const relative of [...relativePaths].sort()) {
    const content = createHash('sha256')
      .update(await fsp.readFile(path.join(dir, relative)))
      .digest('hex');
    whole.update(`${relative}\0${content}\n`);
  }
  return whole.digest('hex');
}

function conflict(): StandInError {
  return new StandInError(
    'Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: an artifact with this name already exists on the workflow run',
  );
}

async function store(
  ctx: StandInContext,
  settings: UploadSettings,
  files: string[],
  rootDirectory: string,
): Promise<string[]> {
  const staging = path.join(ctx.runDir, 'artifact-uploads', randomUUID());
  const relativePaths = files.map((file) => path.relative(rootDirectory, file));
  for (const [i, file] of files.entries()) {
    const target = path.join(staging, relativePaths[i]!);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await fsp.copyFile(file, target);
  }
  const target = artifactDir(ctx, settings.name);
  await fsp.mkdir(artifactsDir(ctx), { recursive: true });
  if (fs.existsSync(target)) {
    if (!settings.overwrite) throw conflict();
    ctx.log(`Artifact '${settings.name}' exists and overwrite is true: deleting it`);
    await fsp.rm(target, { recursive: true, force: true });
  }
  // A rename is atomic: a download never sees half an artifact, and of two uploads of one name at once, one fails.
  await fsp.rename(staging, target).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOTEMPTY' || error.code === 'EEXIST' ? conflict() : error;
  });
  return relativePaths;
}

export const uploadArtifact: StandIn = async (inputs, ctx): Promise<StandInResult> => {
  noteInputs(ctx, inputs, { handled: Object.values(Inputs), ignored: IGNORED });
  const settings = readInputs(inputs);
  const { files, rootDirectory } = await findFilesToUpload(settings.searchPath, {
    cwd: ctx.workspace,
    includeHiddenFiles: settings.includeHiddenFiles,
    home: ctx.env.HOME ?? os.homedir(),
  });
  if (files.length === 0) {
    const message = `No files were found with the provided path: ${settings.searchPath}. No artifacts will be uploaded.`;
    if (settings.ifNoFilesFound === 'error') throw new StandInError(message);
    ctx.log(settings.ifNoFilesFound === 'warn' ? `Warning: ${message}` : message);
    return { outputs: {} };
  }
  ctx.log(`With the provided path, there will be ${files.length} file${files.length === 1 ? '' : 's'} uploaded`);
  ctx.log(`Root artifact directory is ${rootDirectory}`);
  const relativePaths = await store(ctx, settings, files, rootDirectory);
  const target = artifactDir(ctx, settings.name);
  const id = await claimArtifactId(ctx, settings.name);
  const digest = await digestOf(target, relativePaths);
  const size = (await Promise.all(relativePaths.map((relative) => fsp.stat(path.join(target, relative))))).reduce(
    (sum, stats) => sum + stats.size,
    0,
  );
  ctx.log(
    `Artifact ${settings.name} has been successfully uploaded! Final size is ${size} bytes. Artifact ID is ${id}`,
  );
  const server = ctx.env.GITHUB_SERVER_URL ?? 'https://github.com';
  const url = `${server}/${ctx.env.GITHUB_REPOSITORY ?? ctx.repository.fullName}/actions/runs/${ctx.env.GITHUB_RUN_ID ?? '0'}/artifacts/${id}`;
  ctx.log(`Artifact download URL: ${url}`);
  return { outputs: { 'artifact-id': String(id), 'artifact-url': url, 'artifact-digest': digest } };
};
