import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'actions/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration files start real servers: two at a time fits this 2-core machine.
    maxWorkers: 2,
    coverage: {
      provider: 'v8',
      include: ['packages/shared/src/**', 'actions/*/src/**'],
    },
  },
});
