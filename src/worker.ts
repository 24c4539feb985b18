/**
 * `durable-jobs/worker`: what runs in a worker process — the process itself (`startWorkerProcess`), the application
 * database it opens, and the helpers activities use: `keepAlive` heartbeats, and the typed errors of calls to external
 * services that the retry tables match on.
 */
export { startWorkerProcess, type WorkerProcess, type WorkerProcessOptions } from './worker/worker-process';
export { bundleWorkflows, parseQueueSpec, type QueueCapacity } from './worker/workers';
export { openApplication, type AppResources } from './worker/app-resources';
export { openDatabase, type DatabaseOptions, type OpenDatabase } from './db/database';
export type { AppMigrations, Dialect } from './db/migrations';
export { keepAlive } from './worker/heartbeat';
export {
  ClientError,
  ConnectionFailedError,
  ExternalServiceError,
  NetworkTimeoutError,
  RateLimitedError,
  ServerError,
  type ExternalErrorType,
} from './sandbox/external-errors';
export { createJobLogger } from './instrumentation/logger';
