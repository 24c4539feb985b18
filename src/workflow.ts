/**
 * `durable-jobs/workflow`: what workflow code may import. Everything here is safe inside Temporal's deterministic
 * workflow sandbox (no Node built-ins, no I/O, no clock but the workflow API's), and is also what a job's declaration
 * needs, since a job is declared in its workflow file.
 */
export {
  databaseActivity,
  defineJob,
  recordId,
  type DeclaredJob,
  type JobArgs,
  type JobDefinition,
  type JobSchedule,
  type JobVersioning,
  setWorkflowVersioning,
  type PriorityKey,
  type RateLimit,
  type ScheduleOverlap,
} from './sandbox/job-definition';
export { proxyJobActivities } from './sandbox/job-activities';
export { compileRetryPolicy, seconds, type RetryRule, type RetryTable, type RetryDelay } from './sandbox/retry-rules';
export { ErrorType, recordNotFound } from './sandbox/error-types';
export { computeProgress, PROGRESS_QUERY, type JobProgress } from './sandbox/progress';
export { isoDate, parseIsoDate, tryParseIsoDate } from './sandbox/iso-date';
export type { SafeObject, SafeValue } from './sandbox/safe-arguments';
export type { Priority } from './sandbox/queues';
export type { JobDebounce } from './sandbox/debounce';
export type { ConcurrencyLimit } from './sandbox/concurrency';
export type { JobFairness } from './sandbox/fairness';
