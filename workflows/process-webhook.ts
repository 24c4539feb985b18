import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { z } from 'zod';
import type { createProcessWebhookActivities } from '../activities/process-webhook';
import {
  databaseActivity,
  defineJob,
  proxyJobActivities,
  recordId,
  seconds,
  type RetryTable,
} from 'durable-jobs/workflow';
type WebhookActivities = ReturnType<typeof createProcessWebhookActivities>;

const args = z.strictObject({ webhookPayloadId: recordId });

/**
 * The retry-strategy pattern, with the seed article's policy for the vendor call: at most 5 attempts; network
 * timeouts back off attempt³+10 s; rate limits wait what the vendor's Retry-After says (5 minutes when it says
 * nothing); a 4xx is retried once after 10 s and then discarded; anything else waits 10×(attempt+1) s. Up to 10%
 * jitter on each delay. `attempt` is the number of the attempt that just failed, 1 for the first try.
 */
const vendorRetries: RetryTable = {
  maxAttempts: 5,
  jitter: 0.1,
  nonRetryable: ['RecordNotFound'],
  rules: {
    NetworkTimeout: { delayMs: (attempt) => seconds(attempt ** 3 + 10) },
    RateLimited: { delayMs: (_attempt, error) => error.retryAfterMs ?? seconds(5 * 60) },
    ClientError: { delayMs: (attempt) => (attempt < 2 ? seconds(10) : 'discard') },
  },
  otherwise: { delayMs: (attempt) => seconds(10 * (attempt + 1)) },
};

export const processWebhook = defineJob({
  name: 'process-webhook',
  description:
    'Send a stored webhook payload to the vendor API, retrying per error type; dead-letter it when hopeless.',
  workflow: processWebhookWorkflow,
  queue: 'default',
  args,
  idempotencyKey: ({ webhookPayloadId }) => String(webhookPayloadId),
  activities: {
    /**
     * The vendor call heartbeats (keepAlive): a worker that dies mid-call is replaced after 5 s, not after a minute,
     * and a cancellation reaches the call within about 4 s (the SDK sends heartbeats at most every 0.8 ×
     * heartbeatTimeout). The vendor's published limit: 10 requests a second per account, for every worker together; the
     * call runs on its rate-limited task queue (README "Rate limits"), so no schedule-to-start or schedule-to-close
     * timeout: a call waits for its turn as long as it takes.
     */
    processWebhook: {
      options: { startToCloseTimeout: '1m', heartbeatTimeout: '5s' },
      retry: vendorRetries,
      rateLimit: { perSecond: 10 },
    },
    /** Recording the dead letter only touches our database: its own short policy, not the vendor's table. */
    markWebhookDead: { options: databaseActivity },
  },
});

const { processWebhook: callVendor, markWebhookDead }: WebhookActivities = proxyJobActivities(processWebhook);

/**
 * Retries happen inside the one `processWebhook` activity, scheduled by the server from the vendor call's table.
 * When the table discards the payload or its attempts run out, the payload is marked dead with its last error and
 * the run fails with that error's type, so `jobctl dead` can list it and `jobctl retry` can run it again.
 */
export async function processWebhookWorkflow({
  webhookPayloadId,
}: z.infer<typeof args>): ReturnType<WebhookActivities['processWebhook']> {
  try {
    return await callVendor(webhookPayloadId);
  } catch (err) {
    if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure)) throw err;
    const { type, message, details } = err.cause;
    await markWebhookDead(webhookPayloadId, { type: type ?? 'Error', message });
    throw ApplicationFailure.create({
      type: type ?? 'Error',
      message,
      nonRetryable: true,
      details: details ? [...details] : undefined,
    });
  }
}
