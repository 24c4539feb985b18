export { generateReportWorkflow } from './generate-report';
export { invoiceGenerationWorkflow } from './invoice-generation';
export { noopWorkflow } from './noop';
export { processWebhookWorkflow } from './process-webhook';
export { sendWelcomeEmailWorkflow } from './send-welcome-email';
