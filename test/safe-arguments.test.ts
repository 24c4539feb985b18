import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateReport, invoiceGeneration, noop } from '../workflows';
import { findUnsafeValues, InvalidJobArgumentsError } from '../src/safe-arguments';
import { validateJobArguments as validate } from '../src/validate-arguments';
import { createHarness, eventually, type Harness } from './harness';

class Invoice {
  constructor(readonly id: number) {}
}

/** Every kind of unsafe value, where it sits, and what the error must say about it. */
const unsafeCases: Array<{ kind: string; args: Record<string, unknown>; path: string; says: RegExp }> = [
  { kind: 'Date', args: { invoiceId: new Date() }, path: 'invoiceId', says: /Date.*ISO date string/ },
  { kind: 'class instance', args: { invoiceId: new Invoice(1) }, path: 'invoiceId', says: /instance of Invoice/ },
  { kind: 'Map', args: { invoiceId: new Map([[1, 2]]) }, path: 'invoiceId', says: /Map/ },
  { kind: 'Set', args: { invoiceId: new Set([1]) }, path: 'invoiceId', says: /Set/ },
  { kind: 'function', args: { invoiceId: () => 1 }, path: 'invoiceId', says: /function/ },
  { kind: 'BigInt', args: { invoiceId: 1n }, path: 'invoiceId', says: /BigInt/ },
  { kind: 'NaN', args: { invoiceId: Number.NaN }, path: 'invoiceId', says: /NaN/ },
  { kind: 'Infinity', args: { invoiceId: Number.POSITIVE_INFINITY }, path: 'invoiceId', says: /Infinity/ },
  { kind: 'undefined field', args: { invoiceId: undefined }, path: 'invoiceId', says: /undefined/ },
  {
    kind: 'oversized payload',
    args: { invoiceId: 'x'.repeat(70 * 1024) },
    path: '(arguments)',
    says: /over the 65536-byte budget/,
  },
];

describe('safe arguments', () => {
  it('names the exact path of an unsafe value deep inside the arguments', () => {
    expect(findUnsafeValues({ order: { items: [{ price: 1 }, { price: Number.NaN }], at: new Date(0) } })).toEqual([
      { path: 'order.items[1].price', message: expect.stringMatching(/NaN/) },
      { path: 'order.at', message: expect.stringMatching(/Date/) },
    ]);
  });

  it('accepts plain JSON values of every kind', () => {
    expect(
      findUnsafeValues({ s: 'a', n: 1.5, b: true, z: null, list: [1, 'two', { three: [3] }], nested: { ok: {} } }),
    ).toEqual([]);
  });

  it('rejects schema violations with the field path: wrong type, unknown field, bad date, reversed range', () => {
    const issuesOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as InvalidJobArgumentsError).issues.map((i) => i.path);
      }
      return [];
    };
    expect(issuesOf(() => validate(invoiceGeneration, { invoiceId: '42' }))).toEqual(['invoiceId']);
    expect(issuesOf(() => validate(invoiceGeneration, { invoiceId: 42, extra: 1 }))).toEqual(['extra']);
    expect(
      issuesOf(() =>
        validate(generateReport, {
          userId: 1,
          reportType: 'monthly_sales',
          startDate: '2026-02-30',
          endDate: '2026-03-01',
        }),
      ),
    ).toEqual(['startDate']);
    expect(
      issuesOf(() =>
        validate(generateReport, {
          userId: 1,
          reportType: 'monthly_sales',
          startDate: '2026-03-02',
          endDate: '2026-03-01',
        }),
      ),
    ).toEqual(['endDate']);
  });

  it('rejects unsafe types at compile time where TypeScript can', () => {
    // These lines are type-checked by `npm test` (tsc runs first): each must be a compile error.
    const compileOnly = (client: Harness['client']) => {
      void client.enqueue(generateReport, {
        userId: 1,
        reportType: 'monthly_sales',
        // @ts-expect-error a Date is not a job argument
        startDate: new Date(),
        endDate: '2026-01-31',
      });
      // @ts-expect-error an object (e.g. a whole record) is not an id
      void client.enqueue(invoiceGeneration, { invoiceId: { id: 42, total: 10 } });
      // @ts-expect-error fields the job does not declare
      void client.enqueue(invoiceGeneration, { invoiceId: 42, user: 'x' });
    };
    expect(typeof compileOnly).toBe('function');
  });

  describe('at enqueue, against the real server', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await createHarness();
    });
    afterAll(() => h?.close());

    it.each(unsafeCases)(
      'a $kind is rejected naming "$path", before anything reaches the server',
      async ({ args, path, says }) => {
        const attempt = h.client.enqueue(invoiceGeneration, args as never);
        await expect(attempt).rejects.toBeInstanceOf(InvalidJobArgumentsError);
        const err = (await attempt.catch((e) => e)) as InvalidJobArgumentsError;
        expect(err.job).toBe('invoice-generation');
        expect(err.issues).toEqual([{ path, message: expect.stringMatching(says) }]);
        expect(err.message).toContain(path);
      },
    );

    it('none of the rejected enqueues created a workflow', async () => {
      // A valid marker job on the same task queue: once visibility lists it, it would list the others too.
      const marker = await h.client.enqueue(noop, { id: `marker-${h.taskQueuePrefix}` });
      const query = `TaskQueue = '${h.taskQueuePrefix}-default'`;
      const listed = await eventually(async () => {
        const ids: string[] = [];
        for await (const info of h.env.client.workflow.list({ query })) ids.push(info.workflowId);
        return ids.length > 0 ? ids : undefined;
      });
      expect(listed).toEqual([marker.workflowId]);
    });
  });
});
