import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildHttpService } from '../src/http/server';
import type { DeclaredJob } from '../src/job-definition';
import { jobs } from '../src/jobs';
import { PRIORITIES, taskQueueName } from '../src/queues';
import { MAX_ARGUMENT_DEPTH } from '../src/safe-arguments';
import { createHarness, eventually, type Harness } from './harness';

// The HTTP service against random requests, on the real server (no workers: runs only need to exist). Whatever is
// posted, the answer is never a 5xx, is JSON with an `error` unless it is a 202, and only a 202 starts a run.

const RUNS = 1_000;

/** `undefined`: no content-type header at all (the body is sent as bytes, so fetch adds none). */
const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'text/plain', undefined] as const;

interface Request {
  name: string;
  /** Text is sent as UTF-8. */
  body: string | Uint8Array;
  contentType: (typeof CONTENT_TYPES)[number];
}

/** JSON text of any value where JSON can say it; otherwise its string form (a BigInt, a lone `undefined`, …). */
function jsonText(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    if (text !== undefined) return text;
  } catch {
    // e.g. a BigInt somewhere inside: fall through to the string form
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value); // a null-prototype object has no toString
  }
}

const anything = fc.anything({
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

/** JSON text nested `depth` levels deep, near the depth limit as often as far beyond it (up to 5,000 levels). */
const deepJsonText = fc
  .record({
    depth: fc.oneof(
      fc.integer({ min: 1, max: MAX_ARGUMENT_DEPTH + 2 }),
      fc.integer({ min: MAX_ARGUMENT_DEPTH, max: 5_000 }),
    ),
    arrays: fc.boolean(),
    leaf: fc.jsonValue({ maxDepth: 1 }),
  })
  .map(({ depth, arrays, leaf }) =>
    arrays
      ? '['.repeat(depth) + JSON.stringify(leaf) + ']'.repeat(depth)
      : '{"nested":'.repeat(depth) + JSON.stringify(leaf) + '}'.repeat(depth),
  );

/** Bodies that are not about any job in particular. */
const anyBody: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.jsonValue().map(jsonText),
  anything.map(jsonText),
  deepJsonText,
  fc.uint8Array({ maxLength: 200 }),
);

const isPositiveInteger = (value: unknown) => Number.isInteger(value) && (value as number) > 0;

/** ISO calendar dates within a few months, so a random start and end are in order half the time. */
const isoDateString = fc
  .integer({ min: 0, max: 90 })
  .map((days) => new Date(Date.UTC(2026, 0, 1 + days)).toISOString().slice(0, 10));

describe('HTTP service, on random requests', () => {
  let h: Harness;
  let app: FastifyInstance;
  let base: string;
  const accepted = new Set<string>();
  let terminated = false;

  /** The runs this test started: no worker polls these queues, so they would stay open. */
  async function terminateAccepted() {
    if (terminated) return;
    terminated = true;
    await Promise.all(
      [...accepted].map((workflowId) =>
        h.env.client.workflow.getHandle(workflowId).terminate('http-properties test: nothing runs these'),
      ),
    );
  }

  beforeAll(async () => {
    h = await createHarness();
    app = buildHttpService(h.client);
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    if (h) await terminateAccepted();
    await app?.close();
    await h?.close();
  });

  async function post({ name, body, contentType }: Request): Promise<Response> {
    return await fetch(`${base}/jobs/${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: contentType ? { 'content-type': contentType } : {},
      body: typeof body === 'string' ? new TextEncoder().encode(body) : body,
    });
  }

  /** Every run on this harness's task queues, by visibility. */
  async function listedRuns(): Promise<string[]> {
    const queues = PRIORITIES.map((priority) => `'${taskQueueName(h.taskQueuePrefix, priority)}'`);
    const ids: string[] = [];
    for await (const run of h.env.client.workflow.list({ query: `TaskQueue IN (${queues.join(', ')})` }))
      ids.push(run.workflowId);
    return ids;
  }

  it('answers 400 naming the depth limit for a body of 100,000 nested arrays', async () => {
    const depth = 100_000;
    for (const text of [
      '['.repeat(depth) + ']'.repeat(depth),
      `{"invoiceId":${'['.repeat(depth)}${']'.repeat(depth)}}`,
    ]) {
      const response = await post({ name: 'invoice-generation', body: text, contentType: 'application/json' });
      const body = (await response.json()) as { error: string };
      expect(response.status).toBe(400);
      expect(body.error).toMatch(new RegExp(`(deeper|depth|nest).*\\b${MAX_ARGUMENT_DEPTH}\\b`, 'i'));
    }
  });

  it(`never answers 5xx, answers JSON errors, and starts a run only for a 202 (${RUNS} random requests)`, async () => {
    // Ids of records no other test uses: all tests share the server, and workflow IDs are `<job>/<id>`.
    const ownIds = Array.from({ length: 1_000 }, () => h.unusedId());

    /** Random JSON values for one field, mostly of the kind its schema takes, so that some requests are valid. */
    function fieldValue(field: unknown): fc.Arbitrary<unknown> {
      let random: fc.Arbitrary<unknown> = fc.jsonValue();
      let likely: fc.Arbitrary<unknown> = fc.jsonValue();
      if (field instanceof z.ZodEnum) likely = fc.constantFrom(...(field.options as string[]));
      else if (field instanceof z.ZodString) likely = fc.oneof({ weight: 9, arbitrary: isoDateString }, fc.string());
      else if (field instanceof z.ZodNumber && field.maxValue !== null && field.maxValue < Number.MAX_SAFE_INTEGER)
        likely = fc.integer({ min: (field.minValue ?? 0) - 2, max: field.maxValue + 2 }); // e.g. windowMinutes
      else if (field instanceof z.ZodNumber) {
        // A record id: a valid one is one of ours; a small one such as 2 may be another test's run.
        random = fc.jsonValue().filter((value) => !isPositiveInteger(value));
        likely = fc.oneof(fc.constantFrom(...ownIds), fc.integer({ min: -2, max: 0 }), fc.double());
      }
      return fc.oneof({ weight: 1, arbitrary: random }, { weight: 10, arbitrary: likely });
    }

    /** JSON objects of the job's own field names (sometimes one missing, sometimes one more). */
    function schemaRecordText(job: DeclaredJob<any>): fc.Arbitrary<string> {
      const shape = (job.args as z.ZodObject).shape;
      const keys = Object.keys(shape);
      return fc
        .tuple(
          fc.oneof({ weight: 3, arbitrary: fc.constant(keys) }, fc.subarray(keys)),
          fc.tuple(...keys.map((key) => fieldValue(shape[key]))),
          fc.oneof({ weight: 7, arbitrary: fc.constant(undefined) }, fc.tuple(fc.string(), fc.jsonValue())),
        )
        .map(([present, values, extra]) => {
          const record: Record<string, unknown> = {};
          for (const key of present) record[key] = values[keys.indexOf(key)];
          if (extra) Object.defineProperty(record, extra[0], { value: extra[1], enumerable: true, writable: true });
          return JSON.stringify(record);
        });
    }

    function bodyFor(job: DeclaredJob<any>): fc.Arbitrary<string | Uint8Array> {
      const keys = Object.keys((job.args as z.ZodObject).shape);
      return fc.oneof(
        anyBody,
        fc.tuple(fc.constantFrom(...keys), deepJsonText).map(([key, deep]) => `{${JSON.stringify(key)}:${deep}}`),
        { weight: 5, arbitrary: schemaRecordText(job) },
      );
    }

    const contentType = fc.constantFrom(...CONTENT_TYPES);
    const randomName = fc
      .oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom(...jobs.map((job) => `${job.name}x`)))
      .filter((name) => {
        try {
          encodeURIComponent(name);
          return true;
        } catch {
          return false; // a lone surrogate: no URL can carry it
        }
      });
    const request: fc.Arbitrary<Request> = fc.oneof(
      {
        weight: 8,
        arbitrary: fc
          .constantFrom(...jobs)
          .chain((job) => fc.record({ name: fc.constant(job.name), body: bodyFor(job), contentType })),
      },
      { weight: 2, arbitrary: fc.record({ name: randomName, body: anyBody, contentType }) },
    );

    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (req) => {
        const response = await post(req);
        const text = await response.text();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        expect(response.status).toBeLessThan(500);
        const body = JSON.parse(text) as Record<string, unknown>;
        const known = jobs.some((job) => job.name === req.name);
        if (response.status === 202) {
          expect(known).toBe(true);
          expect(req.contentType).toMatch(/^application\/json/);
          expect(body.workflowId).toEqual(expect.stringMatching(new RegExp(`^${req.name}/.`)));
          expect(body.runId).toEqual(expect.any(String));
          accepted.add(body.workflowId as string);
        } else {
          expect(body.error).toEqual(expect.any(String));
          if (known) expect(response.status).not.toBe(404);
        }
      }),
      { numRuns: RUNS },
    );

    const count = (pick: (status: number) => boolean) =>
      [...statuses].filter(([status]) => pick(status)).reduce((sum, [, n]) => sum + n, 0);
    expect(count(() => true)).toBe(RUNS);
    expect(count((status) => status === 202)).toBeGreaterThan(0);
    expect(count((status) => status >= 400)).toBeGreaterThan(0);
    expect(accepted.size).toBeGreaterThan(0);

    // Exactly the accepted runs exist on this test's queues: a rejected request never started one.
    await eventually(
      async () => ((await listedRuns()).length >= accepted.size ? true : undefined),
      20_000,
      `${accepted.size} runs listed on the test's queues`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const listed = await listedRuns();
    expect(listed.length).toBe(new Set(listed).size);
    expect(new Set(listed)).toEqual(accepted);

    await terminateAccepted();
  }, 120_000);
});
