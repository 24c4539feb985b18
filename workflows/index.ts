/**
 * Every job of this application, one line each: a job's file exports its declaration (`defineJob`) and its workflow
 * function(s). This is the application's workflows module (`app.ts` names it): the worker bundles it (Temporal
 * registers the exported functions) and loading it declares the jobs, so a job listed here is known to the client, the
 * CLI, the HTTP service and the worker alike. The last line opts into the library's health check job.
 */
export * from './invoice-generation';
export * from './send-welcome-email';
export * from './generate-report';
export * from './process-webhook';
export * from './large-data-export';
export * from './process-payment';
export * from './update-search-index';
export * from 'durable-jobs/health-check';
