import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { JobArgs } from '../src/job-definition';
import { invoiceGeneration } from '../src/jobs/invoice-generation';

const { generateInvoice } = proxyActivities<Activities>(invoiceGeneration.activities);

/** One activity does guard and work in one transaction; the workflow ID already made duplicates attach to this run. */
export async function invoiceGenerationWorkflow({ invoiceId }: JobArgs<typeof invoiceGeneration>) {
  return await generateInvoice(invoiceId);
}
