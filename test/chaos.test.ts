import { Context } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VendorClient, type VendorResult } from '../activities/services/vendor-client';
import { processWebhook } from './jobs';
import { createTimeSkippingHarness, type Harness } from './harness';

const FAULTS = {
  weights: { ok: 5, timeout: 1, rate_limit: 1, client_error: 0.5, server_error: 1, reset: 1 },
  timeoutDelayMs: 600,
};

/** One chaos run: each payload's id and data, its job's outcome and the vendor attempts its history shows. */
interface ChaosRun {
  payloads: Array<{ id: number; body: string; outcome: 'fulfilled' | 'rejected'; attempts: number }>;
}

/**
 * Enqueues `count` webhooks against the harness's vendor, faulting at random from `seed`, and drives the time-skipping
 * server until none is pending. Attempts are read from each run's history: the `processWebhook` activity's last
 * ActivityTaskStarted carries the attempt number of the attempt that closed it.
 */
async function runChaos(h: Harness, count: number, seed: number): Promise<ChaosRun> {
  h.vendor.randomFaults({ seed, ...FAULTS });
  const data = Array.from({ length: count }, (_, n) => ({ event: 'order.updated', n }));
  const ids = await Promise.all(data.map((d) => h.createWebhook(d)));
  const runs = await Promise.all(ids.map((webhookPayloadId) => h.client.enqueue(processWebhook, { webhookPayloadId })));
  // Drive the server clock in small steps rather than awaiting every result at once: a time-skipping server that
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
  return {
    payloads: await Promise.all(
      runs.map(async (run, i) => {
        const handle = h.env.client.workflow.getHandle(run.workflowId, run.runId);
        const outcome = await handle.result().then(
          () => 'fulfilled' as const,
          () => 'rejected' as const,
        );
        const events = (await handle.fetchHistory()).events ?? [];
        const scheduled = events.find(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'processWebhook',
        );
        const started = events.filter(
          (e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled?.eventId),
        );
        const attempts = started.length
          ? Math.max(...started.map((e) => e.activityTaskStartedEventAttributes!.attempt!))
          : 0;
        return { id: ids[i]!, body: JSON.stringify(data[i]), outcome, attempts };
      }),
    ),
  };
}

/**
 * The idempotency guarantee as the vendor sees it: each payload went out under ONE key, `webhook-payload/<id>`, on
 * every attempt (so a retry after a timeout that was applied is answered from the vendor's record, not applied again);
 * the vendor got exactly one request per attempt the history shows; and what we stored for a processed payload is
 * what the vendor recorded for that key. Each check lists the offending payloads, so a failure names them.
 */
async function expectOneKeyPerPayload(h: Harness, run: ChaosRun): Promise<void> {
  const byBody = new Map(run.payloads.map((p) => [p.body, p]));
  const keysById = new Map<number, Set<string>>();
  for (const request of h.vendor.requestLog) {
    const payload = byBody.get(request.body);
    expect(payload, `a request with key ${request.key} carries none of the payloads`).toBeDefined();
    keysById.set(payload!.id, (keysById.get(payload!.id) ?? new Set()).add(request.key));
  }
  const otherKeys = run.payloads
    .map((p) => ({ id: p.id, keys: [...(keysById.get(p.id) ?? [])] }))
    .filter(({ id, keys }) => keys.length !== 1 || keys[0] !== `webhook-payload/${id}`);
  expect(otherKeys, 'payloads sent under another key than webhook-payload/<id>, or several').toEqual([]);

  const requestsUnlikeAttempts = run.payloads
    .map((p) => ({ id: p.id, attempts: p.attempts, requests: h.vendor.requests.get(`webhook-payload/${p.id}`) ?? 0 }))
    .filter((p) => p.attempts < 1 || p.requests !== p.attempts);
  expect(requestsUnlikeAttempts, 'vendor requests per key unlike the attempts in the history').toEqual([]);

  const rows = await h.database.db
    .selectFrom('webhook_payloads')
    .select(['id', 'status', 'result'])
    .where(
      'id',
      'in',
      run.payloads.map((p) => p.id),
    )
    .execute();
  const storedUnlikeVendor = rows
    .filter((r) => r.status === 'processed')
    .map((r) => ({
      id: r.id,
      stored: r.result === null ? null : (JSON.parse(r.result) as VendorResult),
      vendor: h.vendor.effects.get(`webhook-payload/${r.id}`)?.result,
    }))
    .filter((r) => r.vendor === undefined || JSON.stringify(r.stored) !== JSON.stringify(r.vendor));
  expect(storedUnlikeVendor, "stored results unlike the vendor's record for the key").toEqual([]);
}

/** Sends each attempt under its own key: the bug `expectOneKeyPerPayload` exists to catch. */
class PerAttemptKeyVendor extends VendorClient {
  override process(data: unknown, idempotencyKey: string): Promise<VendorResult> {
    return super.process(data, `${idempotencyKey}/attempt/${Context.current().info.attempt}`);
  }
}

/**
 * 200 webhooks against a vendor that fails at random (seeded, so a failure reproduces): timeouts after applying,
 * rate limits with and without Retry-After, 4xx, 5xx and connection resets. On the time-skipping server the minutes
 * of backoff pass at once. Whatever happens, every payload must end processed or dead, each sent under one key on
 * every attempt, and none left pending.
 */
describe('chaos: 200 webhooks against a faulty vendor', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createTimeSkippingHarness();
  });
  afterAll(() => h?.close());

  it('every payload ends processed or dead, each under one idempotency key across all its attempts, none left pending', async () => {
    const run = await runChaos(h, 200, 20261128);
    const ids = run.payloads.map((p) => p.id);

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
    const completed = new Set(run.payloads.filter((p) => p.outcome === 'fulfilled').map((p) => p.id));
    expect(new Set(byStatus('processed').map((p) => p.id))).toEqual(completed);
    for (const dead of byStatus('dead'))
      expect(dead.last_error_type).toMatch(/^(NetworkTimeout|RateLimited|ClientError|ServerError|ConnectionFailed)$/);

    await expectOneKeyPerPayload(h, run);

    // The faults really happened: retries, replays of requests applied before a timeout, and some dead letters.
    const requests = h.vendor.requestLog.length;
    expect(requests).toBeGreaterThan(200);
    expect(run.payloads.filter((p) => p.attempts > 1).length).toBeGreaterThan(20);
    expect([...h.vendor.effects.values()].some((e) => e.replayed > 0)).toBe(true);
    expect(byStatus('dead').length).toBeGreaterThan(0);
    console.log(
      `chaos: ${byStatus('processed').length} processed, ${byStatus('dead').length} dead, ${requests} vendor requests`,
    );
  }, 180_000);
});

describe('chaos negative control', () => {
  let h: Harness;
  // Activities whose vendor client sends under a key per attempt. The harness starts its vendor after building the
  // activities; the client reads the URL when it sends.
  const vendorOptions = { baseUrl: '', timeoutMs: 300 };

  beforeAll(async () => {
    h = await createTimeSkippingHarness({ deps: { vendor: new PerAttemptKeyVendor(vendorOptions) } });
    vendorOptions.baseUrl = h.vendor.url;
  });
  afterAll(() => h?.close());

  it('a key per attempt instead of per payload fails the one-key check', async () => {
    const run = await runChaos(h, 40, 20261128);
    expect(run.payloads.some((p) => p.attempts > 1)).toBe(true);
    await expect(expectOneKeyPerPayload(h, run)).rejects.toThrow(/sent under another key/);
  }, 120_000);
});
