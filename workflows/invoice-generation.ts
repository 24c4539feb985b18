import { z } from 'zod';
import type { createInvoiceGenerationActivities, InvoiceResult } from '../activities/invoice-generation';
import { databaseActivity, defineJob, proxyJobActivities, recordId } from 'durable-jobs/workflow';
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
  // The Web UI's summary of a run: "invoice-generation · invoice 42".
  summary: ({ invoiceId }) => `invoice ${invoiceId}`,
  // One short transaction on our own database: no round trip through the server for it.
  activities: { generateInvoice: { options: databaseActivity, local: true } },
});

const { generateInvoice }: ReturnType<typeof createInvoiceGenerationActivities> = proxyJobActivities(invoiceGeneration);

/** One activity does guard and work in one transaction; the workflow ID already made duplicates attach to this run. */
export async function invoiceGenerationWorkflow({ invoiceId }: z.infer<typeof args>): Promise<InvoiceResult> {
  return await generateInvoice(invoiceId);
}
