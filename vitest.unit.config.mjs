import { defineConfig } from 'vitest/config';
import { libraryAlias } from './test/library-alias.mjs';

/**
 * The pure unit tests alone: no Temporal server, no bundles, no database. Stryker (`npm run mutation`) runs these once
 * per mutant, so they must start in milliseconds; `npm test` runs them too, through vitest.config.mts.
 */
export default defineConfig({
  // The example application imports the library by its package name, as a user's would: here, its sources.
  resolve: { alias: libraryAlias },
  test: {
    // Pure modules keep no state between test files; one shared module graph cuts the start-up of every Stryker run
    // (its first run: 8 s → 2 s).
    isolate: false,
    include: [
      'test/retry-rules.test.ts',
      'test/retry-decisions.test.ts',
      'test/encryption.test.ts',
      'test/keyring.test.ts',
      'test/argument-checks.test.ts',
      'test/parse-since.test.ts',
      'test/stats-query.test.ts',
      'test/percentile.test.ts',
      'test/format.test.ts',
      'test/iso-date.test.ts',
      'test/error-types.test.ts',
      'test/api-tokens.test.ts',
      'test/soak-check.test.ts',
    ],
  },
});
