import type { AddressInfo } from 'node:net';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpService } from '../src/http/server';
import { createHarness, eventually, type Harness } from './harness';

describe('HTTP service', () => {
  let h: Harness;
  let app: FastifyInstance;
  let base: string;

  beforeAll(async () => {
    h = await createHarness();
    await h.startWorkers();
    app = buildHttpService(h.client);
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  const post = (path: string, body: string) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('POST /jobs/<name> answers 202 with the run, its status URL and Web UI link; GET reports the result', async () => {
    const { invoiceId } = await h.createInvoice();
    const response = await post('/jobs/invoice-generation', JSON.stringify({ invoiceId }));
    expect(response.status).toBe(202);
    const body = (await response.json()) as Record<string, any>;
    expect(body).toMatchObject({
      workflowId: `invoice-generation/${invoiceId}`,
      duplicate: false,
      statusUrl: `/jobs/invoice-generation%2F${invoiceId}`,
      url: expect.stringContaining(`/workflows/invoice-generation%2F${invoiceId}/${body.runId}/history`),
    });

    const status = await eventually(async () => {
      const s = (await (await fetch(`${base}${body.statusUrl}`)).json()) as Record<string, any>;
      return s.status === 'Completed' ? s : undefined;
    });
    expect(status).toMatchObject({
      runId: body.runId,
      job: 'invoice-generation',
      result: { invoiceId, alreadyGenerated: false },
    });
    expect((await fetch(`${base}/jobs/invoice-generation/${invoiceId}`)).status).toBe(200); // the raw ID works too
  });

  it('is idempotent like enqueue: the same job posted twice is one run', async () => {
    const { invoiceId } = await h.createInvoice();
    const [a, b] = (await Promise.all(
      [1, 2].map(async () => (await post('/jobs/invoice-generation', JSON.stringify({ invoiceId }))).json()),
    )) as Array<Record<string, any>>;
    expect(a!.runId).toBe(b!.runId);
    expect([a!.duplicate, b!.duplicate].sort()).toEqual([false, true]);
  });

  it('answers 400 with field errors for bad arguments, and starts nothing', async () => {
    const userId = h.unusedId();
    const idFor = (startDate: string, endDate: string) =>
      `generate-report/${userId}/monthly_sales/${startDate}..${endDate}`;
    const response = await post(
      '/jobs/generate-report',
      JSON.stringify({
        userId,
        reportType: 'monthly_sales',
        startDate: '2026-02-30',
        endDate: '2026-03-01',
        extra: 1,
      }),
    );
    expect(response.status).toBe(400);
    const body = (await response.json()) as { job: string; issues: unknown[] };
    expect(body.job).toBe('generate-report');
    expect(body.issues).toHaveLength(2);
    expect(body.issues).toEqual(
      expect.arrayContaining([
        { path: 'extra', message: 'is not an argument of this job' },
        { path: 'startDate', message: expect.stringMatching(/ISO calendar date/) },
      ]),
    );
    // Valid dates, one unknown field: refused although the job's ID could be computed.
    const valid = { userId, reportType: 'monthly_sales', startDate: '2026-03-01', endDate: '2026-03-31' };
    expect((await post('/jobs/generate-report', JSON.stringify({ ...valid, extra: 1 }))).status).toBe(400);

    // The server itself (not eventually consistent visibility) has no run under either ID the job would have used.
    for (const workflowId of [idFor('2026-02-30', '2026-03-01'), idFor('2026-03-01', '2026-03-31')])
      await expect(h.env.client.workflow.getHandle(workflowId).describe()).rejects.toThrow(WorkflowNotFoundError);
    // Positive control: the same request without the unknown field starts under that ID, as a first run.
    const accepted = await post('/jobs/generate-report', JSON.stringify(valid));
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toMatchObject({ workflowId: idFor('2026-03-01', '2026-03-31'), duplicate: false });
    await h.env.client.workflow.getHandle(idFor('2026-03-01', '2026-03-31')).terminate('test control, no low worker');
  });

  it('?delay= starts the job later (Scheduled, a duplicate attaches); ?runAt= and ?expiresAfter= are checked', async () => {
    const { invoiceId } = await h.createInvoice();
    const response = await post(`/jobs/invoice-generation?delay=10m&expiresAfter=1h`, JSON.stringify({ invoiceId }));
    expect(response.status).toBe(202);
    const body = (await response.json()) as Record<string, any>;
    expect(body).toMatchObject({ duplicate: false, startsAt: expect.any(String), expiresAt: expect.any(String) });
    expect(Date.parse(body.expiresAt) - Date.parse(body.startsAt)).toBe(3_600_000);
    const status = (await (await fetch(`${base}${body.statusUrl}`)).json()) as Record<string, any>;
    expect(status).toMatchObject({ status: 'Scheduled', runId: body.runId, startsAt: expect.any(String) });
    const again = (await (await post('/jobs/invoice-generation', JSON.stringify({ invoiceId }))).json()) as Record<
      string,
      any
    >;
    expect(again).toMatchObject({ runId: body.runId, duplicate: true });
    await h.env.client.workflow.getHandle(body.workflowId).terminate('test done');

    const refused: Array<[string, string, RegExp]> = [
      ['delay=-5s', 'delay', /^delay must not be negative/],
      ['delay=soon', 'delay', /^delay must be a duration/],
      ['runAt=2020-01-01T00:00:00Z', 'runAt', /^runAt is \d+ s in the past/],
      ['runAt=tomorrow', 'runAt', /^runAt must be a Date or an ISO 8601 time/],
      ['expiresAfter=0', 'expiresAfter', /^expiresAfter must be more than zero/],
      ['delay=1m&runAt=2099-01-01T00:00:00Z', 'delay', /^delay and runAt are exclusive/],
    ];
    for (const [query, parameter, message] of refused) {
      const other = await h.createInvoice();
      const bad = await post(`/jobs/invoice-generation?${query}`, JSON.stringify({ invoiceId: other.invoiceId }));
      expect(bad.status, query).toBe(400);
      const answer = (await bad.json()) as { error: string; parameter: string };
      expect(answer.parameter, query).toBe(parameter);
      expect(answer.error, query).toMatch(message);
      await expect(h.env.client.workflow.getHandle(`invoice-generation/${other.invoiceId}`).describe()).rejects.toThrow(
        WorkflowNotFoundError,
      );
    }
  });

  it('answers 404 for an unknown job or run, and 400 for a body that is not JSON', async () => {
    const unknown = await post('/jobs/no-such-job', '{}');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/Unknown job "no-such-job"/);
    expect((await fetch(`${base}/jobs/invoice-generation%2Fnope`)).status).toBe(404);
    expect((await post('/jobs/invoice-generation', '{invoiceId')).status).toBe(400);
  });
});
