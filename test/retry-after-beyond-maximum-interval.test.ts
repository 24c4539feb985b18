import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processWebhook } from './jobs';
import { jitterFraction } from '../src/sandbox/retry-rules';
import { createTimeSkippingHarness, vendorCallSchedule, type Harness } from './harness';

/**
 * The vendor call's RetryPolicy has `maximumInterval: '5m'` (compileRetryPolicy). A Retry-After above that must still
 * be honoured: the server must not clip the failure's own nextRetryDelay to the policy's cap. On the time-skipping
 * test server the hour passes at once, and the history's event times are in its (skipped) clock.
 */
describe('a Retry-After longer than the policy maximumInterval', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createTimeSkippingHarness();
  });
  afterAll(() => h?.close());

  it('a 429 with Retry-After: 3600 retries after the hour (with its jitter), not after the 5 min cap', async () => {
    const id = await h.createWebhook();
    h.vendor.script(`webhook-payload/${id}`, [{ kind: 'rate_limit', retryAfterSeconds: 3600 }, 'ok']);
    const { workflowId } = await h.client.enqueue(processWebhook, { webhookPayloadId: id });
    const handle = h.env.client.workflow.getHandle(workflowId);
    await handle.result();

    const { attempt, waitedMs, activityId } = await vendorCallSchedule(handle);
    const expectedMs = Math.round(3600_000 * (1 + 0.1 * jitterFraction(`${workflowId}/${activityId}/1`)));

    expect(attempt).toBe(2);
    // Exactly the Retry-After (plus its jitter) below; above, only the two attempts' own run time.
    expect(waitedMs).toBeGreaterThanOrEqual(expectedMs);
    expect(waitedMs).toBeLessThan(expectedMs + 2 * 1500);
    expect(h.vendor.effects.get(`webhook-payload/${id}`)?.applied).toBe(1);
  });
});
