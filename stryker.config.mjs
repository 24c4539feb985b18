// Mutation testing of the pure modules (`npm run mutation`): Stryker changes the code one small way at a time and
// reruns the unit tests; a change that no test notices ("survived") is behaviour no test pins down.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: [
    'src/retry-rules.ts',
    'src/safe-arguments.ts',
    'src/validate-arguments.ts',
    'src/encryption.ts',
    // statsQuery, parseSince and quote only: jobStats (above line 99) reads a Temporal server, and its tests need one.
    'src/stats.ts:99-130',
    'src/percentile.ts',
    'src/format.ts',
    'src/iso-date.ts',
    'src/error-types.ts',
  ],
  testRunner: 'vitest',
  // No global setup: the pure tests need no Temporal server, so each mutant runs in milliseconds.
  vitest: { configFile: 'vitest.unit.config.mjs' },
  coverageAnalysis: 'perTest',
  // The machine is shared with other test runs.
  concurrency: 2,
  reporters: ['clear-text', 'progress', 'html'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  thresholds: { high: 90, low: 85, break: 85 },
};
