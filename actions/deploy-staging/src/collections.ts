import { mkdirSync, readFileSync } from 'node:fs';
import { action, errorMessage } from '@agent-loop/shared/action';
import { collectionInstallCommand, collectionsCacheKey, runLocal } from '@agent-loop/shared/hosts';

/**
 * The playbook's Ansible collections: installed from its requirements file into one folder, kept
 * between runs in the Actions cache under a key made of the file's SHA-256, so a changed file
 * installs afresh and an unchanged one restores in seconds.
 */

export interface CollectionsResult {
  requirements: string;
  dir: string;
  key: string;
  /** hit: restored, nothing installed; saved / not-saved: installed, then stored (or not); unavailable: installed, no cache service. */
  cache: 'hit' | 'saved' | 'not-saved' | 'unavailable';
}

export async function prepareCollections(options: {
  requirements: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  timeoutMs: number;
}): Promise<CollectionsResult> {
  const key = collectionsCacheKey(process.env.RUNNER_OS ?? process.platform, readFileSync(options.requirements));
  const result: CollectionsResult = { requirements: options.requirements, dir: options.dir, key, cache: 'unavailable' };
  mkdirSync(options.dir, { recursive: true });
  // Loaded only when a requirements file asks for collections: the cache client carries the Azure
  // storage SDK (most of this bundle), which a run without collections never needs at start-up.
  const cache = await import('@actions/cache');
  const available = cache.isFeatureAvailable();
  if (!available) {
    action.logger.info(
      'The Actions cache service is not available here: installing the Ansible collections without caching.',
    );
  } else {
    try {
      if ((await cache.restoreCache([options.dir], key)) === key) {
        action.logger.info(`Ansible collections restored from the cache (${key}).`);
        return { ...result, cache: 'hit' };
      }
    } catch (error) {
      action.logger.warn(
        `Restoring the Ansible collections from the cache failed, installing them: ${errorMessage(error)}`,
      );
    }
  }

  const argv = collectionInstallCommand(options.requirements, options.dir);
  const install = await action.logger.group(argv.join(' '), () =>
    runLocal(argv, { env: options.env, cwd: options.cwd, onLine: action.logger.info, timeoutMs: options.timeoutMs }),
  );
  if (install.code !== 0) {
    const tail = (install.stderr || install.stdout).trim().split('\n').slice(-5).join(' ');
    throw new Error(
      `ansible-galaxy collection install -r ${options.requirements} failed (exit ${install.code}): ${tail}`,
    );
  }
  if (!available) return result;
  try {
    // -1: the toolkit could not save (and said why); another job may have saved the same key first.
    return { ...result, cache: (await cache.saveCache([options.dir], key)) === -1 ? 'not-saved' : 'saved' };
  } catch (error) {
    // The install itself succeeded: a cache that cannot be written is not a failed deploy.
    action.logger.warn(`Saving the Ansible collections to the cache failed: ${errorMessage(error)}`);
    return { ...result, cache: 'not-saved' };
  }
}
