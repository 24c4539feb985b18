import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { libraryAlias } from './test/library-alias.mjs';

/**
 * `npm run test:production`: the tests that touch visibility, priorities, batches, dead letters and the app database,
 * run against `jobctl stack` (Temporal server on PostgreSQL with SQL visibility, four services, the compose dynamic
 * config) instead of the dev server, with the app database on the stack's PostgreSQL (a database per harness).
 * test/stack-global-setup.ts starts ONE stack for the run. README "Tests" says why these files.
 */
const PRODUCTION_TEST_FILES = [
  // That the run is on PostgreSQL, for Temporal and for the app, a database per harness.
  'test/production/**/*.test.ts',
  // Dead letters and visibility queries (jobctl dead / retry / stats / list, custom search attributes).
  'test/dead-letters.test.ts',
  'test/stats.test.ts',
  'test/stats-timed-out.test.ts',
  'test/search-attributes.test.ts',
  'test/jobs.test.ts',
  'test/cli.test.ts',
  'test/cancellation.test.ts',
  'test/alerts.test.ts',
  // Priorities and fairness: the matcher docker/dynamicconfig.yaml turns on.
  'test/priority.test.ts',
  'test/priority-inheritance.test.ts',
  'test/fairness.test.ts',
  // Batches on the PostgreSQL app database: slices, continue-as-new chains.
  'test/batch-export.test.ts',
  'test/continue-as-new-chain.test.ts',
  // Idempotency (conflict and reuse policies) and Schedules.
  'test/idempotency.test.ts',
  'test/schedules.test.ts',
  'test/delayed-jobs.test.ts',
  // The HTTP service (in process and as `jobctl http`), its tokens and its OpenAPI document, on the stack's server.
  'test/http.test.ts',
  'test/http-auth.test.ts',
  'test/http-command.test.ts',
  'test/http-properties.test.ts',
  'test/openapi.test.ts',
  // Traces: in one process, and across `jobctl http` and `jobctl worker` processes.
  'test/tracing.test.ts',
  'test/tracing-processes.test.ts',
  // Queue alerts: the health check and worker processes (the no-worker alert on a stack of its own, see the file).
  'test/queue-alerts.test.ts',
  // Flow control on the production matcher: rate limits, per-key concurrency, debounce.
  'test/rate-limits.test.ts',
  'test/concurrency.test.ts',
  'test/debounce.test.ts',
];

export default defineConfig({
  // The example application imports the library by its package name, as a user's would: here, its sources.
  resolve: { alias: libraryAlias },
  test: {
    // jobctl processes the tests spawn run the test application: the example's jobs and the test jobs (test/jobs).
    env: { JOBS_APP: fileURLToPath(new URL('./test/jobs/app.ts', import.meta.url)) },
    include: PRODUCTION_TEST_FILES,
    globalSetup: ['test/stack-global-setup.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // Twice `npm test`'s: four server processes and PostgreSQL share the machine with the tests, and the tests that
    // spawn a dozen jobctl processes in a row (schedules, delayed jobs) outlast 60 s on a busy 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
