import { createLogger } from 'vite';
import { configDefaults, defineConfig } from 'vitest/config';

// The inlined parser ships source maps that name sources it does not ship: Vite's warning about
// each says nothing about this project.
const logger = createLogger();
const warn = logger.warn.bind(logger);
logger.warn = (message, options) => {
  if (!/^Sourcemap for ".*node_modules\/@actions\/workflow-parser\/.*" points to missing source files/.test(message))
    warn(message, options);
};

export default defineConfig({
  customLogger: logger,
  test: {
    include: ['packages/*/test/**/*.test.ts', 'actions/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // The example application is a repository of its own: its tests run inside the pipeline scenarios.
    exclude: [...configDefaults.exclude, 'test/fixture-app/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration files start real servers: two at a time fits this 2-core machine.
    maxWorkers: 2,
    // Records the workflow jobs the pipeline scenarios reach, and lists those none reached.
    globalSetup: ['test/pipeline/global-setup.ts'],
    // GitHub's parser imports its JSON schemas without an import attribute: Node refuses that, so
    // Vite transforms the package.
    server: { deps: { inline: ['@actions/workflow-parser'] } },
    coverage: {
      provider: 'v8',
      include: ['packages/shared/src/**', 'actions/*/src/**'],
    },
  },
});
