import path from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateReport, invoiceGeneration, noop } from './jobs';
import { findUnsafeValues, InvalidJobArgumentsError, MAX_ARGUMENT_DEPTH } from '../src/sandbox/safe-arguments';
import { validateJobArguments as validate } from '../src/sandbox/validate-arguments';
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

/** `levels` arrays, each the only element of the one around it, the innermost holding `innermost`. */
function nestedArrays(levels: number, innermost: unknown = 1): unknown {
  let value: unknown = innermost;
  for (let i = 1; i < levels; i++) value = [value];
  return levels > 0 ? [value] : value;
}

/** The 1-based lines of `source` with type errors, compiled with the project's tsconfig as a file in test/. */
function compileErrorLines(source: string): number[] {
  const configPath = path.resolve(__dirname, '../tsconfig.json');
  const { config } = ts.readConfigFile(configPath, (f) => ts.sys.readFile(f));
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, path.dirname(configPath));
  const fileName = path.resolve(__dirname, 'enqueue-types.virtual.ts');
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    path.resolve(name) === fileName
      ? ts.createSourceFile(name, source, language)
      : getSourceFile(name, language, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => path.resolve(name) === fileName || fileExists(name);
  const program = ts.createProgram([fileName], options, host);
  const file = program.getSourceFile(fileName)!;
  const lines = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file === file)
    .map((d) => file.getLineAndCharacterOfPosition(d.start!).line + 1);
  return [...new Set(lines)].sort((a, b) => a - b);
}

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

  describe('nesting depth', () => {
    const depthIssue = `nests deeper than ${MAX_ARGUMENT_DEPTH} levels; jobs take flat plain values`;

    it(`accepts ${MAX_ARGUMENT_DEPTH} levels of arrays and of objects, the arguments object being the first`, () => {
      expect(MAX_ARGUMENT_DEPTH).toBe(32);
      expect(findUnsafeValues(nestedArrays(MAX_ARGUMENT_DEPTH))).toEqual([]);
      let objects: unknown = { leaf: 'x' };
      for (let i = 1; i < MAX_ARGUMENT_DEPTH; i++) objects = { a: objects };
      expect(findUnsafeValues(objects)).toEqual([]);
      // The control: the same shape one level deeper is refused.
      expect(findUnsafeValues({ a: objects })).toHaveLength(1);
    });

    it('refuses one level deeper with one issue, at the path where the limit is crossed', () => {
      expect(findUnsafeValues(nestedArrays(MAX_ARGUMENT_DEPTH + 1))).toEqual([
        { path: '[0]'.repeat(MAX_ARGUMENT_DEPTH), message: depthIssue },
      ]);
      let objects: unknown = { leaf: 'x' };
      for (let i = 1; i <= MAX_ARGUMENT_DEPTH; i++) objects = { a: objects };
      expect(findUnsafeValues(objects)).toEqual([
        { path: Array(MAX_ARGUMENT_DEPTH).fill('a').join('.'), message: depthIssue },
      ]);
      // Nothing below the crossing is visited: an unsafe value down there is not reported.
      expect(findUnsafeValues({ ids: nestedArrays(MAX_ARGUMENT_DEPTH, new Date(0)) })).toEqual([
        { path: `ids${'[0]'.repeat(MAX_ARGUMENT_DEPTH - 1)}`, message: depthIssue },
      ]);
    });

    it('gives the same one issue for 100,000 nested arrays, without overflowing the stack', () => {
      const deep = nestedArrays(100_000);
      expect(() => findUnsafeValues(deep)).not.toThrow();
      expect(findUnsafeValues(deep)).toEqual([{ path: '[0]'.repeat(MAX_ARGUMENT_DEPTH), message: depthIssue }]);
      expect(() => validate(invoiceGeneration, { invoiceId: deep })).toThrow(InvalidJobArgumentsError);
    });
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
    // Type-checks enqueue calls as a user's file next to this one would be; line 6 is the control that compiles.
    const source = [
      "import type { JobClient } from 'durable-jobs';",
      "import { generateReport, invoiceGeneration } from './jobs';",
      'export function enqueueAll(client: JobClient) {',
      "  void client.enqueue(generateReport, { userId: 1, reportType: 'monthly_sales', startDate: new Date(), endDate: '2026-01-31' });",
      '  void client.enqueue(invoiceGeneration, { invoiceId: { id: 42, total: 10 } });',
      '  void client.enqueue(invoiceGeneration, { invoiceId: 42 });',
      "  void client.enqueue(invoiceGeneration, { invoiceId: 42, user: 'x' });",
      '}',
    ].join('\n');
    expect(compileErrorLines(source)).toEqual([4, 5, 7]); // a Date, a whole record, an undeclared field
  }, 120_000); // a whole type-check of the job modules: 20 s alone on a busy 2-core machine, 45 s beside other files

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
