import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readSettings } from 'durable-jobs';
import { checkIdempotentActivity, createTestEnvironment, type TestEnvironment } from 'durable-jobs/testing';
import { openDatabase, type OpenDatabase } from 'durable-jobs/worker';
import { Context } from '@temporalio/activity';
import app from '../app';
import type { InvoiceResult } from '../activities/invoice-generation';
import { invoiceGeneration } from '../workflows/invoice-generation';

/** A user and an invoice of 42 EUR for them, with id `id`. */
async function createInvoice(database: OpenDatabase, id: number): Promise<void> {
  const now = new Date().toISOString();
  await database.db
    .insertInto('users')
    .values({ id, email: `user${id}@example.com`, name: `User ${id}`, created_at: now })
    .execute();
  await database.db
    .insertInto('invoices')
    .values({ id, user_id: id, amount_cents: 4200, currency: 'EUR', created_at: now })
    .execute();
}

async function documentsOf(database: OpenDatabase, invoiceId: number): Promise<number> {
  const rows = await database.db
    .selectFrom('invoice_documents')
    .select('id')
    .where('invoice_id', '=', invoiceId)
    .execute();
  return rows.length;
}

/**
 * `createTestEnvironment` as an application's test uses it: the example application on its own Temporal dev server
 * (`TestWorkflowEnvironment.createLocal` with the cached Temporal CLI), database and worker process.
 */
describe('createTestEnvironment (dev server)', () => {
  let t: TestEnvironment;

  beforeAll(async () => {
    t = await createTestEnvironment({ application: app });
  });
  afterAll(() => t?.close());

  it('runs a job of the application to completion on its own server, database and queues', async () => {
    expect(t.env.supportsTimeSkipping).toBe(false);
    expect(t.settings.taskQueuePrefix).toMatch(/^test-[0-9a-f-]{36}$/);
    expect(t.settings.sqlitePath.startsWith(os.tmpdir())).toBe(true);
    await createInvoice(t.database, 7);
    const result = (await t.run(invoiceGeneration, { invoiceId: 7 })) as InvoiceResult;
    expect(result).toMatchObject({ invoiceId: 7, alreadyGenerated: false });
    expect(await documentsOf(t.database, 7)).toBe(1);
    expect(t.calls.get('generateInvoice')).toBe(1);

    // Enqueued again: the same run (its workflow ID is the invoice's), nothing done twice.
    const again = await t.client.enqueue(invoiceGeneration, { invoiceId: 7 });
    expect(again).toMatchObject({ workflowId: 'invoice-generation/7', duplicate: true });
    expect(await t.result(again)).toEqual(result);
    expect(t.calls.get('generateInvoice')).toBe(1);
  });

  it('fails a run the way Temporal does: a missing invoice is not retried', async () => {
    await expect(t.run(invoiceGeneration, { invoiceId: 404 })).rejects.toThrow(/Workflow execution failed/);
  });
});

describe('createTestEnvironment (time-skipping)', () => {
  it('runs a job delayed by a day at once: the test server skips the wait; close() removes the temp directory', async () => {
    const t = await createTestEnvironment({
      application: app,
      mode: 'time-skipping',
      serverExecutable: inject('timeSkippingServerPath'),
      queues: ['default'],
    });
    try {
      expect(t.env.supportsTimeSkipping).toBe(true);
      await createInvoice(t.database, 8);
      const started = Date.now();
      const result = await t.run(invoiceGeneration, { invoiceId: 8 }, { delay: '1d' });
      expect(result).toMatchObject({ invoiceId: 8, alreadyGenerated: false });
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      await t.close();
    }
    expect(fs.existsSync(path.dirname(t.settings.sqlitePath))).toBe(false);
  });
});

describe('checkIdempotentActivity', () => {
  let dir: string;
  let database: OpenDatabase;
  let generateInvoice: (invoiceId: number) => Promise<InvoiceResult>;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-jobs-idempotency-'));
    database = await openDatabase({ sqlitePath: path.join(dir, 'app.sqlite'), migrations: app.migrations });
    const activities = app.activities({ db: database.db, settings: readSettings({}) });
    generateInvoice = activities.generateInvoice as typeof generateInvoice;
  });
  afterAll(async () => {
    await database?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("passes on the example application's invoice generation: one document, however often it runs", async () => {
    await createInvoice(database, 1);
    const check = await checkIdempotentActivity(generateInvoice, [1], { effects: () => documentsOf(database, 1) });
    expect(check).toMatchObject({ activity: 'generateInvoice', before: 0, once: 1, again: 1 });
    expect(check.results.map((r) => (r as InvoiceResult).alreadyGenerated)).toEqual([false, true, true]);
  });

  it('fails on a deliberately non-idempotent activity (negative control), naming it and both counts', async () => {
    await createInvoice(database, 2);
    // The same work without the guard: no check of generated_at, so every run adds a document.
    async function generateInvoiceUnguarded(invoiceId: number): Promise<void> {
      await database.db
        .insertInto('invoice_documents')
        .values({ invoice_id: invoiceId, content: 'INVOICE', created_at: new Date().toISOString() })
        .execute();
    }
    await expect(
      checkIdempotentActivity(generateInvoiceUnguarded, [2], { effects: () => documentsOf(database, 2) }),
    ).rejects.toThrow(
      /^activity "generateInvoiceUnguarded" is not idempotent: effects\(\) counted 1 after one run and 3 after running it again with the same input/,
    );
  });

  it('runs the activity with an activity context: attempts, and heartbeat details handed to the retry', async () => {
    // Resumes from its heartbeat checkpoint without checking what it already did: idempotent when Temporal hands it
    // the checkpoint (a retry), not after a crash that lost it.
    const done: string[] = [];
    const attempts: number[] = [];
    async function sendAll(items: string[]): Promise<void> {
      const ctx = Context.current();
      attempts.push(ctx.info.attempt);
      const from = (ctx.info.heartbeatDetails as number | undefined) ?? 0;
      for (let i = from; i < items.length; i++) {
        done.push(items[i]!);
        ctx.heartbeat(i + 1);
      }
    }
    const error = await checkIdempotentActivity(sendAll, [['a', 'b']], { effects: () => done.length }).catch(
      (err: Error) => err,
    );
    expect(attempts).toEqual([1, 2, 2]);
    expect(String(error)).toMatch(
      /counted 2 after one run and 4 after .* \(2 after a retry, attempt 2; 4 after a retry following a crash/,
    );
  });

  it('refuses a check that proves nothing: no effect counted on the first run', async () => {
    await expect(
      checkIdempotentActivity(async (_id: number) => undefined, [1], { effects: () => 0, name: 'noop' }),
    ).rejects.toThrow(/activity "noop": effects\(\) counted 0 before and after its first run/);
  });
});
