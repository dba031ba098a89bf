#!/usr/bin/env node
// Bundles every action (actions/<name>/src/index.ts → actions/<name>/dist/index.js) and the
// operator's command line (cli/src/index.ts → cli/dist/index.js, run by bin/agent-loop) with ncc.
// With --check, bundles into a temporary folder and fails when the committed dist/ differs.
// Either way it also keeps the root NAME/action.yml files in step (scripts/shims.mjs).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { syncShims } from './shims.mjs';

const root = new URL('..', import.meta.url).pathname;
const check = process.argv.includes('--check');
const only = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const ncc = join(root, 'node_modules/@vercel/ncc/dist/ncc/cli.js');

const actions = readdirSync(join(root, 'actions')).filter(
  (name) => existsSync(join(root, 'actions', name, 'action.yml')) && (only.length === 0 || only.includes(name)),
);
// Each bundle: its folder (relative to the root) and the tsconfig include that limits its type check.
const bundles = [
  ...actions.map((name) => ({
    folder: `actions/${name}`,
    include: '["src", "../../packages/shared/src"]',
    base: '../../tsconfig.json',
  })),
  ...(only.length === 0 || only.includes('cli')
    ? [{ folder: 'cli', include: '["src", "../packages/shared/src"]', base: '../tsconfig.json' }]
    : []),
];

/**
 * Every action's input descriptions, by action and input: the command line's help describes each
 * option in its action.yml's words, and reads them from this file beside its bundle, so `--help`
 * parses no YAML at start-up. A changed description changes the file, which check-dist sees.
 */
function actionInputs() {
  const names = readdirSync(join(root, 'actions'))
    .filter((name) => existsSync(join(root, 'actions', name, 'action.yml')))
    .sort();
  const described = Object.fromEntries(
    names.map((name) => {
      const { inputs = {} } = parseYaml(readFileSync(join(root, 'actions', name, 'action.yml'), 'utf8'));
      return [name, Object.fromEntries(Object.entries(inputs).map(([input, spec]) => [input, spec.description ?? '']))];
    }),
  );
  return `${JSON.stringify(described, null, 1)}\n`;
}

function listFiles(dir, base = dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory() ? listFiles(join(dir, entry.name), base) : [relative(base, join(dir, entry.name))],
    )
    .sort();
}

let differences = 0;
for (const { folder, include, base } of bundles) {
  const dir = join(root, folder);
  const name = folder.split('/').pop();
  // ncc type-checks what the nearest tsconfig.json includes: give each bundle its own, limited to
  // its sources and the shared core, so one action's build never depends on another's (or on tests).
  const tsconfig = join(dir, 'tsconfig.json');
  const wanted = `{\n  "extends": "${base}",\n  "include": ${include}\n}\n`;
  if (!existsSync(tsconfig) || readFileSync(tsconfig, 'utf8') !== wanted) writeFileSync(tsconfig, wanted);
  // Build into a fresh folder and swap it in only when the build succeeded.
  const out = mkdtempSync(join(tmpdir(), `ncc-${name}-`));
  execFileSync(
    process.execPath,
    [ncc, 'build', join(dir, 'src/index.ts'), '-o', out, '--quiet', '--target', 'es2022'],
    { stdio: 'inherit', cwd: root },
  );
  // ncc copies the assets of every module it parsed, also of modules the bundle then left out
  // (ssh2's Windows agent, pagent.exe, in actions that never open an SSH connection): an asset
  // that no emitted script names is not shipped.
  const scripts = listFiles(out)
    .filter((file) => file.endsWith('.js'))
    .map((file) => readFileSync(join(out, file), 'utf8'));
  for (const file of listFiles(out)) {
    if (file.endsWith('.js')) continue;
    const base = file.split('/').pop();
    if (!scripts.some((text) => text.includes(base))) rmSync(join(out, file));
  }
  // The bundle is CommonJS (its folder's package.json has no "type": "module"): say so next to it,
  // whatever package.json sits above.
  writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n');
  if (folder === 'cli') writeFileSync(join(out, 'action-inputs.json'), actionInputs());
  if (check) {
    const committed = join(dir, 'dist');
    const built = listFiles(out);
    const have = listFiles(committed);
    const names = [...new Set([...built, ...have])];
    for (const file of names) {
      const a = existsSync(join(out, file)) ? readFileSync(join(out, file)) : null;
      const b = existsSync(join(committed, file)) ? readFileSync(join(committed, file)) : null;
      if (!a || !b || !a.equals(b)) {
        differences++;
        console.error(
          `${folder}/dist/${file}: ${!b ? 'missing from the committed dist' : !a ? 'not produced by a fresh build' : 'differs from a fresh build'}`,
        );
      }
    }
    rmSync(out, { recursive: true, force: true });
  } else {
    rmSync(join(dir, 'dist'), { recursive: true, force: true });
    cpSync(out, join(dir, 'dist'), { recursive: true });
    rmSync(out, { recursive: true, force: true });
    console.log(`built ${folder}/dist (${listFiles(join(dir, 'dist')).length} files)`);
  }
}
// The root NAME/action.yml files that let `uses: owner/agent-loop-actions/NAME@ref` resolve.
const shimProblems = syncShims({ check });
for (const problem of shimProblems) console.error(problem);
differences += shimProblems.length;
if (check) {
  if (differences > 0) {
    console.error(
      `dist/ or a root action.yml is out of date in ${differences} file(s): run \`npm run build\` and commit them.`,
    );
    process.exit(1);
  }
  console.log(
    `dist/ matches a fresh build for ${bundles.length} bundle(s): ${bundles.map((bundle) => bundle.folder).join(', ')}.`,
  );
}
