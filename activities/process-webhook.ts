import { Context } from '@temporalio/activity';
import type { Database } from './services/schema';
import { keepAlive } from 'durable-jobs/worker';
import { recordNotFound } from 'durable-jobs';
import type { VendorClient, VendorResult } from './services/vendor-client';

export interface ProcessWebhookDeps {
  db: Database;
  vendor: VendorClient;
  /** Called before a payload is marked dead, with the attempt number; tests make the database step fail with it. */
  beforeMarkWebhookDead?: (webhookPayloadId: number, attempt: number) => void | Promise<void>;
}

export function createProcessWebhookActivities({ db, vendor, beforeMarkWebhookDead }: ProcessWebhookDeps) {
  return {
    /**
     * Sends a stored webhook payload to the vendor. Checks first (a processed payload is done), and sends with an
     * idempotency key per payload, so an attempt retried after the vendor applied it is answered, not applied again.
     * Failures are the vendor client's typed errors; the vendor call's retry table decides what follows.
     */
    async processWebhook(webhookPayloadId: number): Promise<{ result: VendorResult; alreadyProcessed: boolean }> {
      const payload = await db
        .selectFrom('webhook_payloads')
        .selectAll()
        .where('id', '=', webhookPayloadId)
        .executeTakeFirst();
      if (!payload) throw recordNotFound('webhook payload', webhookPayloadId);
      if (payload.status === 'processed' && payload.result)
        return { result: JSON.parse(payload.result), alreadyProcessed: true };
      // A cancelled job's call is abandoned at the next heartbeat: the activity ends cancelled, the payload untouched.
      const result = await keepAlive((signal) =>
        vendor.process(JSON.parse(payload.data), `webhook-payload/${webhookPayloadId}`, signal),
      );
      await db
        .updateTable('webhook_payloads')
        .set({
          status: 'processed',
          result: JSON.stringify(result),
          last_error_type: null,
          last_error: null,
          updated_at: new Date().toISOString(),
        })
        .where('id', '=', webhookPayloadId)
        .execute();
      return { result, alreadyProcessed: false };
    },

    /** Records that the payload was discarded or ran out of attempts, with its last error. Never un-processes one. */
    async markWebhookDead(webhookPayloadId: number, error: { type: string; message: string }): Promise<void> {
      await beforeMarkWebhookDead?.(webhookPayloadId, Context.current().info.attempt);
      await db
        .updateTable('webhook_payloads')
        .set({
          status: 'dead',
          last_error_type: error.type,
          last_error: error.message,
          updated_at: new Date().toISOString(),
        })
        .where('id', '=', webhookPayloadId)
        .where('status', '!=', 'processed')
        .execute();
    },
  };
}
