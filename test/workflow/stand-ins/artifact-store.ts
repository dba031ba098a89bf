// The run's artifact store: `<runDir>/artifacts/<name>/` holds an artifact's files as uploaded;
// `<runDir>/artifact-ids/<id>` names the artifact with that id (ids count up from 1 per run).
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { StandInContext } from './index';
import { StandInError } from './inputs';

const INVALID_NAME_CHARACTERS = ['"', ':', '<', '>', '|', '*', '?', '\r', '\n', '\\', '/'];

/** The toolkit's artifact name rules (the name is a folder here as well). */
export function validateArtifactName(name: string): void {
  if (!name) throw new StandInError('Provided artifact name input during validation is empty');
  for (const char of INVALID_NAME_CHARACTERS) {
    if (name.includes(char)) {
      throw new StandInError(
        `The artifact name is not valid: ${name}. Contains the following character: ${JSON.stringify(char)}\n\n` +
          `Invalid characters include: ${INVALID_NAME_CHARACTERS.map((c) => JSON.stringify(c)).join(', ')}`,
      );
    }
  }
  if (name === '.' || name === '..') throw new StandInError(`The artifact name is not valid: ${name}`);
}

export function artifactsDir(ctx: StandInContext): string {
  return path.join(ctx.runDir, 'artifacts');
}

export function artifactDir(ctx: StandInContext, name: string): string {
  return path.join(artifactsDir(ctx), name);
}

/** The next id of this run, claimed atomically so that jobs uploading at once never share one. */
export async function claimArtifactId(ctx: StandInContext, name: string): Promise<number> {
  const dir = path.join(ctx.runDir, 'artifact-ids');
  await fsp.mkdir(dir, { recursive: true });
  for (let id = (await fsp.readdir(dir)).length + 1; ; id++) {
    try {
      await fsp.writeFile(path.join(dir, String(id)), name, { flag: 'wx' });
      return id;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

export interface StoredArtifact {
  name: string;
  id: number;
  dir: string;
}

/** Artifacts of this run, by id (the latest upload of a name wins, as `listArtifacts({latest: true})`). */
export async function listArtifacts(ctx: StandInContext): Promise<StoredArtifact[]> {
  const idsDir = path.join(ctx.runDir, 'artifact-ids');
  const ids = (await fsp.readdir(idsDir).catch(() => [] as string[]))
    .map(Number)
    .filter(Number.isInteger)
    .sort((a, b) => a - b);
  const byName = new Map<string, StoredArtifact>();
  for (const id of ids) {
    const name = await fsp.readFile(path.join(idsDir, String(id)), 'utf8');
    const dir = artifactDir(ctx, name);
    if (
      await fsp.stat(dir).then(
        (s) => s.isDirectory(),
        () => false,
      )
    )
      byName.set(name, { name, id, dir });
  }
  return [...byName.values()];
}
