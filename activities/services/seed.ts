import type { Database } from './schema';

/** Demo data for a newcomer's first run: users, invoices and webhook payloads 1..N, ids matching. Idempotent. */
export async function seedDemoData(
  db: Database,
  count = 100,
): Promise<{ users: number; invoices: number; webhooks: number }> {
  const existing = await db.selectFrom('users').select(db.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  if (Number(existing.n) > 0) return { users: 0, invoices: 0, webhooks: 0 };
  const now = new Date().toISOString();
  await db.transaction().execute(async (trx) => {
    for (let i = 1; i <= count; i++) {
      await trx
        .insertInto('users')
        .values({ email: `user${i}@example.com`, name: `User ${i}`, created_at: now })
        .execute();
      await trx
        .insertInto('invoices')
        .values({ user_id: i, amount_cents: 1000 + i * 37, currency: 'EUR', created_at: now })
        .execute();
      await trx
        .insertInto('payments')
        .values({ user_id: i, amount_cents: 500 + i * 11, currency: 'EUR', created_at: now })
        .execute();
      await trx
        .insertInto('webhook_payloads')
        .values({ data: JSON.stringify({ event: 'invoice.paid', invoiceId: i }), created_at: now, updated_at: now })
        .execute();
    }
    await trx
      .insertInto('exports')
      .values({ start_date: '2000-01-01', end_date: '2100-12-31', created_at: now, updated_at: now })
      .execute();
  });
  return { users: count, invoices: count, webhooks: count };
}
