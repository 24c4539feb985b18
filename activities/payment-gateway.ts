import { ApplicationFailure } from '@temporalio/activity';
import type { Database } from '../src/db/schema';
import { keepAlive } from '../src/heartbeat';
import { RECORD_NOT_FOUND } from '../src/jobs/common';
import type { PaymentGatewayClient } from '../src/vendor/client';

export interface PaymentActivityDeps {
  db: Database;
  gateway: PaymentGatewayClient;
}

export function createPaymentActivities({ db, gateway }: PaymentActivityDeps) {
  return {
    /**
     * Charges a payment once: a charged payment returns its reference; otherwise the gateway is called with the
     * payment's idempotency key, so an attempt retried after the gateway charged (a timeout, a crash before the
     * update) is answered with the same charge instead of charging again.
     */
    async chargePayment(paymentId: number): Promise<{ reference: string; alreadyCharged: boolean }> {
      const payment = await db.selectFrom('payments').selectAll().where('id', '=', paymentId).executeTakeFirst();
      if (!payment) throw ApplicationFailure.nonRetryable(`payment ${paymentId} does not exist`, RECORD_NOT_FOUND);
      if (payment.status === 'charged' && payment.charge_reference) return { reference: payment.charge_reference, alreadyCharged: true };
      const charge = await keepAlive(() =>
        gateway.charge({ paymentId, amountCents: Number(payment.amount_cents), currency: payment.currency }, `payment/${paymentId}`),
      );
      await db
        .updateTable('payments')
        .set({ status: 'charged', charge_reference: charge.reference, charged_at: charge.processedAt })
        .where('id', '=', paymentId)
        .execute();
      return { reference: charge.reference, alreadyCharged: false };
    },
  };
}
