// The core's folders are its architecture: each concern is a folder whose index.ts is its door,
// the package exports exactly those doors, and nothing outside the package reaches past one.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');
const src = path.join(root, 'packages/shared/src');
const manifest = JSON.parse(readFileSync(path.join(root, 'packages/shared/package.json'), 'utf8')) as {
  exports: Record<string, string>;
};

function folders(dir: string, prefix = ''): string[] {
  return readdirSync(dir)
    .filter((name) => statSync(path.join(dir, name)).isDirectory())
    .flatMap((name) => [`${prefix}${name}`, ...folders(path.join(dir, name), `${prefix}${name}/`)]);
}

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter(
      (name) =>
        /\.(ts|mjs)$/.test(name) && !name.split(path.sep).some((part) => part === 'node_modules' || part === 'dist'),
    )
    .map((name) => path.join(dir, name));
}

describe('the shared core', () => {
  it('keeps no module at its top beside the barrel: every module lives in a folder', () => {
    expect(readdirSync(src).filter((name) => name.endsWith('.ts'))).toEqual(['index.ts']);
  });

  it('gives every folder one door (index.ts), and exports exactly those doors', () => {
    const all = folders(src);
    for (const folder of all) expect(readdirSync(path.join(src, folder)), folder).toContain('index.ts');
    expect(Object.keys(manifest.exports).sort()).toEqual(['.', ...all.map((folder) => `./${folder}`)].sort());
    for (const folder of all) expect(manifest.exports[`./${folder}`]).toBe(`./src/${folder}/index.ts`);
  });

  it('is reached from outside only through a door: the actions, tests, benches and scripts never import past one', () => {
    const doors = new Set(
      Object.keys(manifest.exports).map((key) =>
        key === '.' ? '@agent-loop/shared' : `@agent-loop/shared/${key.slice(2)}`,
      ),
    );
    const files = ['actions', 'test', 'bench', 'scripts'].flatMap((dir) => sources(path.join(root, dir)));
    expect(files.length).toBeGreaterThan(50);
    const problems: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/from '(@agent-loop\/shared[^']*)'/g))
        if (!doors.has(match[1] as string)) problems.push(`${path.relative(root, file)}: ${match[1]}`);
      if (file.includes(`${path.sep}actions${path.sep}`) && /from '(\.\.\/)+packages\//.test(text))
        problems.push(`${path.relative(root, file)}: a relative import of the core`);
    }
    expect(problems).toEqual([]);
  });

  it('lets each action name the folders it uses: no action imports the whole core', () => {
    const actions = readdirSync(path.join(root, 'actions')).filter((name) =>
      statSync(path.join(root, 'actions', name, 'src'), { throwIfNoEntry: false })?.isDirectory(),
    );
    expect(actions.length).toBeGreaterThanOrEqual(7);
    for (const name of actions) {
      for (const file of sources(path.join(root, 'actions', name, 'src')))
        expect(readFileSync(file, 'utf8'), path.relative(root, file)).not.toMatch(/from '@agent-loop\/shared'/);
    }
  });

  const throughDoors =
    'is reached from inside only through a door: a module imports another folder only by its index.ts ' +
    "(the core's own tests may import a folder's inner modules by path)";
  it(throughDoors, () => {
    const problems: string[] = [];
    for (const file of ['packages/shared/src', 'test', 'bench', 'scripts', 'cli'].flatMap((dir) =>
      sources(path.join(root, dir)),
    )) {
      for (const { specifier } of relativeImports(file)) {
        const target = path.resolve(path.dirname(file), specifier);
        if (!target.startsWith(`${src}${path.sep}`)) continue;
        // Within its own folder a module imports its neighbours directly; across folders, only a door.
        const door = doorOf(target);
        if (door !== doorOf(file) && target !== path.join(src, door) && target !== path.join(src, door, 'index'))
          problems.push(
            `${path.relative(root, file)}: ${specifier} (use ${path.relative(path.dirname(file), path.join(src, door)) || '.'})`,
          );
      }
    }
    expect(problems).toEqual([]);
  });

  it('opens each door by name, to what is used outside its folder: no export *, and every name a door exports is imported from another folder', () => {
    // Users: the other folders of the core, the actions, the command line, scripts, benches, the
    // integration tests, and the core's tests that import only doors (the plug-in tests, such as
    // seams.test.ts); a test that imports a folder's inner modules by path uses no door.
    const used = new Map<string, Set<string>>();
    const users = ['packages/shared/src', 'actions', 'cli', 'scripts', 'bench', 'test'].flatMap((dir) =>
      sources(path.join(root, dir)),
    );
    const coreTests = sources(path.join(root, 'packages/shared/test')).filter((file) =>
      namedImports(file).every(
        ({ specifier }) =>
          !specifier.startsWith('.') ||
          !isInside(path.resolve(path.dirname(file), specifier)) ||
          isDoor(path.resolve(path.dirname(file), specifier)),
      ),
    );
    for (const file of [...users, ...coreTests]) {
      for (const { specifier, names } of namedImports(file)) {
        let folder: string | null = null;
        if (specifier === '@agent-loop/shared') folder = '';
        else if (specifier.startsWith('@agent-loop/shared/')) folder = specifier.slice('@agent-loop/shared/'.length);
        else if (specifier.startsWith('.')) {
          const target = path.resolve(path.dirname(file), specifier);
          if (
            isInside(target) &&
            isDoor(target) &&
            doorOf(target) !== (file.startsWith(`${src}${path.sep}`) ? doorOf(file) : null)
          )
            folder = doorOf(target);
        }
        if (folder !== null) for (const name of names) used.set(folder, (used.get(folder) ?? new Set()).add(name));
      }
    }
    const problems: string[] = [];
    for (const folder of folders(src)) {
      const door = path.join(src, folder, 'index.ts');
      const text = readFileSync(door, 'utf8');
      for (const line of text.split('\n').filter((line) => /^export \*(?! as )/.test(line)))
        problems.push(`${folder}/index.ts: ${line}`);
      for (const { names } of namedImports(door)) {
        for (const name of names)
          if (!used.get(folder)?.has(name) && !used.get('')?.has(name))
            problems.push(`${folder}/index.ts: ${name} is used by no other folder`);
      }
    }
    expect(problems).toEqual([]);
  });

  const inLayers =
    'stacks its folders in layers, the order docs/architecture.md gives: a folder imports, values and types alike, ' +
    'only folders below it, and no import goes round in a cycle';
  it(inLayers, () => {
    // A value import is a dependency at load time, and a cycle of those lets a module run before
    // one it needs (a field DSL read as undefined). A type import compiles away, but a type that
    // names a higher layer is a concept in the wrong place: it is checked the same way.
    const all = folderImports();
    expect(cyclesOf(all)).toEqual([]);
    // The bottom of the stack: action/ and domain/ depend on nothing of the core, vocabulary/ on
    // action/ alone (its document DSL shows a value the one way action/ does).
    expect([...(all.get('action') ?? [])]).toEqual([]);
    expect([...(all.get('domain') ?? [])]).toEqual([]);
    expect([...(all.get('vocabulary') ?? [])].filter((folder) => folder !== 'action')).toEqual([]);
    expect(all.size).toBeGreaterThan(10);
    // Every folder has its place in the stack, and every import points down (or across a level).
    expect(LAYERS.flat().sort()).toEqual(folders(src).sort());
    const level = new Map(LAYERS.flatMap((group, index) => group.map((folder) => [folder, index] as const)));
    const upward: string[] = [];
    for (const [from, targets] of all)
      for (const to of targets) if ((level.get(to) ?? -1) > (level.get(from) ?? -1)) upward.push(`${from} → ${to}`);
    expect(upward).toEqual([]);
  });

  it("has a row in docs/architecture.md's map for each folder, and every file, seam and registered name the map gives is there", async () => {
    const readme = readFileSync(path.join(root, 'docs', 'architecture.md'), 'utf8');
    const rows = [...readme.slice(readme.indexOf('## Developing')).matchAll(/^ {2}\| `([a-z/]+)\/` \| (.*) \|$/gm)].map(
      (match) => ({ folder: match[1] as string, text: match[2] as string }),
    );
    expect(rows.map((row) => row.folder).sort()).toEqual(folders(src).sort());
    const problems: string[] = [];
    const checked = { paths: 0, seams: 0, registries: 0 };
    for (const { folder, text } of rows) {
      // Every file or folder it names: `runner.ts` is the row's own, `hosts/ansible.ts` another folder's, `packages/…` the repository's.
      for (const [, named] of text.matchAll(/`([A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*(?:\.(?:ts|yml)|\/))`/g)) {
        checked.paths++;
        if (!existsSync(mapPath(folder, named as string))) problems.push(`${folder}/: ${named} does not exist`);
      }
      // A seam named with its file: `TrafficRouter` (`router.ts`) is exported there.
      for (const [, name, file] of text.matchAll(/`([A-Z][A-Za-z]+)` \(`([A-Za-z0-9_./-]+\.ts)`/g)) {
        checked.seams++;
        const code = readFileSync(mapPath(folder, file as string), 'utf8');
        if (!new RegExp(`export (?:interface|class|type|function|const) ${name}\\b`).test(code))
          problems.push(`${folder}/: ${file} exports no ${name}`);
      }
      // A registry with its built-in names: `registry.ts` (`routers`: nginx) holds exactly those.
      for (const [, registry, names] of text.matchAll(/`registry\.ts` \(`([A-Za-z]+)`: ([^)]*)\)/g)) {
        checked.registries++;
        const door = (await import(pathToFileURL(path.join(src, folder, 'index.ts')).href)) as Record<
          string,
          { names(): string[] } | undefined
        >;
        const said = (names as string).split(', ');
        if (JSON.stringify(door[registry as string]?.names()) !== JSON.stringify(said))
          problems.push(
            `${folder}/: ${registry} holds ${JSON.stringify(door[registry as string]?.names())}, the map says ${JSON.stringify(said)}`,
          );
      }
    }
    expect(problems).toEqual([]);
    expect(checked.registries).toBe(4);
    expect(checked.seams).toBeGreaterThanOrEqual(5);
    expect(checked.paths).toBeGreaterThan(40);
  });

  it('says the stack in docs/architecture.md in the same order', () => {
    const readme = readFileSync(path.join(root, 'docs', 'architecture.md'), 'utf8');
    const sentence = /from the bottom: ([^)]*)\)/.exec(readme)?.[1] ?? '';
    // Folders on one level are joined by "and"; levels are separated by commas.
    const said = sentence
      .split(/, (?:then )?/)
      .map((level) => [...level.matchAll(/`([a-z/]+)`/g)].map((match) => match[1] as string));
    expect(said).toEqual(LAYERS);
  });
});

/**
 * The core's folders from the bottom up; folders on one level do not import each other. The
 * docs/architecture.md says the same (checked above).
 */
const LAYERS: string[][] = [
  ['action', 'domain'],
  ['vocabulary'],
  ['hosts'],
  ['traffic'],
  ['runtime'],
  ['fleet'],
  ['rollback'],
  ['analysis'],
  ['analysis/sources'],
  ['github'],
  ['inputs'],
  ['procedures'],
  ['report'],
  ['settings'],
  ['staging', 'pipeline'],
];

/** Which folders each folder imports, values and types alike. */
function folderImports(): Map<string, Set<string>> {
  const all = new Map<string, Set<string>>();
  for (const file of sources(src).filter((name) => path.dirname(name) !== src)) {
    for (const { specifier } of relativeImports(file)) {
      const from = doorOf(file);
      const to = doorOf(path.resolve(path.dirname(file), specifier));
      if (from !== to) all.set(from, (all.get(from) ?? new Set()).add(to));
    }
  }
  return all;
}

/** Every cycle of folders in `uses`, as `a → b → a`. */
function cyclesOf(uses: Map<string, Set<string>>): string[] {
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (folder: string, trail: string[]): void => {
    state.set(folder, 'open');
    for (const next of uses.get(folder) ?? []) {
      if (state.get(next) === 'open') cycles.push([...trail.slice(trail.indexOf(next)), folder, next].join(' → '));
      else if (!state.has(next)) visit(next, [...trail, folder]);
    }
    state.set(folder, 'done');
  };
  for (const folder of uses.keys()) if (!state.has(folder)) visit(folder, []);
  return cycles;
}

/**
 * Where a path the map (docs/architecture.md) names in a folder's row is: beside the row's modules, in another folder
 * of the core, or from the repository's root.
 */
function mapPath(folder: string, named: string): string {
  if (/^(packages|actions|test|scripts|bench)\//.test(named)) return path.join(root, named);
  const first = named.split('/')[0] as string;
  if (named.includes('/') && statSync(path.join(src, first), { throwIfNoEntry: false })?.isDirectory())
    return path.join(src, named);
  return path.join(src, folder, named);
}

const isInside = (target: string): boolean => target.startsWith(`${src}${path.sep}`);
const isDoor = (target: string): boolean =>
  target === path.join(src, doorOf(target)) || target === path.join(src, doorOf(target), 'index');

/** The names each import or re-export of a module brings in (the exported name, not an alias), and `export * as name`'s name. */
function namedImports(file: string): Array<{ specifier: string; names: string[] }> {
  const source = ts.createSourceFile(
    file,
    readFileSync(file, 'utf8'),
    ts.ScriptTarget.Latest,
    false,
    file.endsWith('.mjs') ? ts.ScriptKind.JS : ts.ScriptKind.TS,
  );
  const found: Array<{ specifier: string; names: string[] }> = [];
  for (const node of source.statements) {
    if (
      !(ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) ||
      !node.moduleSpecifier ||
      !ts.isStringLiteral(node.moduleSpecifier)
    )
      continue;
    const bindings = ts.isImportDeclaration(node) ? node.importClause?.namedBindings : node.exportClause;
    const names =
      bindings && (ts.isNamedImports(bindings) || ts.isNamedExports(bindings))
        ? bindings.elements.map((element) => (element.propertyName ?? element.name).text)
        : bindings && ts.isNamespaceExport(bindings)
          ? [bindings.name.text]
          : [];
    found.push({ specifier: node.moduleSpecifier.text, names });
  }
  return found;
}

/** The folder (with its own index.ts) a path of the core belongs to, relative to src: `analysis/sources`, `hosts`. */
function doorOf(file: string): string {
  let dir = statSync(file, { throwIfNoEntry: false })?.isDirectory() ? file : path.dirname(file);
  while (dir.startsWith(src) && dir !== src) {
    if (statSync(path.join(dir, 'index.ts'), { throwIfNoEntry: false }))
      return path.relative(src, dir).split(path.sep).join('/');
    dir = path.dirname(dir);
  }
  return '';
}

/** Relative imports and re-exports of a module, read by TypeScript's own parser; `values` is false for a type-only one. */
function relativeImports(file: string): Array<{ specifier: string; values: boolean }> {
  const source = ts.createSourceFile(
    file,
    readFileSync(file, 'utf8'),
    ts.ScriptTarget.Latest,
    false,
    file.endsWith('.mjs') ? ts.ScriptKind.JS : ts.ScriptKind.TS,
  );
  const found: Array<{ specifier: string; values: boolean }> = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier) &&
      node.moduleSpecifier.text.startsWith('.')
    ) {
      let values = true;
      if (ts.isImportDeclaration(node)) {
        const clause = node.importClause;
        const named =
          clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings : undefined;
        values =
          !!clause &&
          !clause.isTypeOnly &&
          (!!clause.name || !named || named.elements.some((element) => !element.isTypeOnly));
        if (!clause) values = true;
      } else values = !node.isTypeOnly;
      found.push({ specifier: node.moduleSpecifier.text, values });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0]) &&
      node.arguments[0].text.startsWith('.')
    ) {
      // A dynamic import loads later, on first use: a door all the same, but no load-time dependency.
      found.push({ specifier: node.arguments[0].text, values: false });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}
