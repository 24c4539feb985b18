import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { JobArgs } from '../src/job-definition';
import { databaseActivityOptions } from '../src/jobs/common';
import { processWebhook } from '../src/jobs/process-webhook';

const vendor = proxyActivities<Activities>(processWebhook.activities);
const database = proxyActivities<Activities>(databaseActivityOptions);

/**
 * Retries happen inside the one `processWebhook` activity, scheduled by the server from the job's retry table.
 * When the table discards the payload or its attempts run out, the payload is marked dead with its last error and
 * the run fails with that error's type, so `jobctl dead` can list it and `jobctl retry` can run it again.
 */
export async function processWebhookWorkflow({ webhookPayloadId }: JobArgs<typeof processWebhook>) {
  try {
    return await vendor.processWebhook(webhookPayloadId);
  } catch (err) {
    if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure)) throw err;
    const { type, message, details } = err.cause;
    await database.markWebhookDead(webhookPayloadId, { type: type ?? 'Error', message });
    throw ApplicationFailure.create({ type: type ?? 'Error', message, nonRetryable: true, details: details ? [...details] : undefined });
  }
}
