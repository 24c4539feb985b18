import { proxyActivities } from '@temporalio/workflow';
import { z } from 'zod';
import type { createInvoiceGenerationActivities } from '../activities/invoice-generation';
import { databaseActivity, defineJob, recordId } from '../src/job-definition';

const args = z.strictObject({ invoiceId: recordId });

/**
 * The idempotency pattern: the workflow ID is derived from the invoice id, so enqueueing the same invoice any number
 * of times runs it once; the activity checks `generated_at` and commits the document and `generated_at` together,
 * so a retried attempt never generates a second document.
 */
export const invoiceGeneration = defineJob({
  name: 'invoice-generation',
  description: 'Render an invoice document once, however often it is enqueued or retried.',
  workflow: invoiceGenerationWorkflow,
  queue: 'default',
  args,
  idempotencyKey: ({ invoiceId }) => String(invoiceId),
});

const { generateInvoice } = proxyActivities<ReturnType<typeof createInvoiceGenerationActivities>>(databaseActivity);

/** One activity does guard and work in one transaction; the workflow ID already made duplicates attach to this run. */
export async function invoiceGenerationWorkflow({ invoiceId }: z.infer<typeof args>) {
  return await generateInvoice(invoiceId);
}
