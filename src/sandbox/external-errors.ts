/**
 * Typed errors for calls to external services. Activity code throws these; the job's retry table (retry-rules.ts)
 * decides per type what happens next. Each `type` is the stable string Temporal records as the failure type and
 * matches against `nonRetryableErrorTypes`; the strings are defined once in error-types.ts.
 */
import { ErrorType } from './error-types';

/** The failure types of external calls; each class below carries one. */
export type ExternalErrorType = Exclude<ErrorType, 'RecordNotFound' | 'InvalidJobArguments' | 'ExportSlicesFailed'>;

export abstract class ExternalServiceError extends Error {
  abstract readonly type: ExternalErrorType;
  constructor(
    /** Which service failed, e.g. `vendor-api`. */
    readonly service: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Thrown when the service did not answer within the client's timeout. The request may or may not have been applied. */
export class NetworkTimeoutError extends ExternalServiceError {
  readonly type = ErrorType.NetworkTimeout;
  override readonly name = 'NetworkTimeoutError';
  constructor(
    service: string,
    readonly timeoutMs: number,
  ) {
    super(service, `${service} did not answer within ${timeoutMs} ms`);
  }
}

/** Thrown on HTTP 429. `retryAfterMs` is what the service's Retry-After header asked for, when it sent one. */
export class RateLimitedError extends ExternalServiceError {
  readonly type = ErrorType.RateLimited;
  override readonly name = 'RateLimitedError';
  constructor(
    service: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(
      service,
      `${service} rate-limited the request${retryAfterMs === undefined ? '' : `; retry after ${retryAfterMs} ms`}`,
    );
  }
}

/** Thrown on HTTP 4xx other than 429: the request itself is wrong, so retrying rarely helps. */
export class ClientError extends ExternalServiceError {
  readonly type = ErrorType.ClientError;
  override readonly name = 'ClientError';
  constructor(
    service: string,
    readonly status: number,
    detail: string,
  ) {
    super(service, `${service} rejected the request with HTTP ${status}: ${detail}`);
  }
}

/** Thrown on HTTP 5xx. */
export class ServerError extends ExternalServiceError {
  readonly type = ErrorType.ServerError;
  override readonly name = 'ServerError';
  constructor(
    service: string,
    readonly status: number,
    detail: string,
  ) {
    super(service, `${service} failed with HTTP ${status}: ${detail}`);
  }
}

/** Thrown when no HTTP answer came back at all: connection refused or reset. */
export class ConnectionFailedError extends ExternalServiceError {
  readonly type = ErrorType.ConnectionFailed;
  override readonly name = 'ConnectionFailedError';
  constructor(
    service: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(service, `connection to ${service} failed${code ? ` (${code})` : ''}`, options);
  }
}

/**
 * The error a retry rule receives for each type it can name: a rule for `RateLimited` gets a `RateLimitedError`
 * (with its `retryAfterMs`) without a cast.
 */
export interface ErrorsByType {
  NetworkTimeout: NetworkTimeoutError;
  RateLimited: RateLimitedError;
  ClientError: ClientError;
  ServerError: ServerError;
  ConnectionFailed: ConnectionFailedError;
  RecordNotFound: Error;
}
export type RetryableErrorType = keyof ErrorsByType;
