import { ApplicationFailure } from '@temporalio/common';

/**
 * Every failure type this project gives Temporal, defined once. Temporal records the type with the failure, matches it
 * against `nonRetryableErrorTypes`, and `jobctl dead --error <type>` filters by it: never rename one. Pure module:
 * workflow code (retry tables, argument validation) reads it too.
 */
export const ErrorType = {
  /** An external service did not answer in time. */
  NetworkTimeout: 'NetworkTimeout',
  /** An external service answered HTTP 429. */
  RateLimited: 'RateLimited',
  /** An external service answered 4xx (other than 429): the request itself is wrong. */
  ClientError: 'ClientError',
  /** An external service answered 5xx. */
  ServerError: 'ServerError',
  /** No HTTP answer at all: connection refused or reset. */
  ConnectionFailed: 'ConnectionFailed',
  /** The record a job works on does not exist: retrying cannot help. */
  RecordNotFound: 'RecordNotFound',
  /** A run's arguments failed its job's schema at the workflow's door. */
  InvalidJobArguments: 'InvalidJobArguments',
  /** A large export had failed slices and its policy is to fail. */
  ExportSlicesFailed: 'ExportSlicesFailed',
  /**
   * The job had not started by its deadline (`expiresAfter`) and was dropped without running. Not a failure of the job:
   * `JobClient` shows it as status `Expired`, and dead letters and failure rates leave it out.
   */
  JobExpired: 'JobExpired',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** The failure an activity throws for a missing record: non-retryable under any policy. */
export function recordNotFound(what: string, id: number): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`${what} ${id} does not exist`, ErrorType.RecordNotFound);
}
