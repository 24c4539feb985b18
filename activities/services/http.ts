import {
  ClientError,
  ConnectionFailedError,
  NetworkTimeoutError,
  RateLimitedError,
  ServerError,
} from 'durable-jobs/worker';

export interface ServiceEndpoint {
  /** Service name in errors and logs, e.g. `vendor-api`. */
  service: string;
  baseUrl: string;
  /** Per-request timeout. @default 5000 ms */
  timeoutMs?: number;
}

/**
 * POSTs JSON to an external service with an `Idempotency-Key`, so a retried call is applied once, and turns every
 * failure into the typed error the retry tables know: timeout, 429 (with its Retry-After), 4xx, 5xx, no connection.
 * `signal` (an activity's cancellation signal) aborts the request: the call then rejects with the signal's reason, not
 * with a typed error, so a cancellation is never mistaken for a failure to retry.
 */
export async function postIdempotent<T>(
  endpoint: ServiceEndpoint,
  path: string,
  body: unknown,
  idempotencyKey: string,
  signal?: AbortSignal,
): Promise<T> {
  const { service } = endpoint;
  const timeoutMs = endpoint.timeoutMs ?? 5000;
  const isTimeout = (err: unknown) => (err as Error).name === 'TimeoutError';
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${endpoint.baseUrl.replace(/\/+$/, '')}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (isTimeout(err)) throw new NetworkTimeoutError(service, timeoutMs);
    const code = (err as { cause?: { code?: string } }).cause?.code;
    throw new ConnectionFailedError(service, code, { cause: err });
  }
  if (response.status === 429)
    throw new RateLimitedError(service, parseRetryAfter(response.headers.get('retry-after')));
  if (response.status >= 400 && response.status < 500)
    throw new ClientError(service, response.status, text.slice(0, 200));
  if (response.status >= 500) throw new ServerError(service, response.status, text.slice(0, 200));
  return JSON.parse(text) as T;
}

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
