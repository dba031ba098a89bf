import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The committed bundles carry only what their action calls: no SSH client where no host is contacted. */

const root = join(import.meta.dirname, '..');
const bundle = (name: string): { files: string[]; text: string } => {
  const dir = join(root, 'actions', name, 'dist');
  const files = readdirSync(dir).sort();
  return {
    files,
    text: files
      .filter((file) => file.endsWith('.js'))
      .map((file) => readFileSync(join(dir, file), 'utf8'))
      .join('\n'),
  };
};

describe('bundles', () => {
  it.each(['plan', 'compare-metrics', 'dora-report'])(
    '%s never opens an SSH connection and carries no SSH client',
    (name) => {
      const { files, text } = bundle(name);
      expect(files).toEqual(['index.js', 'package.json']);
      expect(text).not.toMatch(/node_modules\/(ssh2|node-ssh)\//);
      expect(text).not.toContain('pagent.exe');
    },
  );

  it.each(['blue-green', 'canary-monitor', 'rollback', 'deploy-staging', 'host-setup', 'maintenance'])(
    '%s loads its SSH client as a chunk of its own, with the files it names',
    (name) => {
      const { files, text } = bundle(name);
      expect(text).toMatch(/node_modules\/ssh2\//);
      // Every file shipped beside the scripts is one a script names (nothing left over from a module left out).
      for (const file of files.filter((file) => !file.endsWith('.js') && file !== 'package.json'))
        expect(text).toContain(file);
    },
  );

  it.each([
    'blue-green',
    'canary-monitor',
    'checklist',
    'compare-metrics',
    'deploy-staging',
    'dora-report',
    'host-setup',
    'maintenance',
    'plan',
    'rollback',
  ])('%s starts with no HTTP client it never calls (the toolkit core brought undici for OIDC tokens)', (name) => {
    const entry = readFileSync(join(root, 'actions', name, 'dist', 'index.js'), 'utf8');
    expect(entry).not.toMatch(/node_modules\/(undici|@actions\/http-client|@actions\/core)\//);
    // The bundles were built from sources: the check has something to look at.
    expect(entry).toMatch(/node_modules\/(zod|yaml)\//);
  });

  it('deploy-staging loads the Actions cache client (and the Azure storage code it carries) only when a playbook asks for collections', () => {
    const dir = join(root, 'actions', 'deploy-staging', 'dist');
    const entry = readFileSync(join(dir, 'index.js'), 'utf8');
    expect(entry).not.toMatch(/node_modules\/@azure\//);
    expect(entry).not.toMatch(/node_modules\/@actions\/cache\//);
    const chunks = readdirSync(dir)
      .filter((file) => file.endsWith('.js') && file !== 'index.js')
      .map((file) => readFileSync(join(dir, file), 'utf8'));
    expect(
      chunks.some((text) => /node_modules\/@actions\/cache\//.test(text) && /node_modules\/@azure\//.test(text)),
    ).toBe(true);
  });
});
