import { z } from 'zod';
import type { createProcessPaymentActivities } from '../activities/process-payment';
import { defineJob, proxyJobActivities, recordId, seconds, type RetryTable } from 'durable-jobs/workflow';
const args = z.strictObject({ paymentId: recordId });

/** The gateway call's rules: Retry-After is honoured; a declined or invalid charge is never retried. */
const chargeRetries: RetryTable = {
  maxAttempts: 5,
  jitter: 0.1,
  nonRetryable: ['RecordNotFound'],
  rules: {
    RateLimited: { delayMs: (_attempt, error) => error.retryAfterMs ?? seconds(30) },
    ClientError: { delayMs: () => 'discard' },
  },
  otherwise: { delayMs: (attempt) => seconds(2 ** attempt) },
};

/**
 * Charges a payment through the gateway, on the critical queue: its own workers, so no backlog elsewhere delays it.
 * The gateway call carries the payment's idempotency key, so a retried charge never charges twice.
 */
export const processPayment = defineJob({
  name: 'process-payment',
  description: 'Charge a payment through the payment gateway, once, ahead of every other queue.',
  workflow: processPaymentWorkflow,
  queue: 'critical',
  args,
  idempotencyKey: ({ paymentId }) => String(paymentId),
  activities: {
    /**
     * The gateway call heartbeats (keepAlive): a worker that dies mid-charge is replaced after 5 s, and a cancellation
     * reaches the call within about 4 s. The gateway's limit on charges: 25 a second per account, for every worker
     * together (README "Rate limits"); so no schedule-to-start timeout: a charge waits for its turn.
     */
    chargePayment: {
      options: { startToCloseTimeout: '30s', heartbeatTimeout: '5s' },
      retry: chargeRetries,
      rateLimit: { perSecond: 25 },
    },
  },
});

type PaymentActivities = ReturnType<typeof createProcessPaymentActivities>;
const { chargePayment }: PaymentActivities = proxyJobActivities(processPayment);

/** One charge; the gateway's idempotency key and the payment's status make every retry safe. */
export async function processPaymentWorkflow({
  paymentId,
}: z.infer<typeof args>): ReturnType<PaymentActivities['chargePayment']> {
  return await chargePayment(paymentId);
}
