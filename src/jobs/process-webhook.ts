import { z } from 'zod';
import type { RateLimitedError } from '../external-errors';
import { defineJob } from '../job-definition';
import { seconds } from '../retry-rules';
import { recordId, RECORD_NOT_FOUND } from './common';

/**
 * The retry-strategy pattern, with the seed article's policy: at most 5 attempts; network timeouts back off
 * attempt³+10 s; rate limits wait what the vendor's Retry-After says (5 minutes when it says nothing); a 4xx is
 * retried once after 10 s and then discarded; anything else waits 10×(attempt+1) s. Up to 10% jitter on each delay.
 * `attempt` is the number of the attempt that just failed, 1 for the first try.
 */
export const processWebhook = defineJob({
  name: 'process-webhook',
  description: 'Send a stored webhook payload to the vendor API, retrying per error type; dead-letter it when hopeless.',
  workflowType: 'processWebhookWorkflow',
  queue: 'default',
  args: z.strictObject({ webhookPayloadId: recordId }),
  idempotencyKey: ({ webhookPayloadId }) => String(webhookPayloadId),
  // The vendor call heartbeats (keepAlive): a worker that dies mid-call is replaced after 10 s, not after a minute.
  activities: { startToCloseTimeout: '1m', heartbeatTimeout: '10s' },
  retry: {
    maxAttempts: 5,
    jitter: 0.1,
    nonRetryable: [RECORD_NOT_FOUND],
    rules: {
      NetworkTimeout: { delayMs: (attempt) => seconds(attempt ** 3 + 10) },
      RateLimited: { delayMs: (_attempt, error) => (error as RateLimitedError).retryAfterMs ?? seconds(5 * 60) },
      ClientError: { delayMs: (attempt) => (attempt < 2 ? seconds(10) : 'discard') },
    },
    otherwise: { delayMs: (attempt) => seconds(10 * (attempt + 1)) },
  },
});
