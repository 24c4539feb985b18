import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { JobArgs } from '../src/job-definition';
import { processPayment } from '../src/jobs/process-payment';

const { chargePayment } = proxyActivities<Activities>(processPayment.activities);

/** One charge; the gateway's idempotency key and the payment's status make every retry safe. */
export async function processPaymentWorkflow({ paymentId }: JobArgs<typeof processPayment>) {
  return await chargePayment(paymentId);
}
