import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateReport, sendWelcomeEmail } from '../workflows';
import { createHarness, type Harness } from './harness';

describe('safe-argument jobs fetch fresh data when they run', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
    await h.startWorkers(['default', 'low']);
  });
  afterAll(() => h?.close());

  it('send-welcome-email uses the address the user has when the job runs, and sends once', async () => {
    const { userId } = await h.createInvoice();
    await h.database.db.updateTable('users').set({ email: 'changed@example.com' }).where('id', '=', userId).execute();

    const first = await h.client.enqueue(sendWelcomeEmail, { userId });
    await h.env.client.workflow.getHandle(first.workflowId).result();
    const again = await h.client.enqueue(sendWelcomeEmail, { userId });

    expect(again.duplicate).toBe(true);
    const sent = (await h.mail.messages()).filter((m) => m.idempotencyKey === `welcome-email/${userId}`);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.to).toBe('changed@example.com');
  });

  it('a welcome email retried after the send but before marking the user is delivered once', async () => {
    const { userId } = await h.createInvoice();
    // As if an earlier attempt had sent the message and died before marking the user.
    await h.mail.send(
      { to: `user${userId}@example.com`, subject: 'Welcome', text: 'first attempt' },
      { idempotencyKey: `welcome-email/${userId}` },
    );

    const { workflowId } = await h.client.enqueue(sendWelcomeEmail, { userId });
    const result = await h.env.client.workflow.getHandle(workflowId).result();

    expect(result).toMatchObject({ alreadySent: true });
    expect((await h.mail.messages()).filter((m) => m.idempotencyKey === `welcome-email/${userId}`)).toHaveLength(1);
  });

  it('generate-report parses its ISO dates and reads the invoices in range when it runs', async () => {
    const { userId } = await h.createInvoice();
    await h.database.db
      .updateTable('invoices')
      .set({ created_at: '2026-03-15T10:00:00.000Z', amount_cents: 1234 })
      .where('id', '=', userId)
      .execute();

    const { workflowId } = await h.client.enqueue(generateReport, {
      userId,
      reportType: 'monthly_sales',
      startDate: '2026-03-01',
      endDate: '2026-03-31',
    });
    const result = await h.env.client.workflow.getHandle(workflowId).result();

    expect(workflowId).toBe(`generate-report/${userId}/monthly_sales/2026-03-01..2026-03-31`);
    expect(JSON.parse(result.content)).toMatchObject({ invoices: 1, totalCents: 1234 });
    const outside = await h.client.enqueue(generateReport, {
      userId,
      reportType: 'monthly_sales',
      startDate: '2026-04-01',
      endDate: '2026-04-30',
    });
    expect(JSON.parse((await h.env.client.workflow.getHandle(outside.workflowId).result()).content)).toMatchObject({
      invoices: 0,
      totalCents: 0,
    });
  });
});
