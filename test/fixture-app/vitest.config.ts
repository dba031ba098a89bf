import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // test/integration runs the service as a process under node --test (npm run test:integration).
    include: ['test/unit/**/*.test.ts', 'test/critical/**/*.test.ts'],
    coverage: { provider: 'v8', include: ['src/**'] },
  },
});
