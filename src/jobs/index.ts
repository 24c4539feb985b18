import type { JobDefinition } from '../job-definition';
import { generateReport } from './generate-report';
import { healthCheck } from './health-check';
import { invoiceGeneration } from './invoice-generation';
import { largeDataExport } from './large-data-export';
import { noop } from './noop';
import { processPayment } from './process-payment';
import { processWebhook } from './process-webhook';
import { sendWelcomeEmail } from './send-welcome-email';
import { updateSearchIndex } from './update-search-index';

export { generateReport, healthCheck, invoiceGeneration, largeDataExport, noop, processPayment, processWebhook, sendWelcomeEmail, updateSearchIndex };

/** Every job the system knows, by name. The CLI, the HTTP service and the worker read this list. */
export const jobs: readonly JobDefinition<any>[] = [
  invoiceGeneration,
  sendWelcomeEmail,
  generateReport,
  processWebhook,
  largeDataExport,
  processPayment,
  updateSearchIndex,
  healthCheck,
  noop,
];

export function findJob(name: string): JobDefinition<any> | undefined {
  return jobs.find((job) => job.name === name);
}

/** The job a workflow ID belongs to: IDs are `<job-name>/<key>`. */
export function jobForWorkflowId(workflowId: string): JobDefinition<any> | undefined {
  return findJob(workflowId.slice(0, workflowId.indexOf('/')));
}
