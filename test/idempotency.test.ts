import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceGeneration } from './jobs';
import { createHarness, eventually, type Harness } from './harness';

/** Runs of one workflow ID as the server's visibility store lists them. */
async function runsOf(h: Harness, workflowId: string): Promise<string[]> {
  const runs: string[] = [];
  for await (const info of h.env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(info.runId);
  return runs;
}

async function documentsOf(h: Harness, invoiceId: number): Promise<number> {
  const row = await h.database.db
    .selectFrom('invoice_documents')
    .select(h.database.db.fn.countAll<number>().as('n'))
    .where('invoice_id', '=', invoiceId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('invoice-generation idempotency', () => {
  let h: Harness;
  let crashOnce: Set<number>;

  beforeAll(async () => {
    crashOnce = new Set();
    h = await createHarness({
      deps: {
        // Simulates a worker dying after its transaction committed but before it reported success.
        afterInvoiceCommitted: (invoiceId) => {
          if (crashOnce.delete(invoiceId)) throw new Error(`simulated crash after committing invoice ${invoiceId}`);
        },
      },
    });
    await h.startWorkers();
  });
  afterAll(() => h?.close());

  it('enqueueing the same invoice 50 times concurrently runs it once and produces one document', async () => {
    const { invoiceId } = await h.createInvoice();
    const callsBefore = h.calls.get('generateInvoice') ?? 0;

    const results = await Promise.all(
      Array.from({ length: 50 }, () => h.client.enqueue(invoiceGeneration, { invoiceId })),
    );

    expect(new Set(results.map((r) => r.workflowId))).toEqual(new Set([`invoice-generation/${invoiceId}`]));
    expect(new Set(results.map((r) => r.runId)).size).toBe(1);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    const result = await h.env.client.workflow.getHandle(results[0]!.workflowId).result();
    expect(result).toMatchObject({ invoiceId, alreadyGenerated: false });
    await eventually(async () => ((await runsOf(h, results[0]!.workflowId)).length > 0 ? true : undefined));
    expect(await runsOf(h, results[0]!.workflowId)).toEqual([results[0]!.runId]);
    expect(await documentsOf(h, invoiceId)).toBe(1);
    expect((h.calls.get('generateInvoice') ?? 0) - callsBefore).toBe(1);
  });

  it('a repeat after completion starts no new run and does no new work', async () => {
    const { invoiceId } = await h.createInvoice();
    const first = await h.client.enqueue(invoiceGeneration, { invoiceId });
    await h.env.client.workflow.getHandle(first.workflowId).result();
    const callsAfterFirst = h.calls.get('generateInvoice');

    const repeat = await h.client.enqueue(invoiceGeneration, { invoiceId });

    expect(repeat).toMatchObject({ workflowId: first.workflowId, runId: first.runId, duplicate: true });
    expect(await h.client.status(first.workflowId)).toMatchObject({ runId: first.runId, status: 'Completed' });
    // The result of the ID's latest run: had the repeat started one, this would wait for it and its work would count.
    await h.env.client.workflow.getHandle(first.workflowId).result();
    expect(h.calls.get('generateInvoice')).toBe(callsAfterFirst);
    expect(await documentsOf(h, invoiceId)).toBe(1);
  });

  it('an attempt that crashes after committing is retried and the document is still produced once', async () => {
    const { invoiceId } = await h.createInvoice();
    crashOnce.add(invoiceId);
    const callsBefore = h.calls.get('generateInvoice') ?? 0;

    const { workflowId } = await h.client.enqueue(invoiceGeneration, { invoiceId });
    const result = await h.env.client.workflow.getHandle(workflowId).result();

    expect(crashOnce.has(invoiceId)).toBe(false); // the crash really happened
    expect((h.calls.get('generateInvoice') ?? 0) - callsBefore).toBe(2); // and the activity was retried
    expect(result).toMatchObject({ invoiceId, alreadyGenerated: true });
    expect(await documentsOf(h, invoiceId)).toBe(1);
  });

  it('a job that failed may be enqueued again, and then runs', async () => {
    const missingId = h.unusedId();
    const failed = await h.client.enqueue(invoiceGeneration, { invoiceId: missingId });
    await expect(h.env.client.workflow.getHandle(failed.workflowId).result()).rejects.toThrow();
    expect(await h.client.status(failed.workflowId)).toMatchObject({
      status: 'Failed',
      failure: { type: 'RecordNotFound' },
    });

    const now = new Date().toISOString();
    await h.database.db
      .insertInto('users')
      .values({ id: missingId, email: 'late@example.com', name: 'Late', created_at: now })
      .execute();
    await h.database.db
      .insertInto('invoices')
      .values({ id: missingId, user_id: missingId, amount_cents: 1, currency: 'EUR', created_at: now })
      .execute();
    const again = await h.client.enqueue(invoiceGeneration, { invoiceId: missingId });

    expect(again.duplicate).toBe(false);
    expect(again.runId).not.toBe(failed.runId);
    await h.env.client.workflow.getHandle(again.workflowId).result();
    expect(await documentsOf(h, missingId)).toBe(1);
  });
});
