import type { Database } from './services/schema';
import { recordNotFound } from 'durable-jobs';
import { keepAlive } from 'durable-jobs/worker';
import type { PaymentGatewayClient } from './services/vendor-client';

export interface ProcessPaymentDeps {
  db: Database;
  gateway: PaymentGatewayClient;
}

export function createProcessPaymentActivities({ db, gateway }: ProcessPaymentDeps) {
  return {
    /**
     * Charges a payment once: a charged payment returns its reference; otherwise the gateway is called with the
     * payment's idempotency key, so an attempt retried after the gateway charged (a timeout, a crash before the
     * update) is answered with the same charge instead of charging again.
     */
    async chargePayment(paymentId: number): Promise<{ reference: string; alreadyCharged: boolean }> {
      const payment = await db.selectFrom('payments').selectAll().where('id', '=', paymentId).executeTakeFirst();
      if (!payment) throw recordNotFound('payment', paymentId);
      if (payment.status === 'charged' && payment.charge_reference)
        return { reference: payment.charge_reference, alreadyCharged: true };
      // A cancelled job's call is abandoned at the next heartbeat. The gateway may have charged already: enqueueing the
      // payment again asks with the same idempotency key, so it records that charge instead of charging twice.
      const charge = await keepAlive((signal) =>
        gateway.charge(
          { paymentId, amountCents: Number(payment.amount_cents), currency: payment.currency },
          `payment/${paymentId}`,
          signal,
        ),
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
