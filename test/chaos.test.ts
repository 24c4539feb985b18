import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processWebhook } from '../workflows';
import { createTimeSkippingHarness, type Harness } from './harness';

/**
 * 200 webhooks against a vendor that fails at random (seeded, so a failure reproduces): timeouts after applying,
 * rate limits with and without Retry-After, 4xx, 5xx and connection resets. On the time-skipping server the minutes
 * of backoff pass at once. Whatever happens, every payload must end processed or dead, and none applied twice.
 */
describe('chaos: 200 webhooks against a faulty vendor', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createTimeSkippingHarness();
  });
  afterAll(() => h?.close());

  it('every payload ends processed or dead, none is applied twice, none is left pending', async () => {
    h.vendor.randomFaults({
      seed: 20261128,
      weights: { ok: 5, timeout: 1, rate_limit: 1, client_error: 0.5, server_error: 1, reset: 1 },
      timeoutDelayMs: 600,
    });
    const ids = await Promise.all(
      Array.from({ length: 200 }, (_, i) => h.createWebhook({ event: 'order.updated', n: i })),
    );

    const runs = await Promise.all(
      ids.map((webhookPayloadId) => h.client.enqueue(processWebhook, { webhookPayloadId })),
    );
    // Drive the server clock in small steps rather than awaiting 200 results at once: a time-skipping server that
    // sees every workflow idle jumps straight to their (10-year) execution timeouts. Each step fires the retries due.
    let pending = ids.length;
    for (let step = 0; pending > 0; step++) {
      if (step > 600) throw new Error(`${pending} webhooks still pending after ${step} steps of 5 s`);
      await h.env.sleep('5s');
      await new Promise((r) => setTimeout(r, 100));
      const row = await h.database.db
        .selectFrom('webhook_payloads')
        .select(h.database.db.fn.countAll<number>().as('n'))
        .where('id', 'in', ids)
        .where('status', '=', 'pending')
        .executeTakeFirstOrThrow();
      pending = Number(row.n);
    }
    const outcomes = await Promise.allSettled(runs.map((r) => h.env.client.workflow.getHandle(r.workflowId).result()));

    const payloads = await h.database.db
      .selectFrom('webhook_payloads')
      .select(['id', 'status', 'last_error_type'])
      .where('id', 'in', ids)
      .execute();
    const byStatus = (s: string) => payloads.filter((p) => p.status === s);
    expect(payloads).toHaveLength(200);
    expect(byStatus('pending')).toEqual([]);
    expect(byStatus('processed').length + byStatus('dead').length).toBe(200);

    // The job's outcome and the payload's status agree, one for one.
    const completed = new Set(ids.filter((_, i) => outcomes[i]!.status === 'fulfilled'));
    expect(new Set(byStatus('processed').map((p) => p.id))).toEqual(completed);
    for (const dead of byStatus('dead'))
      expect(dead.last_error_type).toMatch(/^(NetworkTimeout|RateLimited|ClientError|ServerError|ConnectionFailed)$/);

    // The vendor applied each processed payload exactly once, and nothing more than once, whatever it replayed.
    for (const p of byStatus('processed')) expect(h.vendor.effects.get(`webhook-payload/${p.id}`)?.applied).toBe(1);
    for (const effect of h.vendor.effects.values()) expect(effect.applied).toBe(1);

    // The faults really happened: retries, replays after timeouts, and some dead letters.
    const requests = [...h.vendor.requests.values()].reduce((n, count) => n + count, 0);
    expect(requests).toBeGreaterThan(200);
    expect([...h.vendor.effects.values()].some((e) => e.replayed > 0)).toBe(true);
    expect(byStatus('dead').length).toBeGreaterThan(0);
    console.log(
      `chaos: ${byStatus('processed').length} processed, ${byStatus('dead').length} dead, ${requests} vendor requests`,
    );
  }, 180_000);
});
