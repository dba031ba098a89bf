import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import semver from 'semver';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Setting up this repository: the Node version package.json and the README promise is one every
 * installed dependency accepts (so `npm ci` prints no EBADENGINE warning), set-up says what it
 * does, and a second run with the same lockfile skips `npm ci`.
 */

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<
    string,
    { version?: string; engines?: { node?: string } | string[]; optional?: boolean; os?: string[]; cpu?: string[] }
  >;
};

describe('the Node version', () => {
  const minimum = semver.minVersion(pkg.engines.node)!;

  /**
   * The one exception, said in the README: deploy-staging needs @azure/storage-common 12.5 (12.4
   * breaks its bundle at load), which declares Node ≥ 22. It only runs inside that bundle, on the
   * runner's Node 24; under Node 20 npm ci prints one EBADENGINE warning for it.
   */
  const ALLOWED = new Set(['node_modules/@azure/storage-common']);

  it('is accepted by every dependency installed on Linux x64 but the one the README names', () => {
    const refusing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = entry.engines && !Array.isArray(entry.engines) ? entry.engines.node : undefined;
      if (!path || !range || ALLOWED.has(path)) continue;
      // Optional packages for another platform are never installed here.
      if (entry.optional && ((entry.os && !entry.os.includes('linux')) || (entry.cpu && !entry.cpu.includes('x64'))))
        continue;
      if (!semver.satisfies(minimum, range)) refusing.push(`${path}@${entry.version}: node ${range}`);
    }
    expect(refusing).toEqual([]);
  });

  it('is the one the README states, with the exception', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain(`Node ≥ ${minimum.major}.${minimum.minor}`);
    for (const path of ALLOWED) {
      expect(readme).toContain(`\`${path.replace('node_modules/', '')}\``);
      expect(lock.packages[path], path).toBeDefined();
    }
  });

  it('would be caught: a dependency that wants Node 22', () => {
    expect(semver.satisfies(minimum, '>=22')).toBe(false);
  });
});

describe('scripts/setup.sh', () => {
  // A throwaway project with no dependencies: real `npm ci` on it takes about a second.
  const project = mkdtempSync(join(tmpdir(), 'setup-test-'));
  afterAll(() => rmSync(project, { recursive: true, force: true }));
  mkdirSync(join(project, 'scripts'));
  cpSync(join(root, 'scripts', 'setup.sh'), join(project, 'scripts', 'setup.sh'));
  cpSync(join(root, 'scripts', 'setup-containers.sh'), join(project, 'scripts', 'setup-containers.sh'));
  const lockfile = (name: string) => ({
    name,
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name, version: '1.0.0', engines: pkg.engines } },
  });
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'p', version: '1.0.0', private: true, engines: pkg.engines }),
  );
  writeFileSync(join(project, 'package-lock.json'), JSON.stringify(lockfile('p')));
  const run = () =>
    execFileSync('bash', [join(project, 'scripts', 'setup.sh')], {
      cwd: project,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });

  it('says what it does, runs npm ci the first time, skips it while the lockfile is unchanged, and runs it again after a change', () => {
    const first = run();
    expect(first).toMatch(/^== setup: Node v\d+\.\d+\.\d+ \(needs >=\d+\.\d+\)/m);
    expect(first).toMatch(/^== setup: (system packages already installed|apt-get install)/m);
    expect(first).toMatch(/^== setup: npm ci \(/m);
    expect(first).toMatch(/^== setup: done$/m);

    const second = run();
    expect(second).toMatch(/npm ci skipped/);
    expect(second).not.toMatch(/^== setup: npm ci \(/m);

    writeFileSync(join(project, 'package-lock.json'), JSON.stringify(lockfile('p')) + '\n');
    expect(run()).toMatch(/^== setup: npm ci \(/m);
  }, 120_000);

  it('refuses a Node older than the engines statement, with the version it needs', () => {
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'p', version: '1.0.0', private: true, engines: { node: '>=99.0' } }),
    );
    let message = '';
    try {
      run();
    } catch (error) {
      message = String((error as { stderr?: string }).stderr);
    }
    expect(message).toMatch(/Node v?\d+\.\d+\.\d+ is too old: this repository needs Node >=99\.0/);
  });
});
