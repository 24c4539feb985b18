// Mutation testing of the pure modules (`npm run mutation`): Stryker changes the code one small way at a time and
// reruns the unit tests; a change that no test notices ("survived") is behaviour no test pins down.
//
// The mutants left alive (score 94.6 % on the last CI run, before the tokens.ts tests that followed it) change
// nothing a caller can observe, or only the wording of an error:
// - encryption.ts `payload.metadata?.[KEY_ID_METADATA]` → `.metadata[…]`: the line above already read `encoding` from
//   the metadata, so it exists here.
// - format.ts `size >= 100` → `> 100` and `size >= 10` → `> 10`: at exactly 100 (10) one more decimal is a trailing
//   zero, dropped anyway. `ms === undefined || …` → `false || …`: Number.isFinite(undefined) is false as well.
// - iso-date.ts: the month and the day checks are each implied by the other two; a date that rolls over changes its
//   month and day (or year) together.
// - percentile.ts without `values.length === 0`: the lookup of an empty list gives undefined too; only an invalid p on
//   an empty list would throw instead, and no caller passes one.
// - safe-arguments.ts `case 'string'` / `case 'boolean'` → `case ""`: an unmatched type also ends the switch with
//   undefined (safe). Without the NaN check, NaN reaches the next line, whose message reads the same: "is NaN; …".
//
// Tests that feed Stryker build their fixtures inside `it`, not while the file loads: Stryker activates a mutant
// when the tests start, and a test file that fails to load counts as no failing test.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: [
    'src/sandbox/retry-rules.ts',
    'src/sandbox/safe-arguments.ts',
    'src/sandbox/validate-arguments.ts',
    'src/encryption.ts',
    // statsQuery, parseSince and quote only: jobStats (above line 99) reads a Temporal server, and its tests need one.
    'src/client/stats.ts:99-130',
    'src/percentile.ts',
    'src/format.ts',
    'src/sandbox/iso-date.ts',
    'src/sandbox/error-types.ts',
    'src/http/tokens.ts',
  ],
  testRunner: 'vitest',
  // No global setup: the pure tests need no Temporal server, so each mutant runs in milliseconds.
  vitest: { configFile: 'vitest.unit.config.mjs' },
  coverageAnalysis: 'perTest',
  // The machine is shared with other test runs.
  concurrency: 2,
  reporters: ['clear-text', 'progress', 'html'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  // The surviving mutants and the score table, not a line per test: the html report has everything.
  clearTextReporter: { reportTests: false },
  thresholds: { high: 90, low: 85, break: 85 },
};
