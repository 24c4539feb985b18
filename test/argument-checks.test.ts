import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { JobDefinition } from '../src/sandbox/job-definition';
import { findUnsafeValues, formatPath, InvalidJobArgumentsError } from '../src/sandbox/safe-arguments';
import { validateJobArguments } from '../src/sandbox/validate-arguments';

// Pure: no server. The server-side half (enqueue rejects before any RPC) is in safe-arguments.test.ts.

/** The one issue an unsafe value gives, as `path: message`. */
const issuesOf = (value: unknown, maxBytes?: number) =>
  findUnsafeValues(value, maxBytes).map(({ path, message }) => `${path}: ${message}`);

describe('formatPath', () => {
  it('joins segments the way a reader writes them, and names the whole object', () => {
    expect(formatPath([])).toBe('(arguments)');
    expect(formatPath(['a', 'b', 3, 'c'])).toBe('a.b[3].c');
    expect(formatPath([0, 'a'])).toBe('[0].a');
  });
});

describe('findUnsafeValues', () => {
  it('accepts plain JSON values of every kind, nested, and the same object in two places', () => {
    const shared = { id: 1 };
    expect(
      findUnsafeValues({ s: 'ab', n: -1.5, b: false, z: null, list: [1, 'two', [null]], a: shared, c: shared }),
    ).toEqual([]);
    expect(findUnsafeValues(Object.assign(Object.create(null), { id: 1 }))).toEqual([]); // a null-prototype object
  });

  it('names each kind of unsafe value and what to pass instead', () => {
    class Invoice {}
    const Anonymous = (() => class {})();
    expect(
      issuesOf({
        nan: Number.NaN,
        inf: Number.NEGATIVE_INFINITY,
        u: undefined,
        big: 1n,
        fn: () => 1,
        sym: Symbol('s'),
        date: new Date(0),
        map: new Map(),
        set: new Set(),
        invoice: new Invoice(),
        anon: new Anonymous(),
        orphan: Object.create(Object.create(null)), // its prototype has no constructor at all
      }),
    ).toEqual([
      'nan: is NaN; JSON cannot carry it',
      'inf: is -Infinity; JSON cannot carry it',
      'u: is undefined; omit the field or pass null',
      'big: is a BigInt; pass it as a string',
      'fn: is a function; jobs take plain values',
      'sym: is a Symbol; jobs take plain values',
      "date: is a Date; pass an ISO date string such as '2026-11-28'",
      'map: is a Map; pass a plain object',
      'set: is a Set; pass an array',
      'invoice: is an instance of Invoice; pass its id (or plain fields) and let the job fetch fresh data',
      'anon: is an instance of an unnamed class; pass its id (or plain fields) and let the job fetch fresh data',
      'orphan: is an instance of an unnamed class; pass its id (or plain fields) and let the job fetch fresh data',
    ]);
  });

  it('gives the path of every unsafe value, at any depth, and the whole value at the root', () => {
    expect(issuesOf({ order: { items: [{ price: 1 }, { price: Number.NaN }] }, at: [1, [2, 3n]] })).toEqual([
      'order.items[1].price: is NaN; JSON cannot carry it',
      'at[1][1]: is a BigInt; pass it as a string',
    ]);
    expect(issuesOf(new Date(0))).toEqual(["(arguments): is a Date; pass an ISO date string such as '2026-11-28'"]);
  });

  it('reports holes in sparse arrays and circular references instead of recursing', () => {
    const loop: Record<string, unknown> = { id: 1 };
    loop.self = loop;
    // eslint-disable-next-line no-sparse-arrays
    expect(issuesOf({ list: [1, , 3], loop })).toEqual([
      'list[1]: is a hole in a sparse array',
      'loop.self: is a circular reference',
    ]);
  });

  it('counts the budget in UTF-8 bytes of the JSON, at most maxBytes', () => {
    // {"s":"ééé"} is 11 characters and 14 bytes.
    expect(issuesOf({ s: 'ééé' }, 14)).toEqual([]);
    expect(issuesOf({ s: 'ééé' }, 13)).toEqual([
      '(arguments): arguments are 14 bytes, over the 13-byte budget; pass ids and let the job fetch the data',
    ]);
    expect(issuesOf({ s: 'x'.repeat(64 * 1024) })).toEqual([
      '(arguments): arguments are 65544 bytes, over the 65536-byte budget; pass ids and let the job fetch the data',
    ]);
  });

  it('checks the budget only for values that are otherwise safe', () => {
    expect(issuesOf({ n: Number.NaN, s: 'x'.repeat(100) }, 10)).toEqual(['n: is NaN; JSON cannot carry it']);
  });
});

describe('InvalidJobArgumentsError', () => {
  it('names the job and every issue in its message', () => {
    const err = new InvalidJobArgumentsError('send-mail', [
      { path: 'to', message: 'is undefined' },
      { path: 'at', message: 'is a Date' },
    ]);
    expect(err).toMatchObject({ name: 'InvalidJobArgumentsError', job: 'send-mail' });
    expect(err.message).toBe('Invalid arguments for job "send-mail": to: is undefined; at: is a Date');
  });
});

describe('validateJobArguments', () => {
  const job: JobDefinition<{ order: { id: number } }> = {
    name: 'ship-order',
    description: 'a job for these tests',
    workflow: async function shipOrderWorkflow() {},
    queue: 'default',
    args: z.object({ order: z.object({ id: z.number() }).strict() }).strict(),
    idempotencyKey: (args) => String(args.order.id),
    maxArgumentBytes: 60,
  };
  const issues = (raw: unknown) => {
    try {
      validateJobArguments(job, raw);
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidJobArgumentsError);
      expect((err as InvalidJobArgumentsError).job).toBe('ship-order');
      return (err as InvalidJobArgumentsError).issues.map(({ path, message }) => `${path}: ${message}`);
    }
    throw new Error('expected InvalidJobArgumentsError');
  };

  it('returns the parsed arguments', () => {
    expect(validateJobArguments(job, { order: { id: 7 } })).toEqual({ order: { id: 7 } });
  });

  it('refuses no arguments, and arguments that are not one object', () => {
    expect(issues(undefined)).toEqual(['(arguments): are missing: pass one object of named fields']);
    for (const raw of [null, 42, 'x', [{ order: { id: 7 } }]]) {
      expect(issues(raw)).toEqual(['(arguments): must be an object of named fields']);
    }
  });

  it('reports unsafe values (and the job’s byte budget) before the schema', () => {
    expect(issues({ order: { id: new Date(0) } })).toEqual([
      "order.id: is a Date; pass an ISO date string such as '2026-11-28'",
    ]);
    expect(issues({ order: { id: 7 }, pad: 'x'.repeat(34) })).toEqual([
      '(arguments): arguments are 61 bytes, over the 60-byte budget; pass ids and let the job fetch the data',
    ]);
  });

  it('names each unknown field by its full path, and each schema violation', () => {
    expect(issues({ order: { id: 7, total: 1, note: 'x' }, extra: 1 })).toEqual([
      'order.total: is not an argument of this job',
      'order.note: is not an argument of this job',
      'extra: is not an argument of this job',
    ]);
    expect(issues({ order: { id: '7' } })).toEqual([
      `order.id: ${job.args.safeParse({ order: { id: '7' } }).error!.issues[0]!.message}`,
    ]);
  });
});
