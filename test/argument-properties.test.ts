import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { DeclaredJob } from '../src/job-definition';
import { jobs } from '../src/jobs';
import {
  DEFAULT_MAX_ARGUMENT_BYTES,
  findUnsafeValues,
  InvalidJobArgumentsError,
  MAX_ARGUMENT_DEPTH,
} from '../src/safe-arguments';
import { validateJobArguments } from '../src/validate-arguments';

// Pure: no server. Whatever a caller passes, the argument check either returns arguments the job can take or throws
// InvalidJobArgumentsError naming at least one issue; never a TypeError, a RangeError or a zod error.

const RUNS_PER_JOB = 200; // × every job in `jobs`: well over 1,000 runs

/** The top-level field names of a job's schema (every job's schema is an object, possibly refined). */
function schemaKeys(job: DeclaredJob<any>): string[] {
  if (!(job.args instanceof z.ZodObject)) throw new TypeError(`job "${job.name}": its schema is not an object`);
  return Object.keys(job.args.shape);
}

/** ISO calendar dates within a few months, so a random start and end are in order half the time. */
const isoDateString = fc
  .integer({ min: 0, max: 90 })
  .map((days) => new Date(Date.UTC(2026, 0, 1 + days)).toISOString().slice(0, 10));

/**
 * Random JSON values for one field, mostly of the kind the field's schema takes (its enum's options, integers around
 * the small valid ranges, ISO dates or short strings), so that some records are valid and not by rare accident.
 */
function fieldValue(field: unknown): fc.Arbitrary<unknown> {
  let likely: fc.Arbitrary<unknown> = fc.jsonValue();
  if (field instanceof z.ZodEnum) likely = fc.constantFrom(...(field.options as string[]));
  else if (field instanceof z.ZodNumber) likely = fc.integer({ min: -2, max: 2_000 });
  else if (field instanceof z.ZodString) likely = fc.oneof({ weight: 9, arbitrary: isoDateString }, fc.string());
  return fc.oneof({ weight: 1, arbitrary: fc.jsonValue() }, { weight: 10, arbitrary: likely });
}

/** Objects of the job's own field names (sometimes one missing, sometimes one more), with random JSON values. */
function schemaRecord(job: DeclaredJob<any>): fc.Arbitrary<Record<string, unknown>> {
  const shape = (job.args as z.ZodObject).shape;
  const keys = schemaKeys(job);
  return fc
    .tuple(
      fc.oneof({ weight: 3, arbitrary: fc.constant(keys) }, fc.subarray(keys)),
      fc.tuple(...keys.map((key) => fieldValue(shape[key]))),
      fc.oneof({ weight: 7, arbitrary: fc.constant(undefined) }, fc.tuple(fc.string(), fc.jsonValue())),
    )
    .map(([present, values, extra]) => {
      const record: Record<string, unknown> = {};
      for (const key of present) record[key] = values[keys.indexOf(key)];
      // defineProperty: a key such as `__proto__` becomes an own field, as JSON.parse would make it.
      if (extra) Object.defineProperty(record, extra[0], { value: extra[1], enumerable: true, writable: true });
      return record;
    });
}

/** `depth` levels of arrays, objects or both, built without recursion; near the limit as often as far beyond it. */
const deeplyNested: fc.Arbitrary<unknown> = fc
  .record({
    depth: fc.oneof(
      fc.integer({ min: 1, max: MAX_ARGUMENT_DEPTH + 2 }),
      fc.integer({ min: MAX_ARGUMENT_DEPTH, max: 5_000 }),
    ),
    shape: fc.constantFrom('arrays', 'objects', 'mixed'),
    leaf: fc.jsonValue({ maxDepth: 1 }),
  })
  .map(({ depth, shape, leaf }) => {
    let value: unknown = leaf;
    for (let level = 0; level < depth; level++) {
      const asArray = shape === 'arrays' || (shape === 'mixed' && level % 2 === 0);
      value = asArray ? [value] : { nested: value };
    }
    return value;
  });

/** Everything a caller might pass, for one job. */
function rawArguments(job: DeclaredJob<any>): fc.Arbitrary<unknown> {
  const keys = schemaKeys(job);
  return fc.oneof(
    fc.jsonValue(),
    fc.anything({
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withObjectString: true,
      withNullPrototype: true,
      withTypedArray: true,
      withSparseArray: true,
      withBoxedValues: true,
    }),
    deeplyNested,
    fc.tuple(fc.constantFrom(...keys), deeplyNested).map(([key, value]) => ({ [key]: value })),
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
