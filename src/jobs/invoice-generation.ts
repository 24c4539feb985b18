import { z } from 'zod';
import { defineJob } from '../job-definition';
import { databaseActivityOptions, recordId } from './common';

/**
 * The idempotency pattern: the workflow ID is derived from the invoice id, so enqueueing the same invoice any number
 * of times runs it once; the activity checks `generated_at` and commits the document and `generated_at` together,
 * so a retried attempt never generates a second document.
 */
export const invoiceGeneration = defineJob({
  name: 'invoice-generation',
  description: 'Render an invoice document once, however often it is enqueued or retried.',
  workflowType: 'invoiceGenerationWorkflow',
  queue: 'default',
  args: z.strictObject({ invoiceId: recordId }),
  idempotencyKey: ({ invoiceId }) => String(invoiceId),
  activities: databaseActivityOptions,
});
