// The core's folders are its architecture: each concern is a folder whose index.ts is its door,
// the package exports exactly those doors, and nothing outside the package reaches past one.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');
const src = path.join(root, 'packages/shared/src');
const manifest = JSON.parse(readFileSync(path.join(root, 'packages/shared/package.json'), 'utf8')) as { exports: Record<string, string> };

function folders(dir: string, prefix = ''): string[] {
  return readdirSync(dir)
    .filter((name) => statSync(path.join(dir, name)).isDirectory())
    .flatMap((name) => [`${prefix}${name}`, ...folders(path.join(dir, name), `${prefix}${name}/`)]);
}

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => /\.(ts|mjs)$/.test(name) && !name.split(path.sep).some((part) => part === 'node_modules' || part === 'dist'))
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
    const doors = new Set(Object.keys(manifest.exports).map((key) => (key === '.' ? '@agent-loop/shared' : `@agent-loop/shared/${key.slice(2)}`)));
    const files = ['actions', 'test', 'bench', 'scripts'].flatMap((dir) => sources(path.join(root, dir)));
    expect(files.length).toBeGreaterThan(50);
    const problems: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/from '(@agent-loop\/shared[^']*)'/g)) if (!doors.has(match[1] as string)) problems.push(`${path.relative(root, file)}: ${match[1]}`);
      if (file.includes(`${path.sep}actions${path.sep}`) && /from '(\.\.\/)+packages\//.test(text)) problems.push(`${path.relative(root, file)}: a relative import of the core`);
    }
    expect(problems).toEqual([]);
  });

  it('lets each action name the folders it uses: no action imports the whole core', () => {
    const actions = readdirSync(path.join(root, 'actions')).filter((name) => statSync(path.join(root, 'actions', name, 'src'), { throwIfNoEntry: false })?.isDirectory());
    expect(actions.length).toBeGreaterThanOrEqual(7);
    for (const name of actions) {
      for (const file of sources(path.join(root, 'actions', name, 'src'))) expect(readFileSync(file, 'utf8'), path.relative(root, file)).not.toMatch(/from '@agent-loop\/shared'/);
    }
  });
});
