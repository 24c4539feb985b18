import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processWebhook } from './jobs';
import { jitterFraction } from '../src/sandbox/retry-rules';
import type { Fault } from '../src/testing/fake-vendor';
import { createTimeSkippingHarness, vendorCallSchedule, type Harness } from './harness';

/**
 * The retry schedule as the server ran it, on Temporal's time-skipping test server: minutes of backoff pass in
 * milliseconds, and the history's event times are in the server's (skipped) clock. The history keeps one
 * ActivityTaskScheduled and the final attempt's ActivityTaskStarted (with its attempt number): the time between them
 * is every retry delay (skipped) plus the real time the attempts and their dispatch took.
 */
interface Outcome {
  workflowId: string;
  status: 'Completed' | 'Failed';
  failureType?: string;
  attempts: number;
  waitedMs: number;
  /** The delays the table gives for this run's failed attempts, with their jitter. */
  expectedDelayMs: (bases: number[]) => number;
  /** Real time from enqueue to the result: the most the attempts themselves can have added to `waitedMs`. */
  realElapsedMs: number;
  payload: { status: string; last_error_type: string | null };
  /** What the vendor saw under the payload's one idempotency key: every request, and how each was answered. */
  vendor: { requests: number; applied: number; replayed: number };
}

describe('process-webhook retries follow the table, as recorded in the workflow history', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createTimeSkippingHarness();
  });
  afterAll(() => h?.close());

  /** Scripts the vendor's answers for one new payload, runs the job to its end, and reads its history. */
  async function run(faults: Array<Fault | Fault['kind']>): Promise<Outcome> {
    const id = await h.createWebhook();
    const key = `webhook-payload/${id}`;
    h.vendor.script(
      key,
      faults.map((f) => (f === 'timeout' ? { kind: 'timeout', delayMs: 800 } : f)),
    );
    const began = Date.now();
    const { workflowId } = await h.client.enqueue(processWebhook, { webhookPayloadId: id });
    const handle = h.env.client.workflow.getHandle(workflowId);
    const failure = await handle.result().then(
      () => undefined,
      (err: Error) => err,
    );
    const realElapsedMs = Date.now() - began;
    const { attempt, waitedMs, activityId } = await vendorCallSchedule(handle);
    const payload = await h.database.db
      .selectFrom('webhook_payloads')
      .select(['status', 'last_error_type'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return {
      workflowId,
      status: failure ? 'Failed' : 'Completed',
      failureType: failure ? ((failure.cause as { type?: string })?.type ?? undefined) : undefined,
      attempts: attempt,
      waitedMs,
      realElapsedMs,
      expectedDelayMs: (bases) =>
        bases.reduce(
          (sum, base, i) =>
            sum + Math.round(base * 1000 * (1 + 0.1 * jitterFraction(`${workflowId}/${activityId}/${i + 1}`))),
          0,
        ),
      payload,
      vendor: {
        requests: h.vendor.requests.get(key) ?? 0,
        applied: h.vendor.effects.get(key)?.applied ?? 0,
        replayed: h.vendor.effects.get(key)?.replayed ?? 0,
      },
    };
  }

  /**
   * The server waited at least the table's delays (exact), and at most those plus the real time the run took: only
   * the backoff is skipped, so anything more is a delay the table does not give. The real time is the upper slack
   * rather than a fixed allowance per attempt because on a loaded 2-core machine one attempt's dispatch alone can
   * take seconds; on an idle one it keeps the bound within a second or two of exact.
   */
  function expectWaited(outcome: Outcome, baseDelaysSeconds: number[]) {
    const expected = outcome.expectedDelayMs(baseDelaysSeconds);
    expect(outcome.waitedMs).toBeGreaterThanOrEqual(expected);
    expect(outcome.waitedMs).toBeLessThanOrEqual(expected + outcome.realElapsedMs);
  }

  it('network timeouts: 4 attempts time out, backing off 11, 18, 37, 74 s; the 5th succeeds and the vendor applied it once', async () => {
    const o = await run(['timeout', 'timeout', 'timeout', 'timeout', 'ok']);
    expect(o).toMatchObject({ status: 'Completed', attempts: 5, payload: { status: 'processed' } });
    // One key for all five attempts: the first timed-out request applied it, the four retries got the record.
    expect(o.vendor).toEqual({ requests: 5, applied: 1, replayed: 4 });
    expectWaited(o, [11, 18, 37, 74]);
  });

  it('network timeouts on all 5 attempts: exhausted after 5, payload dead with NetworkTimeout', async () => {
    const o = await run(['timeout', 'timeout', 'timeout', 'timeout', 'timeout']);
    expect(o).toMatchObject({
      status: 'Failed',
      failureType: 'NetworkTimeout',
      attempts: 5,
      payload: { status: 'dead', last_error_type: 'NetworkTimeout' },
    });
    expect(o.vendor).toEqual({ requests: 5, applied: 1, replayed: 4 });
    expectWaited(o, [11, 18, 37, 74]);
  });

  it('rate limited with Retry-After: 120 waits 120 s', async () => {
    const o = await run([{ kind: 'rate_limit', retryAfterSeconds: 120 }, 'ok']);
    expect(o).toMatchObject({ status: 'Completed', attempts: 2, payload: { status: 'processed' } });
    expect(o.vendor).toEqual({ requests: 2, applied: 1, replayed: 0 });
    expectWaited(o, [120]);
  });

  it('rate limited without Retry-After waits 5 minutes', async () => {
    const o = await run(['rate_limit', 'ok']);
    expect(o).toMatchObject({ status: 'Completed', attempts: 2 });
    expect(o.vendor).toEqual({ requests: 2, applied: 1, replayed: 0 });
    expectWaited(o, [300]);
  });

  it('a 4xx is retried once after 10 s and then discarded: 2 attempts, payload dead with ClientError', async () => {
    const o = await run(['client_error', 'client_error', 'ok']);
    expect(o).toMatchObject({
      status: 'Failed',
      failureType: 'ClientError',
      attempts: 2,
      payload: { status: 'dead', last_error_type: 'ClientError' },
    });
    expect(o.vendor).toEqual({ requests: 2, applied: 0, replayed: 0 }); // the scripted third answer was never asked
    expectWaited(o, [10]);
  });

  it('a 4xx that clears on the retry is processed', async () => {
    const o = await run(['client_error', 'ok']);
    expect(o).toMatchObject({ status: 'Completed', attempts: 2, payload: { status: 'processed' } });
    expect(o.vendor).toEqual({ requests: 2, applied: 1, replayed: 0 });
    expectWaited(o, [10]);
  });

  it('anything else (5xx, connection reset) waits 10×(attempt+1) s: 20, 30, 40', async () => {
    const o = await run(['server_error', 'reset', 'server_error', 'ok']);
    expect(o).toMatchObject({ status: 'Completed', attempts: 4, payload: { status: 'processed' } });
    expect(o.vendor).toEqual({ requests: 4, applied: 1, replayed: 0 });
    expectWaited(o, [20, 30, 40]);
  });

  it('mixed errors each follow their own rule: timeout 11 s, rate limit 60 s, 5xx 40 s', async () => {
    const o = await run(['timeout', { kind: 'rate_limit', retryAfterSeconds: 60 }, 'server_error', 'ok']);
    expect(o).toMatchObject({ status: 'Completed', attempts: 4 });
    // The timed-out first request was applied; the fourth, under the same key, got that record back.
    expect(o.vendor).toEqual({ requests: 4, applied: 1, replayed: 1 });
    expectWaited(o, [11, 60, 40]);
  });

  it('5xx on every attempt: 5 attempts at most, then dead with ServerError', async () => {
    const o = await run(['server_error', 'server_error', 'server_error', 'server_error', 'server_error', 'ok']);
    expect(o).toMatchObject({
      status: 'Failed',
      failureType: 'ServerError',
      attempts: 5,
      payload: { status: 'dead', last_error_type: 'ServerError' },
    });
    expect(o.vendor).toEqual({ requests: 5, applied: 0, replayed: 0 });
    expectWaited(o, [20, 30, 40, 50]);
  });
});
