import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';
import { libraryAlias } from './test/library-alias.mjs';

export default defineConfig({
  // The example application imports the library by its package name, as a user's would: here, its sources.
  resolve: { alias: libraryAlias },
  test: {
    // jobctl processes the tests spawn run the test application: the example's jobs and the test jobs (test/jobs).
    env: { JOBS_APP: fileURLToPath(new URL('./test/jobs/app.ts', import.meta.url)) },
    include: ['test/**/*.test.ts'],
    // `npm run test:stack` (vitest.stack.config.mts) runs these against `jobctl stack`, not the dev server; so does
    // test/production/ (`npm run test:production`).
    exclude: [...configDefaults.exclude, 'test/stack/**', 'test/production/**'],
    // One real Temporal dev server for the whole run; each test file gets its own task queues and database.
    globalSetup: ['test/global-setup.ts'],
    // Native modules (Temporal core, better-sqlite3) are happiest in child processes.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
