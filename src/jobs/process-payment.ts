import { z } from 'zod';
import type { RateLimitedError } from '../external-errors';
import { defineJob } from '../job-definition';
import { seconds } from '../retry-rules';
import { recordId, RECORD_NOT_FOUND } from './common';

/**
 * Charges a payment through the gateway, on the critical queue: its own workers, so no backlog elsewhere delays it.
 * The gateway call carries the payment's idempotency key, so a retried charge never charges twice.
 */
export const processPayment = defineJob({
  name: 'process-payment',
  description: 'Charge a payment through the payment gateway, once, ahead of every other queue.',
  workflowType: 'processPaymentWorkflow',
  queue: 'critical',
  args: z.strictObject({ paymentId: recordId }),
  idempotencyKey: ({ paymentId }) => String(paymentId),
  // The gateway call heartbeats (keepAlive): a worker that dies mid-charge is replaced after 10 s.
  activities: { startToCloseTimeout: '30s', heartbeatTimeout: '10s' },
  retry: {
    maxAttempts: 5,
    jitter: 0.1,
    nonRetryable: [RECORD_NOT_FOUND],
    rules: {
      RateLimited: { delayMs: (_attempt, error) => (error as RateLimitedError).retryAfterMs ?? seconds(30) },
      ClientError: { delayMs: () => 'discard' }, // a declined or invalid charge: retrying cannot help
    },
    otherwise: { delayMs: (attempt) => seconds(2 ** attempt) },
  },
});
