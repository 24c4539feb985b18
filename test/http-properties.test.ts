import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpService, MAX_BODY_DEPTH } from '../src/http/server';
import type { DeclaredJob } from '../src/sandbox/job-definition';
import { httpJobs } from '../src/http/tokens';
import { jobs } from '../src/sandbox/jobs';
import { PRIORITIES, taskQueueName } from '../src/sandbox/queues';
import { anyValue, nestedText, nesting, schemaKeys, schemaRecord } from './arbitraries';
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

/** Bodies that are not about any job in particular. */
const anyBody: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.jsonValue().map(jsonText),
  anyValue.map(jsonText),
  nesting.map(nestedText),
  fc.uint8Array({ maxLength: 200 }),
);

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
    app = buildHttpService(h.client, { rateLimit: false }); // the property is about bodies, not request rates
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
      expect(body.error).toBe(`JSON body nests deeper than ${MAX_BODY_DEPTH} levels, the limit`);
    }
  });

  it(`never answers 5xx, answers JSON errors, and starts a run only for a 202 (${RUNS} random requests)`, async () => {
    // Ids of records no other test uses: all tests share the server, and workflow IDs are `<job>/<id>`.
    const ownIds = Array.from({ length: 1_000 }, () => h.unusedId());

    function bodyFor(job: DeclaredJob<any>): fc.Arbitrary<string | Uint8Array> {
      return fc.oneof(
        anyBody,
        fc
          .tuple(fc.constantFrom(...schemaKeys(job)), nesting)
          .map(([key, n]) => `{${JSON.stringify(key)}:${nestedText(n)}}`),
        { weight: 5, arbitrary: schemaRecord(job, { recordIds: ownIds }).map((record) => JSON.stringify(record)) },
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
        // Internal jobs (health-check, noop) are not open to HTTP: 404 like unknown names.
        const known = httpJobs().some((job) => job.name === req.name);
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
