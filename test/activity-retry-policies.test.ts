import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processWebhook } from './jobs';
import { createHarness, type Harness } from './harness';

const EventType = temporal.api.enums.v1.EventType;

/**
 * Retry tables belong to activities, not to jobs: process-webhook's table governs its vendor call only. Its database
 * step `markWebhookDead`, proxied with the database options, keeps that plain policy — a generic error there is
 * retried after 1 s, not re-decided by the vendor table (which would wait 10×(attempt+1) s and attach its decision).
 */
describe('retry policy per activity', () => {
  let h: Harness;
  const markDeadAttempts: number[] = [];

  beforeAll(async () => {
    h = await createHarness({
      deps: {
        beforeMarkWebhookDead: (_id, attempt) => {
          markDeadAttempts.push(attempt);
          if (attempt === 1) throw new Error('database connection reset');
        },
      },
    });
    await h.startWorkers();
  });
  afterAll(() => h?.close());

  it('markWebhookDead failing once with a generic error is retried under its own policy, and the payload ends dead', async () => {
    const webhookPayloadId = await h.createWebhook();
    h.vendor.script(`webhook-payload/${webhookPayloadId}`, ['client_error', 'client_error']); // 4xx, retried once in 10 s, then discarded
    const { workflowId } = await h.client.enqueue(processWebhook, { webhookPayloadId });
    await expect(h.env.client.workflow.getHandle(workflowId).result()).rejects.toMatchObject({
      cause: { type: 'ClientError' },
    });
    expect(markDeadAttempts).toEqual([1, 2]);

    const events = (await h.env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const scheduled = events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
    const byType = (type: string) =>
      scheduled.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type)!;
    // The vendor call runs under the policy compiled from its table; the database step under the database options.
    expect(byType('processWebhook').activityTaskScheduledEventAttributes?.retryPolicy).toMatchObject({
      maximumAttempts: 5,
    });
    const markDead = byType('markWebhookDead');
    expect(markDead.activityTaskScheduledEventAttributes?.retryPolicy).toMatchObject({
      maximumAttempts: 10,
      initialInterval: { seconds: expect.anything() },
      nonRetryableErrorTypes: ['RecordNotFound'],
    });
    expect(Number(markDead.activityTaskScheduledEventAttributes?.retryPolicy?.initialInterval?.seconds)).toBe(1);

    // Its second attempt started after a plain failure: no delay or decision from a retry table.
    const started = events.find(
      (e) =>
        e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED &&
        e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === markDead.eventId?.toString(),
    )!.activityTaskStartedEventAttributes!;
    expect(started.attempt).toBe(2);
    expect(started.lastFailure?.message).toBe('database connection reset');
    expect(started.lastFailure?.applicationFailureInfo?.nextRetryDelay ?? null).toBeNull();
    expect(started.lastFailure?.applicationFailureInfo?.details ?? null).toBeNull();

    const payload = await h.database.db
      .selectFrom('webhook_payloads')
      .select(['status', 'last_error_type'])
      .where('id', '=', webhookPayloadId)
      .executeTakeFirstOrThrow();
    expect(payload).toEqual({ status: 'dead', last_error_type: 'ClientError' });
  }, 60_000);
});
