export { exportSliceWorkflow } from './export-slice';
export { generateReportWorkflow } from './generate-report';
export { invoiceGenerationWorkflow } from './invoice-generation';
export { largeDataExportWorkflow } from './large-data-export';
export { noopWorkflow } from './noop';
export { processWebhookWorkflow } from './process-webhook';
export { sendWelcomeEmailWorkflow } from './send-welcome-email';
