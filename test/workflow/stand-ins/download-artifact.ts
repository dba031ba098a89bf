// actions/download-artifact: copies artifacts of this run from its store. One by `name` into
// `path`; without a name, all (or those `pattern` matches), each into `path/<name>/` unless
// merge-multiple. Artifacts of other runs or repositories (github-token, run-id, repository) and
// artifact-ids are not supported: such a step fails saying so.
import os from 'node:os';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { StandIn, StandInResult } from './index';
import { artifactDir, listArtifacts, validateArtifactName, type StoredArtifact } from './artifact-store';
import { booleanInput, noteInputs, StandInError, stringInput } from './inputs';
import { globRegex } from './path-search';

const Inputs = {
  Name: 'name',
  Path: 'path',
  Pattern: 'pattern',
  MergeMultiple: 'merge-multiple',
  GitHubToken: 'github-token',
  Repository: 'repository',
  RunId: 'run-id',
  ArtifactIds: 'artifact-ids',
} as const;

/** minimatch on an artifact name (a name holds no `/`, so it is one segment). */
function nameMatcher(pattern: string): (name: string) => boolean {
  const regex = globRegex(`/${pattern}`);
  return (name) => regex.test(`/${name}`);
}

export const downloadArtifact: StandIn = async (inputs, ctx): Promise<StandInResult> => {
  noteInputs(ctx, inputs, { handled: Object.values(Inputs), ignored: {} });
  // github-token alone changes nothing (it is how the real one reads another run): run-id and artifact-ids do.
  for (const unsupported of [Inputs.RunId, Inputs.ArtifactIds]) {
    if (stringInput(inputs, unsupported))
      throw new StandInError(
        `Unable to download artifact(s): ${unsupported} is not supported by the stand-in (artifacts of this run only)`,
      );
  }
  const repository = stringInput(inputs, Inputs.Repository);
  if (repository && repository.toLowerCase() !== ctx.repository.fullName.toLowerCase()) {
    throw new StandInError(
      `Unable to download artifact(s): artifacts of ${repository} are not on this machine (only this run's, of ${ctx.repository.fullName})`,
    );
  }
  const name = stringInput(inputs, Inputs.Name);
  const pattern = stringInput(inputs, Inputs.Pattern);
  const mergeMultiple = booleanInput(inputs, Inputs.MergeMultiple, false);
  let target = stringInput(inputs, Inputs.Path, ctx.workspace);
  if (target.startsWith('~')) target = target.replace('~', ctx.env.HOME ?? os.homedir());
  const resolvedPath = path.resolve(ctx.workspace, target);

  let artifacts: StoredArtifact[];
  if (name) {
    validateArtifactName(name);
    ctx.log('Downloading single artifact');
    const found = (await listArtifacts(ctx)).find((artifact) => artifact.name === name);
    if (!found) throw new StandInError(`Unable to download artifact(s): Artifact '${name}' not found`);
    artifacts = [found];
  } else {
    artifacts = await listArtifacts(ctx);
    if (pattern) {
      ctx.log(`Filtering artifacts by pattern '${pattern}'`);
      const matches = nameMatcher(pattern);
      artifacts = artifacts.filter((artifact) => matches(artifact.name));
    } else {
      ctx.log('No input name or pattern filtered specified, downloading all artifacts');
      if (!mergeMultiple) ctx.log('An extra directory with the artifact name will be created for each download');
    }
  }
  if (artifacts.length === 0) {
    ctx.log('No artifacts to download');
    return { outputs: {} };
  }
  ctx.log('Preparing to download the following artifacts:');
  for (const artifact of artifacts) ctx.log(`- ${artifact.name} (ID: ${artifact.id})`);
  for (const artifact of artifacts) {
    const into = name || mergeMultiple ? resolvedPath : path.join(resolvedPath, artifact.name);
    await fsp.mkdir(into, { recursive: true });
    await fsp.cp(artifactDir(ctx, artifact.name), into, { recursive: true, force: true });
  }
  ctx.log(`Total of ${artifacts.length} artifact(s) downloaded`);
  ctx.log('Download artifact has finished successfully');
  return { outputs: { 'download-path': resolvedPath } };
};
