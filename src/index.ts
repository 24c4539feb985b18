/**
 * `durable-jobs`: declaring jobs and starting them. An application declares its jobs in its workflow files (with
 * `durable-jobs/workflow`, the same `defineJob`), describes itself once with `defineApplication` (its `app.ts`), and
 * starts, inspects, retries and cancels runs with `JobClient`. Worker processes are in `durable-jobs/worker`; tests in
 * `durable-jobs/testing`.
 */
export * from './workflow';
export {
  defineApplication,
  findApplicationModule,
  loadApplication,
  type ActivityContext,
  type Application,
  type DevOptions,
  type DevServices,
} from './application';
export {
  JOB_STATUSES,
  JobClient,
  type CancelManyFilter,
  type CancelManyResult,
  type CancelResult,
  type DeadJob,
  type EnqueueOptions,
  type EnqueueResult,
  type JobClientOptions,
  type JobRunStatus,
  type JobRunSummary,
  type JobStatus,
  type RetryResult,
} from './client/client';
export { findJob, findJobOrThrow, jobs } from './sandbox/jobs';
export { readSettings, DEFAULT_SETTINGS, type Settings } from './config';
export { PRIORITIES } from './sandbox/queues';
export { InvalidJobArgumentsError, type ArgumentIssue } from './sandbox/safe-arguments';
export {
  InvalidEnqueueOptionError,
  JobNotFoundError,
  TemporalUnavailableError,
  UnknownJobError,
} from './sandbox/errors';
