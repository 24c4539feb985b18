import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeclaredJob } from '../src/sandbox/job-definition';
import { jobs } from '../src/sandbox/jobs';
import './jobs'; // declares every job: the example application's and the test jobs
import { DEFAULT_MAX_ARGUMENT_BYTES, findUnsafeValues, InvalidJobArgumentsError } from '../src/sandbox/safe-arguments';
import { validateJobArguments } from '../src/sandbox/validate-arguments';
import { anyValue, nestedValue, nesting, schemaKeys, schemaRecord } from './arbitraries';

// Pure: no server. Whatever a caller passes, the argument check either returns arguments the job can take or throws
// InvalidJobArgumentsError naming at least one issue; never a TypeError, a RangeError or a zod error.

const RUNS_PER_JOB = 200; // × every job in `jobs`: well over 1,000 runs

/** Everything a caller might pass, for one job. */
function rawArguments(job: DeclaredJob<any>): fc.Arbitrary<unknown> {
  const keys = schemaKeys(job);
  return fc.oneof(
    fc.jsonValue(),
    anyValue,
    nesting.map(nestedValue),
    fc.tuple(fc.constantFrom(...keys), nesting).map(([key, n]) => ({ [key]: nestedValue(n) })),
    // Around the byte budget: `{"<key>":"xxx…"}` of budget − 20 to budget + 20 bytes.
    fc.tuple(fc.constantFrom(...keys), fc.integer({ min: -20, max: 20 })).map(([key, over]) => ({
      [key]: 'x'.repeat((job.maxArgumentBytes ?? DEFAULT_MAX_ARGUMENT_BYTES) - key.length - 7 + over),
    })),
    { weight: 4, arbitrary: schemaRecord(job) },
  );
}

describe('validateJobArguments, on random input', () => {
  it('covers every job, each with an object schema', () => {
    expect(jobs.length).toBeGreaterThan(0);
    for (const job of jobs) expect(schemaKeys(job).length).toBeGreaterThan(0);
  });

  it.each(jobs.map((job) => [job.name, job] as const))(
    '%s: returns arguments the schema accepts within the byte budget, or throws InvalidJobArgumentsError',
    (_name, job) => {
      const outcomes = { accepted: 0, rejected: 0 };
      const budget = job.maxArgumentBytes ?? DEFAULT_MAX_ARGUMENT_BYTES;
      fc.assert(
        fc.property(rawArguments(job), (raw) => {
          let args: unknown;
          try {
            args = validateJobArguments(job, raw);
          } catch (err) {
            expect(err).toBeInstanceOf(InvalidJobArgumentsError);
            const { issues, job: name } = err as InvalidJobArgumentsError;
            expect(name).toBe(job.name);
            expect(issues.length).toBeGreaterThan(0);
            for (const issue of issues) {
              expect(issue.path).toEqual(expect.any(String));
              expect(issue.message).toMatch(/\S/);
            }
            outcomes.rejected++;
            return;
          }
          expect(job.args.safeParse(args).success).toBe(true);
          expect(findUnsafeValues(args, budget)).toEqual([]);
          expect(new TextEncoder().encode(JSON.stringify(args)).length).toBeLessThanOrEqual(budget);
          outcomes.accepted++;
        }),
        { numRuns: RUNS_PER_JOB },
      );
      // Not vacuous: both outcomes occurred, for this job.
      expect(outcomes.accepted + outcomes.rejected).toBe(RUNS_PER_JOB);
      expect(outcomes.accepted).toBeGreaterThan(0);
      expect(outcomes.rejected).toBeGreaterThan(0);
    },
  );
});
