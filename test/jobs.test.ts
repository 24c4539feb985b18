import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateReport, sendWelcomeEmail } from './jobs';
import { createHarness, type Harness } from './harness';

describe('safe-argument jobs fetch fresh data when they run', () => {
  let h: Harness;
  /** Users whose next welcome email's attempt dies right after the send, before it marks the user. */
  const crashAfterSend = new Set<number>();
  beforeAll(async () => {
    h = await createHarness({
      deps: {
        mail: {
          async send(message, options) {
            const sent = await h.mail.send(message, options);
            const userId = Number(options.idempotencyKey.split('/')[1]);
            if (crashAfterSend.delete(userId)) throw new Error(`simulated crash after sending to user ${userId}`);
            return sent;
          },
        },
      },
    });
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
    crashAfterSend.add(userId);
    const callsBefore = h.calls.get('sendWelcomeEmail') ?? 0;

    const { workflowId } = await h.client.enqueue(sendWelcomeEmail, { userId });
    const result = await h.env.client.workflow.getHandle(workflowId).result();

    expect(crashAfterSend.has(userId)).toBe(false); // the first attempt sent, then died
    expect((h.calls.get('sendWelcomeEmail') ?? 0) - callsBefore).toBe(2); // and the activity was retried
    expect(result).toMatchObject({ alreadySent: true }); // the retry's send was the transport's duplicate
    const sent = (await h.mail.messages()).filter((m) => m.idempotencyKey === `welcome-email/${userId}`);
    expect(sent).toHaveLength(1);
    const user = await h.database.db
      .selectFrom('users')
      .select('welcome_email_sent_at')
      .where('id', '=', userId)
      .executeTakeFirstOrThrow();
    expect(user.welcome_email_sent_at).not.toBeNull(); // and this time the user was marked
  }, 60_000);

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
