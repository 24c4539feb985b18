import fc from 'fast-check';
import { z } from 'zod';
import type { DeclaredJob } from '../src/sandbox/job-definition';
import { MAX_ARGUMENT_DEPTH } from '../src/sandbox/safe-arguments';

/**
 * fast-check generators of what callers may throw at a job: shared by the property tests of the argument check
 * (test/argument-properties.test.ts) and of the HTTP service (test/http-properties.test.ts).
 */

/** Any JavaScript value, the unsafe kinds included (BigInt, Date, Map, Set, boxed values, sparse arrays, …). */
export const anyValue = fc.anything({
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withObjectString: true,
  withNullPrototype: true,
  withTypedArray: true,
  withSparseArray: true,
  withBoxedValues: true,
});

/** ISO calendar dates within a few months, so a random start and end are in order half the time. */
export const isoDateString = fc
  .integer({ min: 0, max: 90 })
  .map((days) => new Date(Date.UTC(2026, 0, 1 + days)).toISOString().slice(0, 10));

/** A nesting of arrays, objects or both around a leaf: near the depth limit as often as far beyond it (≤ 5,000). */
export interface Nesting {
  depth: number;
  shape: 'arrays' | 'objects' | 'mixed';
  leaf: fc.JsonValue;
}

export const nesting: fc.Arbitrary<Nesting> = fc.record({
  depth: fc.oneof(
    fc.integer({ min: 1, max: MAX_ARGUMENT_DEPTH + 2 }),
    fc.integer({ min: MAX_ARGUMENT_DEPTH, max: 5_000 }),
  ),
  shape: fc.constantFrom('arrays', 'objects', 'mixed'),
  leaf: fc.jsonValue({ maxDepth: 1 }),
});

const asArray = (n: Nesting, level: number) => n.shape === 'arrays' || (n.shape === 'mixed' && level % 2 === 0);

/** The nesting as a value, built without recursion. */
export function nestedValue(n: Nesting): unknown {
  let value: unknown = n.leaf;
  for (let level = 0; level < n.depth; level++) value = asArray(n, level) ? [value] : { nested: value };
  return value;
}

/** The nesting as JSON text, built without recursion. */
export function nestedText(n: Nesting): string {
  let open = '';
  let close = '';
  for (let level = n.depth - 1; level >= 0; level--) {
    open += asArray(n, level) ? '[' : '{"nested":';
    close = (asArray(n, level) ? ']' : '}') + close;
  }
  return open + JSON.stringify(n.leaf) + close;
}

/** The top-level field names of a job's schema (every job's schema is an object). */
export function schemaKeys(job: DeclaredJob<any>): string[] {
  if (!(job.args instanceof z.ZodObject)) throw new TypeError(`job "${job.name}": its schema is not an object`);
  return Object.keys(job.args.shape);
}

const isPositiveInteger = (value: unknown) => Number.isInteger(value) && (value as number) > 0;

/**
 * Random JSON values for one field, mostly of the kind its schema takes (its enum's options, integers around a small
 * valid range, ISO dates or short strings), so that some records are valid and not by rare accident. With `recordIds`,
 * a record id that is valid is one of them: tests share one server, and a small id such as 2 may be another test's run.
 */
function fieldValue(field: unknown, recordIds?: readonly number[]): fc.Arbitrary<unknown> {
  let random: fc.Arbitrary<unknown> = fc.jsonValue();
  let likely: fc.Arbitrary<unknown> = fc.jsonValue();
  if (field instanceof z.ZodEnum) likely = fc.constantFrom(...(field.options as string[]));
  else if (field instanceof z.ZodString) likely = fc.oneof({ weight: 9, arbitrary: isoDateString }, fc.string());
  else if (field instanceof z.ZodNumber && field.maxValue !== null && field.maxValue < Number.MAX_SAFE_INTEGER)
    likely = fc.integer({ min: (field.minValue ?? 0) - 2, max: field.maxValue + 2 }); // e.g. windowMinutes
  else if (field instanceof z.ZodNumber && recordIds) {
    random = fc.jsonValue().filter((value) => !isPositiveInteger(value));
    likely = fc.oneof(
      fc.constantFrom(...recordIds),
      fc.integer({ min: -2, max: 0 }),
      fc.double().filter((value) => !isPositiveInteger(value)), // 1.0 is the record id 1
    );
  } else if (field instanceof z.ZodNumber) likely = fc.integer({ min: -2, max: 2_000 });
  return fc.oneof({ weight: 1, arbitrary: random }, { weight: 10, arbitrary: likely });
}

/** Objects of the job's own field names (sometimes one missing, sometimes one more), with random JSON values. */
export function schemaRecord(
  job: DeclaredJob<any>,
  options: { recordIds?: readonly number[] } = {},
): fc.Arbitrary<Record<string, unknown>> {
  const shape = (job.args as z.ZodObject).shape;
  const keys = schemaKeys(job);
  return fc
    .tuple(
      fc.oneof({ weight: 3, arbitrary: fc.constant(keys) }, fc.subarray(keys)),
      fc.tuple(...keys.map((key) => fieldValue(shape[key], options.recordIds))),
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
