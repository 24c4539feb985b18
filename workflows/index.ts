/**
 * Every job, one line each: a job's file exports its declaration (`defineJob`) and its workflow function(s). This is
 * the worker's workflow bundle entry (Temporal registers the exported functions) and the job registry's source
 * (src/jobs.ts collects the declarations), so a job listed here is known to the client, the CLI, the HTTP service and
 * the worker alike.
 */
export * from './invoice-generation';
export * from './send-welcome-email';
export * from './generate-report';
export * from './process-webhook';
export * from './large-data-export';
export * from './process-payment';
export * from './update-search-index';
export * from './health-check';
export * from './noop';
export * from './debounce';
export * from './concurrency-semaphore';
export * from './concurrency-probe';
