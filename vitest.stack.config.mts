import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { libraryAlias } from './test/library-alias.mjs';

/**
 * `npm run test:stack`: the tests of `jobctl stack` (the production shape: Temporal on PostgreSQL as separate
 * services). Not part of `npm test`, which runs on the dev server: each test here starts its own stack, and a first
 * run on a machine builds the Temporal server with Go (minutes).
 */
export default defineConfig({
  // The example application imports the library by its package name, as a user's would: here, its sources.
  resolve: { alias: libraryAlias },
  test: {
    // jobctl processes the tests spawn run the test application: the example's jobs and the test jobs (test/jobs).
    env: { JOBS_APP: fileURLToPath(new URL('./test/jobs/app.ts', import.meta.url)) },
    include: ['test/stack/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
    testTimeout: 30 * 60_000,
    hookTimeout: 5 * 60_000,
  },
});
