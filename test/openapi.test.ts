import type { AddressInfo } from 'node:net';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpService } from '../src/http/server';
import { httpJobs } from '../src/http/tokens';
import type { DeclaredJob } from '../src/sandbox/job-definition';
import { jobs } from '../src/sandbox/jobs';
import { schemaKeys, schemaRecord } from './arbitraries';
import { createHarness, type Harness } from './harness';

// The HTTP service's OpenAPI document against the service itself, on the real server (no workers: runs only need to
// exist): the document is valid OpenAPI, names every job open to HTTP, and what it says of bodies and answers is what
// the service does.

type Document = {
  paths: Record<string, Record<string, Operation>>;
};
type Operation = {
  requestBody?: { content: { 'application/json': { schema: object } } };
  responses: Record<string, { content?: { 'application/json': { schema: object } } }>;
};

describe('OpenAPI document', () => {
  let h: Harness;
  let app: FastifyInstance;
  let base: string;
  let doc: Document;
  const started = new Set<string>();
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);

  beforeAll(async () => {
    h = await createHarness();
    app = buildHttpService(h.client, { rateLimit: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    doc = (await (await fetch(`${base}/openapi.json`)).json()) as Document;
  });
  afterAll(async () => {
    await Promise.all(
      [...started].map((id) => h.env.client.workflow.getHandle(id).terminate('openapi test: nothing runs these')),
    ).catch(() => {});
    await app?.close();
    await h?.close();
  });

  /** The documented schema of a response, compiled. */
  function responseSchema(path: string, method: string, status: number): ValidateFunction {
    const schema = doc.paths[path]?.[method]?.responses[String(status)]?.content?.['application/json'].schema;
    if (!schema) throw new Error(`the document has no ${status} answer for ${method.toUpperCase()} ${path}`);
    return ajv.compile(schema);
  }

  function expectDocumented(validate: ValidateFunction, body: unknown) {
    validate(body);
    expect(validate.errors ?? [], JSON.stringify(body)).toEqual([]);
  }

  it('is valid OpenAPI 3.1 and has a POST /jobs/<name> for exactly the jobs open to HTTP', async () => {
    // ESM only: loaded the way a CommonJS module can.
    const { Validator } = await import('@seriousme/openapi-schema-validator');
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);

    const posted = Object.entries(doc.paths)
      .filter(([, operations]) => operations.post)
      .map(([path]) => path)
      .sort();
    expect(posted).toEqual(
      httpJobs()
        .map((job) => `/jobs/${job.name}`)
        .sort(),
    );
    // Internal jobs (the health check, the test jobs) are not in it.
    for (const job of jobs.filter((j) => j.enqueueOverHttp === false))
      expect(doc.paths[`/jobs/${job.name}`]).toBe(undefined);
    for (const job of httpJobs()) {
      const schema = doc.paths[`/jobs/${job.name}`]!.post!.requestBody?.content['application/json'].schema as {
        properties: Record<string, unknown>;
      };
      expect(Object.keys(schema.properties).sort()).toEqual(schemaKeys(job).sort());
    }
  });

  it('agrees with the service on every body: what the document refuses, the service refuses (400)', async () => {
    const ownIds = Array.from({ length: 500 }, () => h.unusedId());
    const bodyFor = (job: DeclaredJob<any>): fc.Arbitrary<unknown> =>
      fc.oneof(
        { weight: 3, arbitrary: schemaRecord(job, { recordIds: ownIds }) },
        // a field of the wrong type, a field too many, a field missing
        fc
          .tuple(schemaRecord(job, { recordIds: ownIds }), fc.constantFrom(...schemaKeys(job)), fc.jsonValue())
          .map(([record, key, value]) => ({ ...record, [key]: value })),
        schemaRecord(job, { recordIds: ownIds }).map((record) => ({ ...record, unexpected: 1 })),
        fc
          .tuple(schemaRecord(job, { recordIds: ownIds }), fc.constantFrom(...schemaKeys(job)))
          .map(([record, key]) => Object.fromEntries(Object.entries(record).filter(([k]) => k !== key))),
      );
    const counts = { accepted: 0, refusedByBoth: 0, refusedByServiceOnly: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...httpJobs()).chain((job) => fc.tuple(fc.constant(job), bodyFor(job))),
        async ([job, body]) => {
          const text = JSON.stringify(body);
          if (text === undefined) return;
          const path = `/jobs/${job.name}`;
          const schema = doc.paths[path]!.post!.requestBody!.content['application/json'].schema;
          const documentedValid = ajv.validate(schema, JSON.parse(text));
          const response = await fetch(`${base}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: text,
          });
          const answer = (await response.json()) as { workflowId?: string; issues?: { path: string }[] };
          if (response.status === 202) started.add(answer.workflowId!);
          expectDocumented(responseSchema(path, 'post', response.status), answer);
          if (!documentedValid) {
            expect(response.status, `${path} ${text}`).toBe(400);
            counts.refusedByBoth++;
          } else if (response.status === 202) counts.accepted++;
          else {
            // Only a refinement JSON Schema cannot express may refuse what the document allows: an impossible
            // calendar date (a field the document gives a `format`), a range that ends before it starts (a rule on
            // the whole arguments).
            expect(response.status, `${path} ${text}`).toBe(400);
            const properties = (schema as { properties: Record<string, { format?: string }> }).properties;
            for (const issue of answer.issues ?? [{ path: '(no issues)' }])
              expect(
                issue.path === '(arguments)' || properties[issue.path]?.format !== undefined,
                `${path} ${text}: refused on ${issue.path}, which the document allows`,
              ).toBe(true);
            counts.refusedByServiceOnly++;
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(counts.accepted).toBeGreaterThan(0);
    expect(counts.refusedByBoth).toBeGreaterThan(0);
  }, 120_000);

  it('describes the answers the service gives: 202, 200, 404 and 409', async () => {
    const id = h.unusedId();
    const enqueued = await fetch(`${base}/jobs/invoice-generation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ invoiceId: id }),
    });
    expect(enqueued.status).toBe(202);
    const body = (await enqueued.json()) as { workflowId: string; statusUrl: string };
    started.add(body.workflowId);
    expectDocumented(responseSchema('/jobs/invoice-generation', 'post', 202), body);

    const status = await fetch(`${base}${body.statusUrl}`);
    expect(status.status).toBe(200);
    expectDocumented(responseSchema('/jobs/{*}', 'get', 200), await status.json());

    const missing = await fetch(`${base}/jobs/invoice-generation%2F${h.unusedId()}`);
    expect(missing.status).toBe(404);
    expectDocumented(responseSchema('/jobs/{*}', 'get', 404), await missing.json());

    const cancelled = await fetch(`${base}${body.statusUrl}`, { method: 'DELETE' });
    expect(cancelled.status).toBe(202);
    expectDocumented(responseSchema('/jobs/{*}', 'delete', 202), await cancelled.json());
    await h.env.client.workflow.getHandle(body.workflowId).terminate('openapi test');
    const closed = await fetch(`${base}${body.statusUrl}`, { method: 'DELETE' });
    expect(closed.status).toBe(409);
    expectDocumented(responseSchema('/jobs/{*}', 'delete', 409), await closed.json());
  });

  it('serves a docs page for people at /docs', async () => {
    const page = await fetch(`${base}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/swagger-ui/i);
  });
});
