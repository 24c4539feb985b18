/**
 * Every job's activities, one line each: `activities/<job>.ts` exports `create<Job>Activities(deps)`, which takes the
 * shared services it needs (database, mail transport, HTTP clients of external services) and test hooks as deps,
 * samples-style. src/app.ts builds them all from here for a worker.
 */
export * from './invoice-generation';
export * from './send-welcome-email';
export * from './generate-report';
export * from './process-webhook';
export * from './large-data-export';
export * from './process-payment';
export * from './update-search-index';
