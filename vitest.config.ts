import { defineConfig } from 'vitest/config';

/**
 * Three projects: `default` (every package's tests and the cross-process tests in test/; what `npm test` is
 * about) and `faults`, the standing fault suite in test/faults (servers of its own that it stops and kills;
 * about 12 minutes; its long suite runs only when REQUIRE_FAULTS=1 or ARCAL_FAULTS=1, as `.ci/run` sets for
 * `npx vitest run --project faults`), and `cluster`, the multi-host test in test/cluster (network namespaces;
 * root; about 2 minutes; it runs only when ARCAL_CLUSTER=1, as `npm run test:cluster` sets, or
 * REQUIRE_CLUSTER=1). A later suite with its own bounds gets a project of its own the same way.
 */
export default defineConfig({
  test: {
    // every test file's longest event-loop stall is measured and bounded (test/setup/event-loop.ts)
    setupFiles: ['test/setup/event-loop.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'default',
          include: [
            'packages/*/test/**/*.test.ts',
            'apps/*/test/**/*.test.ts',
            'workers/test/**/*.test.ts',
            'test/**/*.test.ts',
          ],
          exclude: ['**/node_modules/**', 'test/faults/**', 'test/cluster/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
